import { type ChildProcess, execFile, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { SAMPLE_PAYLOAD_KEY, signedHeaders } from "@engage-bridge/testkit";
import { parseConfig } from "../config/load.ts";
import { BUILTIN_CONNECTORS } from "../connectors/builtin.ts";
import { type AnyConnector, makeRegistry } from "../connectors/registry.ts";
import type { SourceRuntime } from "../delivery/connector-worker.ts";
import { type Gateway, type Role, startGateway } from "../gateway.ts";
import { createLogger } from "../logger.ts";

export const TEST_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
export const OTHER_SECRET = "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD";
export const GATEWAY_DIR = fileURLToPath(new URL("../../", import.meta.url));
export const CLI_ENTRY = join(GATEWAY_DIR, "src", "cli.ts");

const execFileAsync = promisify(execFile);

export interface CliResult {
  /** The exit code; null when the process was killed by a signal (e.g. at `timeoutMs`). */
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `node CLI_ENTRY ...args` as a real child process (Node strips the TypeScript types), with
 * `env` added to this process's environment and ENGAGE_BRIDGE_CONFIG cleared unless `env` sets it.
 * Resolves with the exit code and output whatever the code; never rejects on a non-zero exit. After
 * `timeoutMs` (default: none) the child is SIGKILLed and `code` is null.
 */
export async function runCli(
  args: readonly string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<CliResult> {
  try {
    const { stdout, stderr } = await execFileAsync(process.execPath, [CLI_ENTRY, ...args], {
      cwd: options.cwd,
      env: { ...process.env, ENGAGE_BRIDGE_CONFIG: "", ...options.env },
      timeout: options.timeoutMs,
      killSignal: "SIGKILL",
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code?: unknown; signal?: unknown; stdout?: string; stderr?: string };
    // Not an exit (node not found, output over maxBuffer, ...): a failure of the test itself.
    if (typeof e.code !== "number" && typeof e.signal !== "string") throw error;
    return {
      code: typeof e.code === "number" ? e.code : null,
      stdout: e.stdout ?? "",
      stderr: e.stderr ?? "",
    };
  }
}

export function tempDir(prefix = "engage-gw-"): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

/** Collects pino's JSON lines in memory, for assertions on what was logged. */
export function logCapture(options: { refuse?: RegExp } = {}) {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(...String(chunk).split("\n").filter(Boolean));
      done();
    },
  });
  const { refuse } = options;
  // A log that fails on some lines (a full disk, a closed pipe): pino's write throws to its caller.
  const refusing = refuse && {
    write(line: string) {
      if (refuse.test(line)) throw new Error("the log refused a line");
      destination.write(line);
    },
  };
  return { lines, logger: createLogger({ level: "debug", destination: refusing || destination }) };
}

export interface TestGateway extends Gateway {
  dir: string;
  logs: string[];
  /** Posts a body signed with `secret` (default TEST_SECRET) to /webhooks/<source>. */
  post(body: string | Buffer, options?: PostOptions): Promise<Response>;
  stop(): Promise<void>;
}

export interface PostOptions {
  source?: string;
  secret?: string;
  msgId?: string;
  timestamp?: number;
  headers?: Record<string, string>;
  /** Send no signature headers at all. */
  unsigned?: boolean;
}

let counter = 0;
export const newMsgId = () => `msg_test_${process.pid}_${Date.now()}_${++counter}`;

export function signed(body: string | Buffer, options: PostOptions = {}): Record<string, string> {
  if (options.unsigned) return {};
  return signedHeaders(options.secret ?? TEST_SECRET, options.msgId ?? newMsgId(), body.toString(), {
    timestamp: options.timestamp,
  });
}

/**
 * Sandbox mode's source for a test gateway: signed by TEST_SECRET, the sample payload key, and the
 * given fake Engage API for contact lookups (the recommended setup: Engage's current values).
 */
export const sandboxLikeSources = (engage: { url: string; apiKey: string }) => ({
  engage: {
    signingSecrets: [TEST_SECRET],
    payloadKey: SAMPLE_PAYLOAD_KEY,
    engageApi: { baseUrl: engage.url, apiKey: engage.apiKey },
  },
});

/**
 * Starts a real gateway on a random port with a temporary SQLite store. `config` is merged over a
 * minimal config with one source `engage` signed by TEST_SECRET.
 */
export async function startTestGateway(
  config: Record<string, unknown> = {},
  options: {
    connectors?: readonly AnyConnector[];
    sources?: Map<string, SourceRuntime>;
    role?: Role;
    /** Log lines matching this make the logger throw. */
    refuseLogLines?: RegExp;
  } = {},
): Promise<TestGateway> {
  const dir = tempDir();
  const { lines, logger } = logCapture({ refuse: options.refuseLogLines });
  const base = {
    server: { host: "127.0.0.1", port: 0 },
    store: `sqlite:${join(dir.path, "test.db")}`,
    sources: { engage: { signingSecrets: [TEST_SECRET] } },
  };
  const merged = {
    ...base,
    ...config,
    server: { ...base.server, ...(config.server as object | undefined) },
    delivery: {
      pollIntervalMs: 20,
      retryBaseSeconds: 0.02,
      retryMaxSeconds: 0.2,
      ...(config.delivery as object | undefined),
    },
  };
  // Extra connectors replace built-in ones of the same name (a connector package under test).
  const extra = options.connectors ?? [];
  const names = new Set(extra.map((c) => c.name));
  const registry = makeRegistry([...BUILTIN_CONNECTORS.filter((c) => !names.has(c.name)), ...extra]);
  const parsed = parseConfig(JSON.stringify(merged), "(test)", { registry, env: {} });
  const gateway = await startGateway({
    config: parsed,
    registry,
    logger,
    sources: options.sources,
    role: options.role,
  });
  return {
    ...gateway,
    dir: dir.path,
    logs: lines,
    post(body, options = {}) {
      return fetch(`${gateway.url}/webhooks/${options.source ?? "engage"}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...signed(body, options), ...options.headers },
        body,
      });
    },
    async stop() {
      await gateway.close();
      dir.remove();
    },
  };
}

/**
 * Writes the JSON config of a child gateway in `dir`: SQLite store `gw.db` there, source `engage`
 * signed by TEST_SECRET, on 127.0.0.1 (the port comes from PORT), merged with `extra`.
 */
export function writeChildConfig(
  dir: string,
  extra: Record<string, unknown> = {},
): { configFile: string; db: string } {
  const db = join(dir, "gw.db");
  const configFile = join(dir, "engage-bridge.json");
  const { server, ...rest } = extra;
  writeFileSync(
    configFile,
    JSON.stringify({
      server: { host: "127.0.0.1", ...(server as object | undefined) },
      store: `sqlite:${db}`,
      sources: { engage: { signingSecrets: [TEST_SECRET] } },
      ...rest,
    }),
  );
  return { configFile, db };
}

/** A TCP port free on 127.0.0.1 right now (for children that must keep their port across restarts). */
export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

export interface ChildGateway {
  child: ChildProcess;
  pid: number;
  url: string;
  output: () => string;
  /** Resolves with the exit code (or signal name). */
  exited: Promise<number | string>;
}

/**
 * Runs `engage-bridge start` as a real child process (Node strips the TypeScript types) and waits
 * until it listens. The port is fixed by the caller so that a restarted child keeps its URL.
 */
export async function spawnGateway(
  configFile: string,
  port: number,
  env: NodeJS.ProcessEnv = {},
  args: readonly string[] = [],
): Promise<ChildGateway> {
  const child = spawn(process.execPath, [CLI_ENTRY, "start", "--config", configFile, ...args], {
    env: { ...process.env, PORT: String(port), LOG_LEVEL: "warn", ...env },
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
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, url, () => output);
  return { child, pid: child.pid ?? -1, url, output: () => output, exited };
}

/**
 * Waits until a gateway child's `/readyz` answers 200. Throws, with what it wrote (`output`), when it
 * exits first or is not ready within 20 s (then it is killed).
 */
export async function waitUntilReady(child: ChildProcess, url: string, output: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null)
      throw new Error(`gateway exited early:\n${output()}`);
    try {
      const res = await fetch(`${url}/readyz`);
      if (res.ok) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new Error(`gateway did not become ready:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** Polls `check` until it returns a truthy value (or throws after `timeoutMs`). */
export async function waitFor<T>(
  check: () => T | Promise<T>,
  timeoutMs = 15_000,
  what = "condition",
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** SIGKILLs every child still running and waits for them all to exit (test clean-up). */
export async function killChildren(children: Set<ChildGateway>): Promise<void> {
  const running = [...children];
  children.clear();
  for (const gw of running) {
    if (gw.child.exitCode === null && gw.child.signalCode === null) gw.child.kill("SIGKILL");
  }
  await Promise.all(running.map((gw) => gw.exited));
}
