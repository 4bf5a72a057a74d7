import { type ChildProcess, spawn } from "node:child_process";
import { statSync } from "node:fs";
import { connect } from "node:net";
import { networkInterfaces } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { CLI_ENTRY, freePort, tempDir } from "./test-support/harness.ts";

interface Running {
  child: ChildProcess;
  port: number;
  output: () => string;
  exited: Promise<number | string>;
}

const running = new Set<Running>();
const dirs: (() => void)[] = [];
afterEach(async () => {
  const children = [...running];
  running.clear();
  for (const r of children)
    if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill("SIGKILL");
  await Promise.all(children.map((r) => r.exited));
  for (const remove of dirs.splice(0)) remove();
});

/** A non-loopback IPv4 address of this machine, if it has one. */
const externalIPv4 = Object.values(networkInterfaces())
  .flat()
  .find((a) => a && a.family === "IPv4" && !a.internal)?.address;

/** `engage-bridge start` in an empty directory (no config anywhere: sandbox mode), until it is ready. */
async function startSandbox(args: string[] = []): Promise<Running & { cwd: string }> {
  const dir = tempDir("engage-sandbox-");
  dirs.push(dir.remove);
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port), LOG_LEVEL: "warn" };
  delete env.ENGAGE_BRIDGE_CONFIG;
  delete env.NODE_ENV;
  const child = spawn(process.execPath, [CLI_ENTRY, "start", ...args], {
    cwd: dir.path,
    env,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout?.on("data", (d) => {
    output += d;
  });
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const exited = new Promise<number | string>((resolve) =>
    child.on("exit", (code, signal) => resolve(code ?? signal ?? -1)),
  );
  const r = { child, port, output: () => output, exited };
  running.add(r);
  const deadline = Date.now() + 20_000;
  // The banner is the last thing written once it listens.
  while (!output.includes("/sandbox")) {
    if (child.exitCode !== null) throw new Error(`sandbox exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`sandbox did not start:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { ...r, cwd: dir.path };
}

/** Whether a TCP connection to `host:port` is accepted. */
function accepts(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    socket.setTimeout(3_000);
    socket.once("connect", () => {
      socket.destroy();
      resolve(true);
    });
    socket.once("error", () => resolve(false));
    socket.once("timeout", () => {
      socket.destroy();
      resolve(false);
    });
  });
}

const mode = (path: string) => statSync(path).mode & 0o777;

describe("sandbox mode", () => {
  it("listens on 127.0.0.1 only and keeps its data directory and secret private", async () => {
    const sandbox = await startSandbox();
    expect(sandbox.output()).toContain(`listening     http://127.0.0.1:${sandbox.port}/webhooks/engage`);
    expect(await accepts("127.0.0.1", sandbox.port)).toBe(true);
    const local = await fetch(`http://127.0.0.1:${sandbox.port}/sandbox`);
    expect(local.status).toBe(200);
    expect(await local.json()).toHaveProperty("hubspot");
    // Bound to 127.0.0.1, not to every address: another loopback address (Linux routes all of
    // 127/8 to lo) and the machine's network address find nothing listening.
    if (process.platform === "linux") expect(await accepts("127.0.0.2", sandbox.port)).toBe(false);
    if (externalIPv4) expect(await accepts(externalIPv4, sandbox.port)).toBe(false);

    const data = join(sandbox.cwd, "data");
    expect(mode(data)).toBe(0o700);
    expect(mode(join(data, "sandbox-signing-secret"))).toBe(0o600);
    expect(mode(join(data, "engage-bridge.db"))).toBe(0o600);

    sandbox.child.kill("SIGTERM");
    expect(await sandbox.exited).toBe(0);
  });

  it.skipIf(!externalIPv4)(
    "with --host 0.0.0.0 it is reachable from the network, but /sandbox answers only on loopback",
    async () => {
      const sandbox = await startSandbox(["--host", "0.0.0.0"]);
      const remote = `http://${externalIPv4}:${sandbox.port}`;
      expect((await fetch(`${remote}/healthz`)).status).toBe(200);
      const refused = await fetch(`${remote}/sandbox`);
      expect(refused.status).toBe(404);
      expect(await refused.json()).toMatchObject({ error: "not_found" });
      // A forwarded header claiming loopback changes nothing: the socket decides.
      const forged = await fetch(`${remote}/sandbox`, {
        headers: { "x-forwarded-for": "127.0.0.1", "x-real-ip": "127.0.0.1" },
      });
      expect(forged.status).toBe(404);
      const local = await fetch(`http://127.0.0.1:${sandbox.port}/sandbox`);
      expect(local.status).toBe(200);
      expect(await local.json()).toHaveProperty("sendgrid");
    },
  );
});
