/**
 * Ingest benchmark: the real gateway against a minimal "verify and answer 204" Express app, in one run,
 * on loopback, with the same signed Engage payloads.
 *
 *   pnpm bench:ingest                       # from the repository root
 *   BENCH_DURATION=30 node apps/gateway/bench/ingest.ts
 *
 * Environment:
 *   BENCH_DURATION     seconds of measurement per target (default 10; no separate warm-up)
 *   BENCH_CONNECTIONS  concurrent keep-alive connections (default 64)
 *   BENCH_GATEWAY_NODE_OPTIONS  NODE_OPTIONS for the gateway child only, e.g.
 *                      "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it
 *
 * Every request carries a unique svix-id (the gateway deduplicates on it), a unique event id and a
 * signature made at send time. The gateway runs as `engage-bridge start` (a child process, types
 * stripped) with its durable SQLite store (WAL, synchronous=FULL, group commit) in a temp dir.
 * No connector is configured: `start` also runs the delivery workers, and the built-in connectors
 * refuse to start without real credentials; so events are stored without delivery rows and the
 * numbers are for ingest alone. Afterwards the SQLite file is read to check that the gateway stored
 * exactly as many events as it acknowledged.
 *
 * The goal printed at the end: gateway req/s ≥ 0.5 × baseline req/s and gateway p99 < 50 ms.
 * The exit code is 1 only when a check of correctness fails (non-2xx answers, stored ≠ acknowledged),
 * not when the goal is missed: timings on a shared machine are noisy.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { signWebhook } from "@engage-bridge/core";
import { SAMPLE_EVENT_TYPES, sampleEvent } from "@engage-bridge/testkit";
import autocannon from "autocannon";
import {
  freePort,
  spawnGateway,
  TEST_SECRET,
  tempDir,
  writeChildConfig,
} from "../src/test-support/harness.ts";

const DURATION = positiveNumber("BENCH_DURATION", 10);
const CONNECTIONS = Math.ceil(positiveNumber("BENCH_CONNECTIONS", 64));
const GOAL_RATIO = 0.5;
const GOAL_P99_MS = 50;
const SECRET = TEST_SECRET;
const SOURCE = "engage";
const BASELINE_ENTRY = fileURLToPath(new URL("./baseline-server.ts", import.meta.url));

const out = (text = "") => process.stdout.write(`${text}\n`);

function positiveNumber(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === "") return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) {
    process.stderr.write(`${name} must be a positive number, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

// ---------------------------------------------------------------------------------------------
// Payloads: realistic Engage bodies, one template per event type, with a unique event id and a
// random contact id (Engage contact ids are GUIDs; traffic spans many contacts) per request.

const ID_SLOT = "00000000-0000-4000-8000-0000000b0b0b";
const CONTACT_SLOT = "00000000-0000-4000-8000-00000000c0c0";
const TEMPLATES = SAMPLE_EVENT_TYPES.map((type) =>
  sampleEvent(type, { id: ID_SLOT, contactId: CONTACT_SLOT }),
);

/** Autocannon options that sign every request freshly (unique svix-id, current timestamp). */
function signedRequests(url: string, tag: string): autocannon.Options {
  let n = 0;
  return {
    url,
    method: "POST",
    connections: CONNECTIONS,
    duration: DURATION,
    headers: { "content-type": "application/json" },
    requests: [
      {
        setupRequest(req) {
          n += 1;
          const body = (TEMPLATES[n % TEMPLATES.length] as string)
            .replace(ID_SLOT, randomUUID())
            .replace(CONTACT_SLOT, randomUUID());
          const id = `msg_bench_${tag}_${n}`;
          const timestamp = Math.floor(Date.now() / 1000);
          req.body = body;
          req.headers = {
            ...req.headers,
            "svix-id": id,
            "svix-timestamp": String(timestamp),
            "svix-signature": signWebhook(SECRET, id, timestamp, body),
          };
          return req;
        },
      },
    ],
  };
}

interface Measured {
  name: string;
  rps: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  seconds: number;
  sent: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Cores busy during the measurement (Linux /proc only): the server, this process, everyone else. */
  cpu: CpuShare | undefined;
}

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc, so that a run disturbed by other work on a shared machine shows it.

const CLOCK_TICKS = 100; // USER_HZ; 100 on every mainstream Linux build

interface CpuSample {
  at: number;
  busy: number;
  self: number;
  server: number;
}

interface CpuShare {
  server: number;
  client: number;
  other: number;
}

function processTicks(pid: number | "self"): number {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

function cpuSample(serverPid: number | undefined): CpuSample | undefined {
  if (serverPid === undefined || !existsSync("/proc/stat")) return undefined;
  try {
    const [user, nice, system, , , irq, softirq, steal] = (
      readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
    )
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
    return { at: performance.now(), busy, self: processTicks("self"), server: processTicks(serverPid) };
  } catch {
    return undefined;
  }
}

function cpuShare(before: CpuSample | undefined, after: CpuSample | undefined): CpuShare | undefined {
  if (!before || !after) return undefined;
  const ticks = ((after.at - before.at) / 1000) * CLOCK_TICKS;
  const server = (after.server - before.server) / ticks;
  const client = (after.self - before.self) / ticks;
  return { server, client, other: Math.max(0, (after.busy - before.busy) / ticks - server - client) };
}

async function measure(
  name: string,
  url: string,
  tag: string,
  serverPid: number | undefined,
): Promise<Measured> {
  out(`→ ${name}: ${CONNECTIONS} connections, ${DURATION} s, POST ${url}`);
  const before = cpuSample(serverPid);
  const result = await autocannon(signedRequests(url, tag));
  const cpu = cpuShare(before, cpuSample(serverPid));
  const measured: Measured = {
    name,
    rps: result.requests.average,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    seconds: result.duration,
    sent: result.requests.sent,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    cpu,
  };
  out(
    `  ${fmt(measured.rps, 0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, ` +
      `${measured.ok} 2xx, ${measured.non2xx} non-2xx, ${measured.errors} errors in ${measured.seconds} s` +
      (cpu
        ? `; cores busy: server ${fmt(cpu.server, 2)}, load generator ${fmt(cpu.client, 2)}, ` +
          `other processes ${fmt(cpu.other, 2)}`
        : ""),
  );
  return measured;
}

const fmt = (n: number, digits = 1) =>
  n.toLocaleString("en-US", { minimumFractionDigits: digits, maximumFractionDigits: digits });

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const force = setTimeout(() => child.kill("SIGKILL"), 15_000);
    child.once("exit", () => {
      clearTimeout(force);
      resolve();
    });
    child.kill("SIGTERM");
  });
}

// ---------------------------------------------------------------------------------------------
// Targets

async function runBaseline(): Promise<Measured> {
  const port = await freePort();
  const child = spawn(process.execPath, [BASELINE_ENTRY], {
    env: { ...process.env, PORT: String(port), BENCH_SECRET: SECRET },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (d) => {
    output += d;
  });
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`baseline did not start:\n${output}`)), 20_000);
      child.stdout?.on("data", (d) => {
        output += d;
        if (output.includes("listening")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        reject(new Error(`baseline exited early:\n${output}`));
      });
    });
    return await measure(
      "baseline (Express raw + verify + 204)",
      `http://127.0.0.1:${port}/webhooks/${SOURCE}`,
      "b",
      child.pid,
    );
  } finally {
    await stopChild(child);
  }
}

interface GatewayRun extends Measured {
  stored: number;
  deliveries: number;
  acknowledged: number;
  duplicates: number;
}

/** Sums the samples of one Prometheus counter by the value of one label. */
function counterByLabel(metrics: string, name: string, label: string): Record<string, number> {
  const sums: Record<string, number> = {};
  for (const line of metrics.split("\n")) {
    if (!line.startsWith(`${name}{`)) continue;
    const value = Number(line.slice(line.lastIndexOf(" ") + 1));
    const key = new RegExp(`${label}="([^"]*)"`).exec(line)?.[1] ?? "";
    sums[key] = (sums[key] ?? 0) + value;
  }
  return sums;
}

async function runGateway(): Promise<GatewayRun> {
  const dir = tempDir("engage-bench-");
  // The child's config: SOURCE ("engage") signed with SECRET (TEST_SECRET), SQLite in the temp dir.
  const { configFile, db: dbFile } = writeChildConfig(dir.path);
  const port = await freePort();
  const childEnv: NodeJS.ProcessEnv = { LOG_LEVEL: "warn" };
  if (process.env.BENCH_GATEWAY_NODE_OPTIONS) childEnv.NODE_OPTIONS = process.env.BENCH_GATEWAY_NODE_OPTIONS;
  const gateway = await spawnGateway(configFile, port, childEnv);
  try {
    const measured = await measure(
      "gateway (engage-bridge start, SQLite FULL)",
      `${gateway.url}/webhooks/${SOURCE}`,
      "g",
      gateway.child.pid,
    );
    // What the gateway itself acknowledged, including answers the client dropped when it stopped.
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    const outcomes = counterByLabel(metrics, "engage_bridge_webhooks_accepted_total", "outcome");
    await stopChild(gateway.child);
    const db = new DatabaseSync(dbFile, { readOnly: true });
    try {
      const count = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
      return {
        ...measured,
        stored: count("SELECT COUNT(*) AS n FROM events"),
        deliveries: count("SELECT COUNT(*) AS n FROM deliveries"),
        acknowledged: outcomes.stored ?? 0,
        duplicates: outcomes.duplicate ?? 0,
      };
    } finally {
      db.close();
    }
  } finally {
    await stopChild(gateway.child);
    const unexpected = gateway
      .output()
      .split("\n")
      .filter((l) => l.trim());
    if (unexpected.length > 0) out(`  gateway output:\n    ${unexpected.slice(0, 20).join("\n    ")}`);
    dir.remove();
  }
}

// ---------------------------------------------------------------------------------------------

function table(rows: Measured[]): string {
  const header = ["target", "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "2xx", "non-2xx", "errors"];
  const withCpu = rows.every((r) => r.cpu);
  if (withCpu) header.push("server cpu", "client cpu", "other cpu");
  const body = rows.map((r) => [
    r.name.split(" ")[0] as string,
    fmt(r.rps, 0),
    String(r.p50),
    String(r.p90),
    String(r.p99),
    String(r.max),
    String(r.ok),
    String(r.non2xx),
    String(r.errors),
    ...(withCpu && r.cpu ? [fmt(r.cpu.server, 2), fmt(r.cpu.client, 2), fmt(r.cpu.other, 2)] : []),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => (row[i] ?? "").length)));
  return [header, ...body]
    .map((row) =>
      row
        .map((cell, i) => (i === 0 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0)))
        .join("  "),
    )
    .join("\n");
}

const withCpuNote = (rows: Measured[]) => rows.some((r) => (r.cpu?.other ?? 0) >= 0.25);

async function main(): Promise<number> {
  out(
    `engage-bridge ingest benchmark — node ${process.version}, ${CONNECTIONS} connections, ${DURATION} s per target`,
  );
  const baseline = await runBaseline();
  const gateway = await runGateway();

  const ratio = gateway.rps / baseline.rps;
  const ratioOk = ratio >= GOAL_RATIO;
  const p99Ok = gateway.p99 < GOAL_P99_MS;

  out();
  out(table([baseline, gateway]));
  out();
  out(`ratio gateway/baseline req/s: ${fmt(ratio, 2)} (goal ≥ ${GOAL_RATIO}) ${ratioOk ? "ok" : "MISSED"}`);
  out(`gateway p99: ${gateway.p99} ms (goal < ${GOAL_P99_MS} ms) ${p99Ok ? "ok" : "MISSED"}`);
  out(`goal: ${ratioOk && p99Ok ? "HOLDS" : "NOT MET"}`);
  if (withCpuNote([baseline, gateway]))
    out("note: other processes used ≥ 0.25 cores during a measurement; the machine was not quiet");

  // Correctness: every acknowledged event is in the file, nothing else is, nothing was refused.
  // The client's 2xx count can be lower than the gateway's by the requests still in flight when
  // autocannon stopped (their answers were sent after it closed the sockets); never higher.
  const inFlight = gateway.sent - gateway.ok - gateway.non2xx;
  const problems: string[] = [];
  if (baseline.non2xx > 0 || baseline.errors > 0)
    problems.push(`baseline: ${baseline.non2xx} non-2xx, ${baseline.errors} errors`);
  if (gateway.non2xx > 0) problems.push(`gateway answered ${gateway.non2xx} non-2xx`);
  if (gateway.duplicates > 0) problems.push(`gateway reported ${gateway.duplicates} duplicates`);
  if (gateway.stored !== gateway.acknowledged)
    problems.push(`stored ${gateway.stored} events but acknowledged ${gateway.acknowledged}`);
  if (gateway.stored < gateway.ok)
    problems.push(`stored ${gateway.stored} < ${gateway.ok} 2xx seen by client`);
  if (gateway.stored > gateway.ok + inFlight)
    problems.push(`stored ${gateway.stored} > ${gateway.ok} 2xx seen + ${inFlight} in flight`);
  out(
    `store check: ${gateway.stored} events (${gateway.deliveries} deliveries) in SQLite; gateway acknowledged ` +
      `${gateway.acknowledged}; client saw ${gateway.ok} 2xx + ${inFlight} in flight at stop → ` +
      (problems.length === 0 ? "ok" : "FAILED"),
  );
  for (const problem of problems) out(`  ✗ ${problem}`);
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    process.exit(1);
  },
);
