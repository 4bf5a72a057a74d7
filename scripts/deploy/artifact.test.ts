// The deploy artifact (dist/gateway/, from `pnpm build:deploy`) run as a user runs it: copied to a
// directory outside the repository and started with plain `node`, nothing else of the checkout in reach.
//
//   pnpm build:deploy && node --test scripts/deploy/
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

const ARTIFACT = fileURLToPath(new URL("../../dist/gateway", import.meta.url));
const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/** The contract: on SIGTERM the gateway drains and exits within 10 s. */
const SHUTDOWN_LIMIT_MS = 10_000;

let home: string;
let bin: string;

before(() => {
  assert.ok(existsSync(join(ARTIFACT, "bin", "engage-bridge.js")), "run `pnpm build:deploy` first");
  home = mkdtempSync(join(tmpdir(), "engage-bridge-deploy-"));
  cpSync(ARTIFACT, join(home, "app"), { recursive: true, verbatimSymlinks: true });
  bin = join(home, "app", "bin", "engage-bridge.js");
});
after(() => rmSync(home, { recursive: true, force: true }));

/** Plain node, a minimal environment: no pnpm, no repository on the module path. */
const baseEnv = (extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
  PATH: "/usr/bin:/bin",
  HOME: home,
  LOG_LEVEL: "warn",
  ...extra,
});

function cli(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    cwd,
    env: baseEnv(env),
    encoding: "utf8",
    timeout: 60_000,
  });
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer().listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject()));
    });
  });
}

async function waitFor<T>(probe: () => Promise<T | undefined> | T | undefined, what: string): Promise<T> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function start(args: string[], cwd: string, env: NodeJS.ProcessEnv = {}) {
  const child = spawn(process.execPath, [bin, "start", ...args], {
    cwd,
    env: baseEnv(env),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout.on("data", (d) => (output += d));
  child.stderr.on("data", (d) => (output += d));
  const exited = new Promise<{ code: number | null; signal: string | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, exited, output: () => output };
}

/** SIGTERM, then the exit: code 0 within the contract's 10 s, else the process is killed and it fails. */
async function stopWithin(child: ChildProcess, exited: Promise<{ code: number | null }>) {
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), SHUTDOWN_LIMIT_MS);
  const { code } = await exited;
  clearTimeout(timer);
  assert.equal(code, 0, "exit 0 within 10 s of SIGTERM");
}

const ready = (port: number) => async () => {
  try {
    return (await fetch(`http://127.0.0.1:${port}/readyz`)).ok ? true : undefined;
  } catch {
    return undefined;
  }
};

describe("the deploy artifact, copied outside the repository", () => {
  it("runs with a config: stores a signed sample, then drains and exits 0 on SIGTERM", async () => {
    const dir = mkdtempSync(join(home, "vm-"));
    const port = await freePort();
    const config = join(dir, "engage-bridge.yaml");
    writeFileSync(
      config,
      [
        "server:",
        "  host: 127.0.0.1",
        "  port: ${PORT}",
        `store: sqlite:${join(dir, "data", "engage-bridge.db")}`,
        "sources:",
        "  engage:",
        '    signingSecrets: ["${ENGAGE_SIGNING_SECRET}"]',
        "",
      ].join("\n"),
    );
    const env = { NODE_ENV: "production", PORT: String(port), ENGAGE_SIGNING_SECRET: SECRET };
    const gateway = start(["--config", config], dir, env);
    try {
      await waitFor(ready(port), `the gateway on port ${port} (output: ${gateway.output()})`);
      const sent = cli(
        [
          "send-sample",
          "--url",
          `http://127.0.0.1:${port}/webhooks/engage`,
          "--secret",
          SECRET,
          "--type",
          "contact.acceptsEmail.changed",
        ],
        dir,
      );
      assert.equal(sent.status, 0, sent.stdout + sent.stderr);
      assert.match(sent.stdout, /1\/1 delivered/);
      const events = cli(["events", "--json", "--config", config], dir, env);
      assert.equal(events.status, 0, events.stderr);
      const rows = JSON.parse(events.stdout) as { type: string; status: string }[];
      assert.deepEqual(
        rows.map((r) => [r.type, r.status]),
        [["contact.acceptsEmail.changed", "accepted"]],
      );
    } finally {
      await stopWithin(gateway.child, gateway.exited);
    }
  });

  it("as PID 1 (a container's init), SIGTERM from outside still drains and exits 0 within 10 s", async (t) => {
    // A new PID namespace is what a container gives node: PID 1 gets only signals it handles.
    if (spawnSync("unshare", ["--pid", "--fork", "true"]).status !== 0) {
      t.skip("cannot create a PID namespace here (unshare --pid needs root or user namespaces)");
      return;
    }
    const dir = mkdtempSync(join(home, "pid1-"));
    const port = await freePort();
    const config = join(dir, "engage-bridge.yaml");
    writeFileSync(
      config,
      `server: { host: 127.0.0.1, port: ${port} }\nstore: sqlite:${join(dir, "gw.db")}\nsources: { engage: { signingSecrets: ["${SECRET}"] } }\n`,
    );
    const wrapper = spawn(
      "unshare",
      ["--pid", "--fork", "--kill-child", process.execPath, bin, "start", "--config", config],
      { cwd: dir, env: baseEnv({ NODE_ENV: "production" }), stdio: "ignore" },
    );
    const exited = new Promise<{ code: number | null }>((resolve) =>
      wrapper.on("exit", (code) => resolve({ code })),
    );
    try {
      await waitFor(ready(port), "the gateway as PID 1");
      // node, unshare's child: PID 1 inside its namespace (the last NSpid field).
      const pid = Number(readFileSync(`/proc/${wrapper.pid}/task/${wrapper.pid}/children`, "utf8").trim());
      const nspid = /^NSpid:\s+(.*)$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1]?.split(/\s+/);
      assert.equal(nspid?.at(-1), "1", "node runs as PID 1 in its namespace");
      process.kill(pid, "SIGTERM");
      const timer = setTimeout(() => process.kill(pid, "SIGKILL"), SHUTDOWN_LIMIT_MS);
      const { code } = await exited;
      clearTimeout(timer);
      assert.equal(code, 0, "exit 0 within 10 s of SIGTERM, as PID 1");
    } finally {
      wrapper.kill("SIGKILL");
    }
  });

  it("runs sandbox mode without a config outside production, to a delivered event", async () => {
    const dir = mkdtempSync(join(home, "sandbox-"));
    const port = await freePort();
    const gateway = start([], dir, { PORT: String(port) });
    try {
      await waitFor(ready(port), "the sandbox");
      assert.match(gateway.output(), /SANDBOX MODE/);
      const sent = cli(["send-sample", "--url", `http://127.0.0.1:${port}/webhooks/engage`], dir);
      assert.equal(sent.status, 0, sent.stdout + sent.stderr);
      const delivered = await waitFor(() => {
        const list = cli(["deliveries", "--json"], dir);
        const rows = JSON.parse(list.stdout || "[]") as { status: string }[];
        return rows.length > 0 && rows.every((r) => r.status === "delivered") ? rows : undefined;
      }, "delivered sandbox deliveries");
      assert.ok(delivered.length >= 7);
    } finally {
      await stopWithin(gateway.child, gateway.exited);
    }
  });

  it("refuses to start without a config file when NODE_ENV=production", () => {
    const dir = mkdtempSync(join(home, "prod-"));
    const result = cli(["start"], dir, { NODE_ENV: "production" });
    assert.equal(result.status, 1);
    assert.match(result.stderr, /no config file, and NODE_ENV=production refuses sandbox mode/);
    assert.equal(existsSync(join(dir, "data")), false, "nothing written");
  });
});
