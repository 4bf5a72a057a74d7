import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";
import { turnDestination } from "./log-destination.ts";

const execFileAsync = promisify(execFile);
const nextTurn = () => new Promise((resolve) => setImmediate(resolve));

function recordingTarget() {
  const writes: string[] = [];
  return { writes, target: { write: (chunk: string) => writes.push(chunk) } };
}

describe("turnDestination", () => {
  it("writes a turn's lines once the turn ends, in one write and in order", async () => {
    const { writes, target } = recordingTarget();
    const destination = turnDestination(target);
    for (let i = 0; i < 40; i++) destination.write(`line ${i}\n`);
    expect(writes).toEqual([]);
    await nextTurn();
    expect(writes).toEqual([Array.from({ length: 40 }, (_, i) => `line ${i}\n`).join("")]);
  });

  it("gives each turn its own write and writes nothing for a quiet one", async () => {
    const { writes, target } = recordingTarget();
    const destination = turnDestination(target);
    destination.write("a\n");
    await nextTurn();
    await nextTurn();
    destination.write("b\n");
    destination.write("c\n");
    await nextTurn();
    expect(writes).toEqual(["a\n", "b\nc\n"]);
  });

  it("writes what it holds at once on flushSync and flush, and nothing twice", async () => {
    const { writes, target } = recordingTarget();
    const destination = turnDestination(target);
    destination.write("a\n");
    destination.flushSync();
    expect(writes).toEqual(["a\n"]);
    destination.write("b\n");
    const flushed = await new Promise((resolve) => destination.flush(resolve));
    expect(flushed).toBeUndefined();
    await nextTurn();
    expect(writes).toEqual(["a\n", "b\n"]);
  });

  it("hands a failed write's error to flush's callback", async () => {
    const destination = turnDestination({
      write: () => {
        throw new Error("disk full");
      },
    });
    destination.write("a\n");
    const error = await new Promise((resolve) => destination.flush(resolve));
    expect((error as Error).message).toBe("disk full");
  });
});

// Real processes: what a gateway logged in its last turn reaches standard output when it exits.
describe("the default logger's standard output", () => {
  const logger = join(import.meta.dirname, "logger.ts");
  const run = (code: string) =>
    execFileAsync(process.execPath, ["--input-type=module", "-e", code], { encoding: "utf8" }).catch(
      (error: { stdout: string; stderr: string; code: number }) => error,
    );

  it("writes every line of the last turn before process.exit", async () => {
    const { stdout } = await run(
      `import { createLogger } from ${JSON.stringify(logger)};
       const log = createLogger();
       for (let i = 0; i < 500; i++) log.info({ i }, "line");
       process.exit(0);`,
    );
    const lines = stdout
      .split("\n")
      .filter(Boolean)
      .map((line) => JSON.parse(line));
    expect(lines.map((line) => line.i)).toEqual(Array.from({ length: 500 }, (_, i) => i));
  });

  it("writes the lines before an uncaught exception ends the process", async () => {
    const result = await run(
      `import { createLogger } from ${JSON.stringify(logger)};
       const log = createLogger();
       log.info("before the crash");
       setImmediate(() => { log.warn("in the crashing turn"); throw new Error("boom"); });`,
    );
    const { stdout, stderr } = result;
    expect((result as { code?: number }).code).toBe(1);
    expect(stderr).toContain("boom");
    expect(
      stdout
        .split("\n")
        .filter(Boolean)
        .map((line) => JSON.parse(line).msg),
    ).toEqual(["before the crash", "in the crashing turn"]);
  });
});
