/**
 * Ingest benchmark: the real gateway against two "verify and answer 204" servers, in one run, on
 * loopback, with the same load and the same signed Engage payloads. Each target is its own child
 * process; they are measured in turns (BENCH_ROUNDS rounds, each giving every target
 * BENCH_DURATION / BENCH_ROUNDS seconds), so that a change in the machine's speed meets them all:
 *
 *   1. bare     bench/bare-server.ts: `node:http` reads the body, verifies with `createVerifier` from
 *               @engage-bridge/core, answers 204. The physical limit for Node on this machine.
 *   2. express  bench/baseline-server.ts: the same in Express 5 (`express.raw`), the older baseline.
 *   3. gateway  `engage-bridge start` on SQLite; with --store postgres also the PostgreSQL gateways.
 *
 *   pnpm bench:ingest                                       # from the repository root: SQLite
 *   pnpm bench:ingest --store postgres --replicas 1,2,3     # SQLite, then PostgreSQL with 1, 2, 3 replicas
 *   BENCH_DURATION=30 node apps/gateway/bench/ingest.ts
 *
 * Options:
 *   --store sqlite|postgres  sqlite (default): bare, express and one gateway on SQLite.
 *                      postgres: the same three, then for each replica count N a fresh schema on a
 *                      throwaway PostgreSQL cluster (initdb/pg_ctl, as the tests start it; or
 *                      TEST_DATABASE_URL) and N gateway processes `start --role ingest` on it, on
 *                      N ports; the load is split over them (one autocannon instance per replica,
 *                      all at once, the same total connections).
 *   --replicas 1,2,3   the replica counts to measure with --store postgres (default 1,2,3).
 *
 * Environment:
 *   BENCH_DURATION     seconds of measurement per target (default 10), in BENCH_ROUNDS turns
 *   BENCH_ROUNDS       rounds (default 5; fewer when a round would be shorter than 1 s): in each,
 *                      bare, express and the SQLite gateway get their share one after the other
 *                      (with --store postgres, then bare and each PostgreSQL replica count). A ratio
 *                      to bare is the median of its rounds' ratios: on this shared 2-core machine
 *                      bare alone did 7,000 to 14,000 req/s minutes apart
 *   BENCH_WARMUP       seconds of the same load before it, not measured (default 3; 0: none): the
 *                      first seconds of a fresh process run cold code (JIT), and a long-running
 *                      gateway is measured in its steady state. The same for every target.
 *   BENCH_CONNECTIONS  concurrent keep-alive connections per target, in total (default 64)
 *   BENCH_LOG_LEVEL    LOG_LEVEL for the gateways (default: unset, i.e. the gateway's default, info,
 *                      which writes one line per stored event); e.g. warn to see what logging costs
 *   BENCH_GATEWAY_ENTRY  dist (default): the gateways run the built dist/cli.js, as bin/engage-bridge.js
 *                      runs it in production (`pnpm bench:ingest` builds it first; a dist older than
 *                      src is refused); src: src/cli.ts, types stripped by Node (~30 MB more RSS)
 *   BENCH_GATEWAY_NODE_OPTIONS  NODE_OPTIONS for the gateway children only, e.g.
 *                      "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile them
 *   BENCH_GATEWAY_NODE_ARGS  Node and V8 flags for the gateway children's command line, before the
 *                      entry, space-separated, instead of the default: the server's flags
 *                      (SERVER_NODE_FLAGS in src/heap-tuning.ts, as the Dockerfile and the systemd
 *                      unit pass them). "" runs without them; flags NODE_OPTIONS refuses (--trace-gc) go here
 *   PG_BIN, TEST_DATABASE_URL   where PostgreSQL is (see src/test-support/postgres.ts)
 *
 * Every request carries a unique svix-id (the gateway deduplicates on it), a unique event id and a
 * signature made at send time. The gateways run as `engage-bridge start` (child processes, at the
 * default log level unless BENCH_LOG_LEVEL is set), their stdout and stderr (the pino log, one line
 * per stored event at info) going to a file in their temp dir, as a log collector would take it, not
 * through a pipe to the load generator: on SQLite with its durable store (WAL,
 * synchronous=FULL, group commit) in a temp dir; on PostgreSQL with `synchronous_commit` on (the
 * store never lowers it) and group commit per process. No connector is configured: the built-in
 * connectors refuse to start without real credentials; so events are stored without delivery rows
 * and the numbers are for ingest alone. Afterwards the store is read to check that the gateways
 * stored exactly as many events as they acknowledged, each event id once, and every svix-id the
 * client saw acknowledged. From the same /metrics, the gateways' garbage collections over their life
 * are printed (mark-compacts, scavenges, pause time per 1,000 events): a gateway whose requests
 * reach the old generation shows many mark-compacts.
 *
 * Columns, per target: req/s (the mean of its rounds), p50/p90/p99/max latency (autocannon, whole
 * ms, over all rounds), the ratio of its req/s to bare's and to express's (the median of the
 * rounds' ratios), the peak resident set of its process (Linux: VmHWM from
 * /proc/<pid>/status, since the process started; elsewhere the largest `ps -o rss=` seen during the
 * measurement; with several replicas the largest of them), and the CPU time its process(es) used
 * during the measured window (utime + stime from /proc/<pid>/stat in CLK_TCK ticks, or `ps -o time=`)
 * per 1,000 requests answered 2xx, i.e. per 1,000 events for a gateway. On Linux also the share of
 * cores used by the server(s), PostgreSQL, the load generator (this process) and everyone else.
 *
 * The goals printed at the end (issue #16, at 64 connections with the default log level):
 * SQLite gateway req/s ≥ 0.7 × bare req/s, gateway p99 < 25 ms, gateway peak RSS < 150 MB; with
 * --store postgres, PostgreSQL gateway(s) req/s ≥ 0.5 × bare req/s (one line per replica count).
 * The exit code is 1 only when a check of correctness fails (non-2xx answers, stored ≠ acknowledged),
 * not when a goal is missed (PASS/MISS): timings on a shared machine are noisy.
 */
import { type ChildProcess, execFile, execFileSync, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import {
  closeSync,
  createReadStream,
  existsSync,
  openSync,
  readdirSync,
  readFileSync,
  statSync,
} from "node:fs";
import { join, relative } from "node:path";
import { createInterface } from "node:readline";
import { DatabaseSync } from "node:sqlite";
import { fileURLToPath } from "node:url";
import { parseArgs, promisify } from "node:util";
import { signWebhook } from "@engage-bridge/core";
import { SAMPLE_EVENT_TYPES, sampleEvent } from "@engage-bridge/testkit";
import autocannon from "autocannon";
import { SERVER_NODE_FLAGS } from "../src/heap-tuning.ts";
import {
  CLI_ENTRY,
  freePort,
  GATEWAY_DIR,
  TEST_SECRET,
  tempDir,
  waitUntilReady,
  writeChildConfig,
} from "../src/test-support/harness.ts";
import { startTestPostgres, type TestPostgres } from "../src/test-support/postgres.ts";

const DURATION = positiveNumber("BENCH_DURATION", 10);
const WARMUP = process.env.BENCH_WARMUP?.trim() === "0" ? 0 : positiveNumber("BENCH_WARMUP", 3);
const CONNECTIONS = Math.ceil(positiveNumber("BENCH_CONNECTIONS", 64));
/**
 * Rounds per target: the targets measured together take turns, DURATION / ROUNDS seconds each,
 * ROUNDS times (see measureInTurns); no round is shorter than a second.
 */
const ROUNDS = Math.max(1, Math.min(Math.floor(positiveNumber("BENCH_ROUNDS", 5)), Math.floor(DURATION)));
/** The newest modification time of a file under `dir` (ms). */
function newestUnder(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(join(entry.parentPath, entry.name)).mtimeMs);
  }
  return newest;
}

/**
 * What the gateway children run: dist (default) is the built `dist/cli.js` that
 * `bin/engage-bridge.js` runs in production (`pnpm bench:ingest` builds it first); src is
 * `src/cli.ts` with types stripped by Node, as the tests run it (the type stripper holds ~30 MB of
 * RSS more). A dist older than src is refused: it would measure other code than the checkout's.
 */
const GATEWAY_ENTRY = (() => {
  const which = process.env.BENCH_GATEWAY_ENTRY || "dist";
  if (which === "src") return CLI_ENTRY;
  if (which === "dist") {
    const built = join(GATEWAY_DIR, "dist", "cli.js");
    if (!existsSync(built) || statSync(built).mtimeMs < newestUnder(join(GATEWAY_DIR, "src"))) {
      process.stderr.write(
        `${built} is missing or older than src/: run \`pnpm --filter @engage-bridge/gateway build\` ` +
          "(pnpm bench:ingest does), or BENCH_GATEWAY_ENTRY=src\n",
      );
      process.exit(2);
    }
    return built;
  }
  process.stderr.write(`BENCH_GATEWAY_ENTRY must be dist or src, got ${JSON.stringify(which)}\n`);
  process.exit(2);
})();
/**
 * Node flags on the gateway children's command line: by default the server's (SERVER_NODE_FLAGS,
 * as the Dockerfile and the systemd unit pass them); BENCH_GATEWAY_NODE_ARGS replaces them, e.g. ""
 * to measure without them, or "--max-semi-space-size=8 --trace-gc" (flags NODE_OPTIONS refuses).
 */
const GATEWAY_NODE_ARGS =
  process.env.BENCH_GATEWAY_NODE_ARGS === undefined
    ? SERVER_NODE_FLAGS
    : process.env.BENCH_GATEWAY_NODE_ARGS.split(" ").filter(Boolean);
/** LOG_LEVEL for the gateways; undefined: not set, the gateway's own default (info). */
const LOG_LEVEL = process.env.BENCH_LOG_LEVEL || undefined;
const DEFAULT_LOG_LEVEL = "info";
// Goals of issue #16 ("Ingest at 0.7× a bare verify-only server, durably").
const GOAL_CONNECTIONS = 64;
const GOAL_BARE_RATIO = 0.7;
const GOAL_P99_MS = 25;
const GOAL_RSS_MB = 150;
const GOAL_PG_BARE_RATIO = 0.5;
const SECRET = TEST_SECRET;
const SOURCE = "engage";
const BARE_ENTRY = fileURLToPath(new URL("./bare-server.ts", import.meta.url));
const EXPRESS_ENTRY = fileURLToPath(new URL("./baseline-server.ts", import.meta.url));
const MAX_REPLICAS = 16;

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
// Command line

const USAGE =
  "usage: node apps/gateway/bench/ingest.ts [--store sqlite|postgres] [--replicas 1,2,3]\n" +
  "       (pnpm bench:ingest [--store postgres] [--replicas 1,2,3] from the repository root)\n";

interface BenchOptions {
  store: "sqlite" | "postgres";
  /** Replica counts to measure on PostgreSQL (empty with --store sqlite). */
  replicas: number[];
}

function usageError(message: string): never {
  process.stderr.write(`${message}\n${USAGE}`);
  process.exit(2);
}

function parseOptions(argv: readonly string[]): BenchOptions {
  // `pnpm run bench:ingest -- --store postgres` hands the "--" on as well.
  const args = argv[0] === "--" ? argv.slice(1) : [...argv];
  let values: { store?: string; replicas?: string; help?: boolean };
  try {
    ({ values } = parseArgs({
      args,
      options: {
        store: { type: "string" },
        replicas: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    usageError((error as Error).message);
  }
  if (values.help) {
    process.stdout.write(USAGE);
    process.exit(0);
  }
  const store = values.store ?? "sqlite";
  if (store !== "sqlite" && store !== "postgres")
    usageError(`--store must be sqlite or postgres, got ${JSON.stringify(store)}`);
  if (store === "sqlite") {
    if (values.replicas !== undefined) usageError("--replicas needs --store postgres");
    return { store, replicas: [] };
  }
  const replicas = (values.replicas ?? "1,2,3").split(",").map((part) => {
    const n = Number(part.trim());
    if (!Number.isInteger(n) || n < 1 || n > MAX_REPLICAS)
      usageError(`--replicas takes whole numbers from 1 to ${MAX_REPLICAS}, got ${JSON.stringify(part)}`);
    if (n > CONNECTIONS) usageError(`${n} replicas need at least ${n} connections (BENCH_CONNECTIONS)`);
    return n;
  });
  return { store, replicas };
}

// ---------------------------------------------------------------------------------------------
// Payloads: realistic Engage bodies, one template per event type, with a unique event id and a
// random contact id (Engage contact ids are GUIDs; traffic spans many contacts) per request.

const ID_SLOT = "00000000-0000-4000-8000-0000000b0b0b";
const CONTACT_SLOT = "00000000-0000-4000-8000-00000000c0c0";
const TEMPLATES = SAMPLE_EVENT_TYPES.map((type) =>
  sampleEvent(type, { id: ID_SLOT, contactId: CONTACT_SLOT }),
);

/**
 * Autocannon options that sign every request freshly (unique svix-id, current timestamp). With
 * `acked`, the svix-id of every request answered 2xx is added to it (one request at a time per
 * connection: the connection's context holds the id of the request in flight).
 */
function signedRequests(
  url: string,
  tag: string,
  connections: number,
  acked: Set<string> | undefined,
  duration: number,
): autocannon.Options {
  let n = 0;
  return {
    url,
    method: "POST",
    connections,
    duration,
    headers: { "content-type": "application/json" },
    // Raw per-instance results: several instances (one per replica) are merged into one result.
    skipAggregateResult: true,
    requests: [
      {
        setupRequest(req, context) {
          n += 1;
          const body = (TEMPLATES[n % TEMPLATES.length] as string)
            .replace(ID_SLOT, randomUUID())
            .replace(CONTACT_SLOT, randomUUID());
          const id = `msg_bench_${tag}_${n}`;
          const timestamp = Math.floor(Date.now() / 1000);
          if (acked) (context as { svixId?: string }).svixId = id;
          req.body = body;
          req.headers = {
            ...req.headers,
            "svix-id": id,
            "svix-timestamp": String(timestamp),
            "svix-signature": signWebhook(SECRET, id, timestamp, body),
          };
          return req;
        },
        ...(acked
          ? {
              onResponse(status: number, _body: string, context: object) {
                const id = (context as { svixId?: string }).svixId;
                if (status >= 200 && status < 300 && typeof id === "string") acked.add(id);
              },
            }
          : {}),
      },
    ],
  };
}

/** What one autocannon instance returns with `skipAggregateResult` (its histograms still encoded). */
interface RawResult {
  latencies: string;
  totalCompletedRequests: number;
  totalRequests: number;
  samples: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  "2xx": number;
  duration: number;
}

/** autocannon's own merge (it is how its workers are combined); missing from @types/autocannon. */
const aggregateResult = (
  autocannon as unknown as {
    aggregateResult(results: RawResult[], opts: autocannon.Options): autocannon.Result;
  }
).aggregateResult;

interface Measured {
  name: string;
  /** The first word of `name`: bare, express, gateway, postgres×N. */
  short: string;
  /** Gateway processes behind the target (1 for bare, express and SQLite). */
  replicas: number;
  /** Mean req/s over its rounds. */
  rps: number;
  /** req/s of each round, in order. */
  roundRps: number[];
  /** Which `measureInTurns` call measured it: targets of the same one have rounds side by side. */
  turns: number;
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
  /** The warm-up before the measurement: requests sent, answered 2xx and non-2xx (for the store check). */
  warmup: { sent: number; ok: number; non2xx: number };
  /** Cores busy during the measurement (Linux /proc only): the server, this process, everyone else. */
  cpu: CpuShare | undefined;
  /** CPU time and memory of the server process(es); undefined if they could not be read. */
  resources: Resources | undefined;
}

/** CPU ms of the server process(es) per 1,000 requests answered 2xx (per 1,000 events for a gateway). */
const cpuPer1k = (m: Measured) => (m.resources && m.ok > 0 ? (m.resources.cpuMs / m.ok) * 1000 : undefined);

// ---------------------------------------------------------------------------------------------
// CPU accounting from /proc, so that a run disturbed by other work on a shared machine shows it.

const HAS_PROC = existsSync("/proc/self/stat");
/** USER_HZ, the unit of utime/stime in /proc/<pid>/stat: `getconf CLK_TCK`, 100 if that fails. */
const CLOCK_TICKS = (() => {
  try {
    const n = Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim());
    if (Number.isInteger(n) && n > 0) return n;
  } catch {
    // no getconf
  }
  return 100;
})();

interface CpuSample {
  at: number;
  busy: number;
  self: number;
  server: number;
  db: number;
}

interface CpuShare {
  server: number;
  client: number;
  /** The PostgreSQL cluster (postmaster and its children); 0 when there is none. */
  db: number;
  other: number;
}

function statFields(pid: number | "self"): string[] {
  const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
  return stat.slice(stat.lastIndexOf(")") + 2).split(" ");
}

function processTicks(pid: number | "self"): number {
  const fields = statFields(pid);
  return Number(fields[11]) + Number(fields[12]); // utime + stime
}

/**
 * A PostgreSQL cluster's ticks: the postmaster's own and those of the children it reaped (cutime,
 * cstime: backends that exited), plus the children still running (backends, WAL writer, checkpointer).
 */
function clusterTicks(postmaster: number): number {
  const fields = statFields(postmaster);
  let ticks = Number(fields[11]) + Number(fields[12]) + Number(fields[13]) + Number(fields[14]);
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const child = statFields(Number(entry));
      if (Number(child[1]) === postmaster) ticks += Number(child[11]) + Number(child[12]);
    } catch {
      // exited meanwhile
    }
  }
  return ticks;
}

function cpuSample(serverPids: readonly number[], dbPid: number | undefined): CpuSample | undefined {
  if (serverPids.length === 0 || !existsSync("/proc/stat")) return undefined;
  try {
    const [user, nice, system, , , irq, softirq, steal] = (
      readFileSync("/proc/stat", "utf8").split("\n")[0] ?? ""
    )
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
    return {
      at: performance.now(),
      busy,
      self: processTicks("self"),
      server: serverPids.reduce((sum, pid) => sum + processTicks(pid), 0),
      db: dbPid === undefined ? 0 : clusterTicks(dbPid),
    };
  } catch {
    return undefined;
  }
}

function cpuShare(before: CpuSample | undefined, after: CpuSample | undefined): CpuShare | undefined {
  if (!before || !after) return undefined;
  const ticks = ((after.at - before.at) / 1000) * CLOCK_TICKS;
  const server = (after.server - before.server) / ticks;
  const client = (after.self - before.self) / ticks;
  const db = (after.db - before.db) / ticks;
  return {
    server,
    client,
    db,
    other: Math.max(0, (after.busy - before.busy) / ticks - server - client - db),
  };
}

// ---------------------------------------------------------------------------------------------
// CPU time and memory of the server processes: /proc on Linux, `ps` elsewhere.

interface ProcessReading {
  /** utime + stime since the process started. */
  cpuMs: number;
  rssKb: number;
  /** Peak resident set since the process started (VmHWM); with `ps`, the current RSS. */
  peakKb: number;
}

interface Resources {
  /** CPU time the server process(es) used during the measurement, summed over them. */
  cpuMs: number;
  /** The largest peak resident set of any one server process. */
  peakRssMb: number;
  /** The largest resident set of any one server process at the start of the measurement. */
  startRssMb: number;
  /** The largest resident set of any one server process at the end of the measurement. */
  rssMb: number;
}

const execFileAsync = promisify(execFile);

/** `ps -o time=`: `[[dd-]hh:]mm:ss[.cc]`, in ms. */
function psTimeMs(text: string): number {
  const [days, clock] = text.includes("-") ? text.split("-") : ["0", text];
  const seconds = (clock ?? "").split(":").reduce((sum, part) => sum * 60 + Number(part), 0);
  return (Number(days) * 86_400 + seconds) * 1000;
}

async function readProcess(pid: number): Promise<ProcessReading | undefined> {
  try {
    if (HAS_PROC) {
      const status = readFileSync(`/proc/${pid}/status`, "utf8");
      const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1]);
      const reading = {
        cpuMs: (processTicks(pid) / CLOCK_TICKS) * 1000,
        rssKb: kb("VmRSS"),
        peakKb: kb("VmHWM"),
      };
      return Number.isFinite(reading.rssKb) && Number.isFinite(reading.peakKb) ? reading : undefined;
    }
    const { stdout } = await execFileAsync("ps", ["-o", "rss=,time=", "-p", String(pid)]);
    const [rss, time] = stdout.trim().split(/\s+/);
    const rssKb = Number(rss);
    const cpuMs = psTimeMs(time ?? "");
    return Number.isFinite(rssKb) && Number.isFinite(cpuMs) ? { cpuMs, rssKb, peakKb: rssKb } : undefined;
  } catch {
    return undefined; // exited, or no ps
  }
}

/**
 * Reads the processes now; the function returned reads them again and gives what they used in
 * between. Without /proc (no VmHWM) their RSS is also sampled every second meanwhile, for the peak.
 */
async function watchResources(pids: readonly number[]): Promise<() => Promise<Resources | undefined>> {
  const before = await Promise.all(pids.map(readProcess));
  const peaks = before.map((r) => r?.peakKb ?? 0);
  const timer = HAS_PROC
    ? undefined
    : setInterval(() => {
        pids.forEach((pid, i) => {
          void readProcess(pid).then((r) => {
            if (r) peaks[i] = Math.max(peaks[i] ?? 0, r.rssKb);
          });
        });
      }, 1000);
  return async () => {
    if (timer) clearInterval(timer);
    const after = await Promise.all(pids.map(readProcess));
    if (pids.length === 0 || before.some((r) => !r) || after.some((r) => !r)) return undefined;
    let cpuMs = 0;
    let peakKb = 0;
    let rssKb = 0;
    const startKb = Math.max(...before.map((r) => r?.rssKb ?? 0));
    after.forEach((r, i) => {
      if (!r) return;
      cpuMs += r.cpuMs - (before[i]?.cpuMs ?? r.cpuMs);
      peakKb = Math.max(peakKb, r.peakKb, peaks[i] ?? 0);
      rssKb = Math.max(rssKb, r.rssKb);
    });
    return { cpuMs, peakRssMb: peakKb / 1024, startRssMb: startKb / 1024, rssMb: rssKb / 1024 };
  };
}

/** The PostgreSQL server's pid, from its data directory (the test cluster keeps it under its socket dir). */
function postmasterPid(where: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(where, "data", "postmaster.pid"), "utf8").split("\n")[0]);
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

interface Target {
  name: string;
  /** One URL per server process; the connections are split evenly over them. */
  urls: string[];
  tag: string;
  serverPids: number[];
  dbPid?: number | undefined;
  /** Collects the svix-ids answered 2xx. */
  acked?: Set<string>;
}

/** `total` connections over `parts` instances, as evenly as possible (64 over 3: 22, 21, 21). */
const split = (total: number, parts: number) =>
  Array.from({ length: parts }, (_, i) => Math.floor(total / parts) + (i < total % parts ? 1 : 0));

/** One target's share of a round: its load, then what it cost. */
interface Round {
  raws: RawResult[];
  rps: number;
  cpuTicks: CpuSample | undefined;
  cpuAfter: CpuSample | undefined;
  used: Resources | undefined;
}

/** `seconds` of the signed load on every URL of `target` at once (`suffix` keeps svix-ids unique). */
function load(target: Target, seconds: number, suffix: string): Promise<RawResult[]> {
  const { urls } = target;
  const shares = split(CONNECTIONS, urls.length);
  return Promise.all(
    urls.map((url, i) =>
      autocannon(
        signedRequests(
          url,
          `${urls.length > 1 ? `${target.tag}${i}` : target.tag}${suffix}`,
          shares[i] ?? 1,
          target.acked,
          seconds,
        ),
      ),
    ),
  ) as unknown as Promise<RawResult[]>;
}

/** The warm-up's counts; its svix-ids differ from the measurement's (suffix "w"), its answers count in the store check. */
async function warmUp(target: Target): Promise<Measured["warmup"]> {
  const warm = WARMUP > 0 ? await load(target, WARMUP, "w") : [];
  const merged =
    warm.length > 0
      ? aggregateResult(warm, { url: target.urls[0] as string, connections: CONNECTIONS })
      : undefined;
  return {
    sent: warm.reduce((sum, r) => sum + r.totalRequests, 0),
    ok: merged?.["2xx"] ?? 0,
    non2xx: merged?.non2xx ?? 0,
  };
}

async function measureRound(target: Target, seconds: number, round: number): Promise<Round> {
  const resources = await watchResources(target.serverPids);
  const cpuTicks = cpuSample(target.serverPids, target.dbPid);
  const raws = await load(target, seconds, `r${round}_`);
  const cpuAfter = cpuSample(target.serverPids, target.dbPid);
  return {
    raws,
    // Summed over the instances (one per replica, all at once).
    rps: raws.reduce((sum, r) => sum + r.totalCompletedRequests / Math.max(0.001, r.duration), 0),
    cpuTicks,
    cpuAfter,
    used: await resources(),
  };
}

/** The cores busy over all of a target's rounds (their ticks and their wall time summed). */
function cpuOverRounds(rounds: readonly Round[]): CpuShare | undefined {
  if (rounds.some((r) => !r.cpuTicks || !r.cpuAfter)) return undefined;
  const sum = (pick: (s: CpuSample) => number) =>
    rounds.reduce((acc, r) => acc + pick(r.cpuAfter as CpuSample) - pick(r.cpuTicks as CpuSample), 0);
  return cpuShare(
    { at: 0, busy: 0, self: 0, server: 0, db: 0 },
    {
      at: sum((s) => s.at),
      busy: sum((s) => s.busy),
      self: sum((s) => s.self),
      server: sum((s) => s.server),
      db: sum((s) => s.db),
    },
  );
}

function resourcesOverRounds(rounds: readonly Round[]): Resources | undefined {
  if (rounds.length === 0 || rounds.some((r) => !r.used)) return undefined;
  const used = rounds.map((r) => r.used as Resources);
  return {
    cpuMs: used.reduce((sum, u) => sum + u.cpuMs, 0),
    peakRssMb: Math.max(...used.map((u) => u.peakRssMb)),
    startRssMb: used[0]?.startRssMb ?? 0,
    rssMb: used.at(-1)?.rssMb ?? 0,
  };
}

/** A target's rounds as one measurement: counts and CPU summed, latency histograms merged. */
function combineRounds(
  target: Target,
  warmup: Measured["warmup"],
  rounds: readonly Round[],
  turns: number,
): Measured {
  const raws = rounds.flatMap((r) => r.raws);
  const merged = aggregateResult(raws, { url: target.urls[0] as string, connections: CONNECTIONS });
  const seconds = rounds.reduce((sum, r) => sum + Math.max(...r.raws.map((raw) => raw.duration)), 0);
  const roundRps = rounds.map((r) => r.rps);
  return {
    name: target.name,
    short: target.name.split(" ")[0] as string,
    replicas: target.urls.length,
    rps: roundRps.reduce((a, b) => a + b, 0) / Math.max(1, roundRps.length),
    roundRps,
    turns,
    p50: merged.latency.p50,
    p90: merged.latency.p90,
    p99: merged.latency.p99,
    max: merged.latency.max,
    seconds,
    sent: raws.reduce((sum, r) => sum + r.totalRequests, 0),
    ok: merged["2xx"],
    non2xx: merged.non2xx,
    errors: merged.errors,
    timeouts: merged.timeouts,
    warmup,
    cpu: cpuOverRounds(rounds),
    resources: resourcesOverRounds(rounds),
  };
}

/**
 * Measures `targets` in turns: each is warmed up, then ROUNDS rounds in which every target gets
 * DURATION / ROUNDS seconds of load, one after the other. On a shared machine the speed changes
 * from one minute to the next (on this one, bare alone did 8,000 to 14,000 req/s minutes apart);
 * targets measured side by side in short turns meet the same machine, so the ratio of each round
 * tells what the code costs and not when it ran.
 */
let turnsMeasured = 0;
async function measureInTurns(targets: readonly Target[]): Promise<Measured[]> {
  const turns = ++turnsMeasured;
  const warmups: Measured["warmup"][] = [];
  for (const target of targets) {
    out(
      `→ ${target.name}: ${CONNECTIONS} connections` +
        (target.urls.length > 1 ? ` (${split(CONNECTIONS, target.urls.length).join(" + ")})` : "") +
        `, POST ${target.urls.join(", ")}`,
    );
    warmups.push(await warmUp(target));
  }
  const seconds = DURATION / ROUNDS;
  const rounds: Round[][] = targets.map(() => []);
  for (let round = 1; round <= ROUNDS; round++) {
    const line: string[] = [];
    for (const [i, target] of targets.entries()) {
      const measured = await measureRound(target, seconds, round);
      rounds[i]?.push(measured);
      const first = rounds[0]?.[round - 1]?.rps ?? 0;
      line.push(
        `${target.name.split(" ")[0]} ${fmt(measured.rps, 0)}` +
          (i > 0 && first > 0 ? ` (×${targets[0]?.name.split(" ")[0]} ${fmt(measured.rps / first, 2)})` : ""),
      );
    }
    out(`  round ${round}/${ROUNDS}: ${line.join(" · ")} req/s`);
  }
  const measured = targets.map((target, i) =>
    combineRounds(target, warmups[i] as Measured["warmup"], rounds[i] ?? [], turns),
  );
  for (const [i, m] of measured.entries()) reportMeasured(m, targets[i] as Target);
  return measured;
}

function reportMeasured(measured: Measured, target: Target): void {
  const perK = cpuPer1k(measured);
  const { resources: used, cpu } = measured;
  out(
    `  ${measured.short}: ${fmt(measured.rps, 0)} req/s, p50 ${measured.p50} ms, p99 ${measured.p99} ms, ` +
      `${measured.ok} 2xx, ${measured.non2xx} non-2xx, ${measured.errors} errors in ${fmt(measured.seconds, 1)} s` +
      (used
        ? `; RSS ${fmt(used.startRssMb, 0)} MB at start, ${fmt(used.rssMb, 0)} MB at end, ` +
          `${target.serverPids.length > 1 ? "largest process peak" : "peak"} ${fmt(used.peakRssMb, 1)} MB, ` +
          `CPU ${fmt(used.cpuMs, 0)} ms${perK === undefined ? "" : ` (${fmt(perK, 1)} ms per 1,000 2xx)`}`
        : "") +
      (cpu
        ? `; cores busy: server ${fmt(cpu.server, 2)}, ` +
          (target.dbPid !== undefined ? `PostgreSQL ${fmt(cpu.db, 2)}, ` : "") +
          `load generator ${fmt(cpu.client, 2)}, other processes ${fmt(cpu.other, 2)}`
        : ""),
  );
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

/** A server measured in turns with others, and how to stop it. */
interface Running {
  target: Target;
  stop: () => Promise<void>;
}

/** bare (`node:http`) or express: a verify-and-204 server as a child process, started. */
async function startVerifyServer(kind: "bare" | "express"): Promise<Running> {
  const port = await freePort();
  const child = spawn(process.execPath, [kind === "bare" ? BARE_ENTRY : EXPRESS_ENTRY], {
    env: { ...process.env, PORT: String(port), BENCH_SECRET: SECRET },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stderr?.on("data", (d) => {
    output += d;
  });
  const stop = () => stopChild(child);
  cleanups.push(stop);
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${kind} did not start:\n${output}`)), 20_000);
      child.stdout?.on("data", (d) => {
        output += d;
        if (output.includes("listening")) {
          clearTimeout(timer);
          resolve();
        }
      });
      child.once("exit", () => {
        clearTimeout(timer);
        reject(new Error(`${kind} exited early:\n${output}`));
      });
    });
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    target: {
      name: kind === "bare" ? "bare (node:http + verify + 204)" : "express (Express 5 raw + verify + 204)",
      urls: [`http://127.0.0.1:${port}/webhooks/${SOURCE}`],
      tag: kind === "bare" ? "n" : "b",
      serverPids: child.pid === undefined ? [] : [child.pid],
    },
    stop,
  };
}

/** A gateway child process; its stdout and stderr (the pino log) go to `logFile`. */
interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  logFile: string;
}

const logTail = (file: string) => {
  try {
    return readFileSync(file, "utf8").slice(-4000);
  } catch {
    return "";
  }
};

/**
 * `engage-bridge start --config <configFile> ...args` on a free port, waited for until /readyz
 * answers. LOG_LEVEL is not passed on from this process: unset (the gateway's default, info) unless
 * BENCH_LOG_LEVEL says otherwise. The log goes to a file, not through a pipe to this process (the
 * load generator would pay for reading it).
 */
async function startGatewayProcess(
  configFile: string,
  logFile: string,
  args: readonly string[] = [],
): Promise<GatewayProcess> {
  const port = await freePort();
  const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(port) };
  delete env.LOG_LEVEL;
  if (LOG_LEVEL) env.LOG_LEVEL = LOG_LEVEL;
  if (process.env.BENCH_GATEWAY_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_GATEWAY_NODE_OPTIONS;
  const fd = openSync(logFile, "a");
  let child: ChildProcess;
  try {
    child = spawn(
      process.execPath,
      [...GATEWAY_NODE_ARGS, GATEWAY_ENTRY, "start", "--config", configFile, ...args],
      {
        env,
        stdio: ["ignore", fd, fd],
      },
    );
  } finally {
    closeSync(fd); // the child has its own copy
  }
  const url = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, url, () => logTail(logFile));
  return { child, pid: child.pid ?? -1, url, logFile };
}

interface LogSummary {
  lines: number;
  bytes: number;
  /** Lines per pino level (`other`: not JSON). */
  byLevel: Record<string, number>;
  /** "webhook stored" lines: one per stored event at info. */
  storedLines: number;
  /** Lines above info, or not JSON, the first 20. */
  unexpected: string[];
}

const LEVEL = /"level":"([a-z]+)"/;
const QUIET_LEVELS = new Set(["trace", "debug", "info"]);

/** Reads a gateway's log file (after it stopped): what it wrote, and anything not routine. */
async function readLog(file: string): Promise<LogSummary> {
  const summary: LogSummary = { lines: 0, bytes: 0, byLevel: {}, storedLines: 0, unexpected: [] };
  if (!existsSync(file)) return summary;
  summary.bytes = statSync(file).size;
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  for await (const line of lines) {
    if (!line.trim()) continue;
    summary.lines += 1;
    const level = LEVEL.exec(line)?.[1] ?? "other";
    summary.byLevel[level] = (summary.byLevel[level] ?? 0) + 1;
    if (line.includes('"msg":"webhook stored"')) summary.storedLines += 1;
    if (!QUIET_LEVELS.has(level) && summary.unexpected.length < 20)
      summary.unexpected.push(line.slice(0, 500));
  }
  return summary;
}

/** Reads the gateways' logs and prints what they wrote; returns the sum. */
async function reportLogs(gateways: readonly GatewayProcess[], events: number): Promise<LogSummary> {
  const total: LogSummary = { lines: 0, bytes: 0, byLevel: {}, storedLines: 0, unexpected: [] };
  for (const [i, gateway] of gateways.entries()) {
    const log = await readLog(gateway.logFile);
    total.lines += log.lines;
    total.bytes += log.bytes;
    total.storedLines += log.storedLines;
    for (const [level, n] of Object.entries(log.byLevel))
      total.byLevel[level] = (total.byLevel[level] ?? 0) + n;
    if (log.unexpected.length > 0)
      out(
        `  gateway${gateways.length > 1 ? ` ${i + 1}` : ""} output above info:\n    ${log.unexpected.join("\n    ")}`,
      );
  }
  const levels = Object.entries(total.byLevel)
    .map(([level, n]) => `${level} ${n}`)
    .join(", ");
  out(
    `  gateway log (LOG_LEVEL ${LOG_LEVEL ?? `unset: ${DEFAULT_LOG_LEVEL}`}): ${total.lines} lines` +
      (levels ? ` (${levels})` : "") +
      `, ${fmt(total.bytes / 1024 / 1024, 1)} MB` +
      (events > 0 ? `, ${fmt(total.bytes / events, 0)} bytes per stored event` : "") +
      `; ${total.storedLines} "webhook stored" lines`,
  );
  return total;
}

interface GatewayRun extends Measured {
  store: "SQLite" | "PostgreSQL";
  stored: number;
  /** Distinct event ids among the stored rows (each request carries its own). */
  distinctIds: number;
  deliveries: number;
  acknowledged: number;
  duplicates: number;
  /** svix-ids the client saw answered 2xx that are not in the store. */
  missing: number;
  /** bare as measured in turns with this run: the baseline of its ratio. */
  bare: Measured;
  /**
   * Transactions committed: for PostgreSQL, the server's count during the run (its statistics); for
   * SQLite, the gateway's group commits over its life (`engage_bridge_ingest_commits_total`).
   */
  commits?: number | undefined;
  /** PostgreSQL only: WAL syncs during the run (from the server's statistics). */
  walSyncs?: number | undefined;
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

/**
 * What the gateways themselves acknowledged, including answers the client dropped when it stopped;
 * and their garbage collections over their life (prom-client's `nodejs_gc_duration_seconds`, by kind).
 */
async function acknowledgedBy(
  gateways: readonly GatewayProcess[],
): Promise<{ stored: number; duplicate: number; commits: number; gc: GcTotals }> {
  let stored = 0;
  let duplicate = 0;
  let commits = 0;
  const gc: GcTotals = { majors: 0, minors: 0, seconds: 0 };
  for (const gateway of gateways) {
    const metrics = await (await fetch(`${gateway.url}/metrics`)).text();
    commits += Number(/^engage_bridge_ingest_commits_total (\S+)$/m.exec(metrics)?.[1] ?? 0);
    const outcomes = counterByLabel(metrics, "engage_bridge_webhooks_accepted_total", "outcome");
    stored += outcomes.stored ?? 0;
    duplicate += outcomes.duplicate ?? 0;
    const counts = counterByLabel(metrics, "engage_bridge_nodejs_gc_duration_seconds_count", "kind");
    const seconds = counterByLabel(metrics, "engage_bridge_nodejs_gc_duration_seconds_sum", "kind");
    gc.majors += counts.major ?? 0;
    gc.minors += counts.minor ?? 0;
    gc.seconds += Object.values(seconds).reduce((sum, n) => sum + n, 0);
  }
  return { stored, duplicate, commits, gc };
}

interface GcTotals {
  /** Mark-compacts (full GCs). */
  majors: number;
  /** Scavenges (young-generation GCs). */
  minors: number;
  /** Pause time of every kind. */
  seconds: number;
}

/**
 * The gateways' GC over their life, warm-up and pauses between turns included. Many mark-compacts
 * mean that requests' objects reach the old generation: a gateway in that state ran at ~200 MB of
 * RSS and ~18 % more CPU per event (docs/benchmarks.md, "The peak RSS under bursts").
 */
function reportGc(gc: GcTotals, events: number, processes: number): void {
  out(
    `  ${processes > 1 ? `${processes} gateways' GC over their lives` : "gateway GC over its life"}: ` +
      `${gc.majors} mark-compact${gc.majors === 1 ? "" : "s"}, ${gc.minors} scavenges, ` +
      `${fmt(gc.seconds * 1000, 0)} ms paused` +
      (events > 0 ? ` (${fmt((gc.seconds * 1e6) / events, 1)} ms per 1,000 events)` : ""),
  );
}

const missingFrom = (acked: ReadonlySet<string>, stored: Iterable<string>) => {
  const present = new Set(stored);
  let missing = 0;
  for (const id of acked) if (!present.has(id)) missing += 1;
  return missing;
};

/** The SQLite gateway, measured in turns with the two baselines (`others`, bare first). */
async function runSqliteGateway(
  others: readonly Target[],
): Promise<{ baselines: Measured[]; run: GatewayRun }> {
  const dir = tempDir("engage-bench-");
  // The child's config: SOURCE ("engage") signed with SECRET (TEST_SECRET), SQLite in the temp dir.
  const { configFile, db: dbFile } = writeChildConfig(dir.path);
  const gateway = await startGatewayProcess(configFile, join(dir.path, "gateway.log"));
  const acked = new Set<string>();
  let stored = 0;
  try {
    const all = await measureInTurns([
      ...others,
      {
        name: "gateway (engage-bridge start, SQLite FULL)",
        urls: [`${gateway.url}/webhooks/${SOURCE}`],
        tag: "g",
        serverPids: [gateway.pid],
        acked,
      },
    ]);
    const measured = all.at(-1) as Measured;
    const outcomes = await acknowledgedBy([gateway]);
    reportGc(outcomes.gc, outcomes.stored, 1);
    out(
      `  SQLite: ${outcomes.commits} group commits over the gateway's life ` +
        `(${fmt(outcomes.stored / Math.max(1, outcomes.commits), 1)} events per commit, warm-up included)`,
    );
    await stopChild(gateway.child);
    const db = new DatabaseSync(dbFile, { readOnly: true });
    try {
      const count = (sql: string) => Number((db.prepare(sql).get() as { n: number }).n);
      const ids = db.prepare("SELECT svix_id FROM events").all() as { svix_id: string }[];
      stored = count("SELECT COUNT(*) AS n FROM events");
      const run: GatewayRun = {
        ...measured,
        bare: all[0] as Measured,
        store: "SQLite",
        stored,
        distinctIds: count("SELECT COUNT(DISTINCT event_id) AS n FROM events"),
        deliveries: count("SELECT COUNT(*) AS n FROM deliveries"),
        acknowledged: outcomes.stored,
        duplicates: outcomes.duplicate,
        missing: missingFrom(
          acked,
          ids.map((r) => r.svix_id),
        ),
        commits: outcomes.commits,
      };
      return { baselines: all.slice(0, -1), run };
    } finally {
      db.close();
    }
  } finally {
    await stopChild(gateway.child);
    await reportLogs([gateway], stored);
    dir.remove();
  }
}

interface PgCounters {
  commits: number;
  walSyncs: number;
}

/**
 * The server's cumulative counts of commits (this database) and WAL syncs. Backends report them
 * when they end at the latest, so the second reading is taken after the gateways stopped.
 */
async function pgCounters(server: TestPostgres, url: string): Promise<PgCounters | undefined> {
  try {
    const [row] = await server.query<{ commits: string; syncs: string }>(
      url,
      `SELECT (SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()) AS commits,
              (SELECT wal_sync FROM pg_stat_wal) AS syncs`,
    );
    return { commits: Number(row?.commits ?? 0), walSyncs: Number(row?.syncs ?? 0) };
  } catch {
    return undefined; // pg_stat_wal is PostgreSQL 14+
  }
}

/** The schema a `freshUrl()` URL selects (its `-c search_path=` option). */
const schemaOf = (url: string) =>
  /search_path=([A-Za-z0-9_]+)/.exec(new URL(url).searchParams.get("options") ?? "")?.[1];

/** N PostgreSQL ingest gateways, measured in turns with `bare` (the run's `bare` is that measurement). */
async function runPostgresGateways(
  server: TestPostgres,
  replicas: number,
  bare: Target,
): Promise<GatewayRun> {
  const url = await server.freshUrl();
  const dir = tempDir("engage-bench-pg-");
  const { configFile } = writeChildConfig(dir.path, { store: url });
  const gateways: GatewayProcess[] = [];
  const acked = new Set<string>();
  let stored = 0;
  try {
    // One after the other: each gets a port that is free, the first applies the migrations.
    for (let i = 0; i < replicas; i++)
      gateways.push(
        await startGatewayProcess(configFile, join(dir.path, `gateway-${i + 1}.log`), ["--role", "ingest"]),
      );
    // Each measurement starts from a clean checkpoint (the previous run's WAL is not flushed during this one).
    await server.query(url, "CHECKPOINT");
    const before = await pgCounters(server, url);
    const [bareMeasured, measured] = (await measureInTurns([
      { ...bare, tag: `${bare.tag}${replicas}_` },
      {
        name: `postgres×${replicas} (engage-bridge start --role ingest ×${replicas}, PostgreSQL)`,
        urls: gateways.map((g) => `${g.url}/webhooks/${SOURCE}`),
        tag: `p${replicas}_`,
        serverPids: gateways.map((g) => g.pid),
        dbPid: postmasterPid(server.where),
        acked,
      },
    ])) as [Measured, Measured];
    const outcomes = await acknowledgedBy(gateways);
    reportGc(outcomes.gc, outcomes.stored, gateways.length);
    await Promise.all(gateways.map((g) => stopChild(g.child)));
    const count = async (sql: string) => Number((await server.query<{ n: string }>(url, sql))[0]?.n ?? 0);
    const ids = await server.query<{ svix_id: string }>(url, "SELECT svix_id FROM events");
    const after = await pgCounters(server, url);
    stored = await count("SELECT COUNT(*) AS n FROM events");
    const commits = before && after ? after.commits - before.commits : undefined;
    const walSyncs = before && after ? after.walSyncs - before.walSyncs : undefined;
    if (commits !== undefined)
      out(
        `  PostgreSQL: ${commits} commits (${fmt(outcomes.stored / Math.max(1, commits), 1)} events per commit), ` +
          `${walSyncs} WAL syncs`,
      );
    return {
      ...measured,
      bare: bareMeasured,
      store: "PostgreSQL",
      stored,
      distinctIds: await count("SELECT COUNT(DISTINCT event_id) AS n FROM events"),
      deliveries: await count("SELECT COUNT(*) AS n FROM deliveries"),
      acknowledged: outcomes.stored,
      duplicates: outcomes.duplicate,
      missing: missingFrom(
        acked,
        ids.map((r) => r.svix_id),
      ),
      commits,
      walSyncs,
    };
  } finally {
    await Promise.all(gateways.map((g) => stopChild(g.child)));
    await reportLogs(gateways, stored);
    dir.remove();
    // Give the space back before the next replica count (the cluster goes at the end anyway).
    const schema = schemaOf(url);
    if (schema && server.where !== "TEST_DATABASE_URL")
      await server.query(url, `DROP SCHEMA ${schema} CASCADE`).catch(() => []);
  }
}

// ---------------------------------------------------------------------------------------------
// Checks and reports

/**
 * Correctness: every acknowledged event is in the store once, nothing else is, nothing was refused.
 * The client's 2xx count can be lower than the gateways' by the requests still in flight when
 * autocannon stopped (their answers were sent after it closed the sockets); never higher.
 */
function storeProblems(run: GatewayRun): string[] {
  // Warm-up and measurement together: both stored their events.
  const sent = run.sent + run.warmup.sent;
  const ok = run.ok + run.warmup.ok;
  const non2xx = run.non2xx + run.warmup.non2xx;
  const inFlight = sent - ok - non2xx;
  const problems: string[] = [];
  if (non2xx > 0) problems.push(`gateway answered ${non2xx} non-2xx`);
  if (run.duplicates > 0) problems.push(`gateway reported ${run.duplicates} duplicates`);
  if (run.stored !== run.acknowledged)
    problems.push(`stored ${run.stored} events but acknowledged ${run.acknowledged}`);
  if (run.distinctIds !== run.stored)
    problems.push(`stored ${run.stored} events but ${run.distinctIds} distinct event ids`);
  if (run.stored < ok) problems.push(`stored ${run.stored} < ${ok} 2xx seen by client`);
  if (run.stored > ok + inFlight)
    problems.push(`stored ${run.stored} > ${ok} 2xx seen + ${inFlight} in flight`);
  if (run.missing > 0) problems.push(`${run.missing} svix-ids answered 2xx are not in the store`);
  out(
    `store check (${run.name}): ${run.stored} events (${run.deliveries} deliveries) in ${run.store}; ` +
      `gateway${run.replicas > 1 ? "s" : ""} acknowledged ${run.acknowledged}; client saw ${ok} 2xx ` +
      `(${run.warmup.ok} of them in the warm-up) + ${inFlight} in flight at stops → ${problems.length === 0 ? "ok" : "FAILED"}`,
  );
  for (const problem of problems) out(`  ✗ ${problem}`);
  return problems;
}

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** `m`'s req/s over `to`'s in each round they shared (measured in the same turns). */
const roundRatios = (m: Measured, to: Measured) =>
  m.turns === to.turns
    ? m.roundRps.map((rps, i) => rps / (to.roundRps[i] ?? Number.NaN)).filter(Number.isFinite)
    : [];

/**
 * The ratio of `m`'s req/s to `to`'s: the median of their rounds' ratios when they were measured
 * in the same turns (each round's pair met the same machine), else the ratio of their means.
 */
function ratio(m: Measured, to: Measured): number | undefined {
  const rounds = roundRatios(m, to);
  if (rounds.length > 0) return median(rounds);
  return to.rps > 0 ? m.rps / to.rps : undefined;
}

/** The bare measurement a row's ratio is against: its own turns' for a gateway run, else `bare`. */
const bareOf = (m: Measured, bare: Measured) => (m as Partial<GatewayRun>).bare ?? bare;

const ratioText = (m: Measured, to: Measured) => {
  const r = ratio(m, to);
  return r === undefined ? "–" : fmt(r, 2);
};
const mb = (m: Measured) => (m.resources ? fmt(m.resources.peakRssMb, 1) : "–");
const perK = (m: Measured) => {
  const v = cpuPer1k(m);
  return v === undefined ? "–" : fmt(v, 1);
};
const isPostgres = (m: Measured) => (m as Partial<GatewayRun>).store === "PostgreSQL";

function table(rows: Measured[], bare: Measured, express: Measured): string {
  const header = [
    "target",
    "req/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "×bare",
    "×express",
    "peak RSS MB",
    "CPU ms/1k",
    "2xx",
    "non-2xx",
    "errors",
  ];
  const withCpu = rows.every((r) => r.cpu);
  const withDb = rows.some(isPostgres);
  if (withCpu) header.push("server cores", ...(withDb ? ["db cores"] : []), "client cores", "other cores");
  const body = rows.map((r) => [
    r.short,
    fmt(r.rps, 0),
    String(r.p50),
    String(r.p90),
    String(r.p99),
    String(r.max),
    ratioText(r, bareOf(r, bare)),
    ratioText(r, express),
    mb(r),
    perK(r),
    String(r.ok),
    String(r.non2xx),
    String(r.errors),
    ...(withCpu && r.cpu
      ? [
          fmt(r.cpu.server, 2),
          ...(withDb ? [isPostgres(r) ? fmt(r.cpu.db, 2) : "–"] : []),
          fmt(r.cpu.client, 2),
          fmt(r.cpu.other, 2),
        ]
      : []),
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

/** The same in markdown, for docs/benchmarks.md and docs/scaling.md. */
function markdownTable(
  bare: Measured,
  express: Measured,
  runs: readonly { run: GatewayRun; ok: boolean }[],
): string {
  const withCpu = [bare, express, ...runs.map(({ run }) => run)].every((m) => m.cpu);
  const header = [
    "target",
    "processes",
    "req/s",
    "p50 ms",
    "p99 ms",
    "ratio to bare",
    "ratio to Express",
    "peak RSS MB",
    "CPU ms / 1,000 events",
    "2xx",
    "non-2xx",
    "stored = acked",
    "events / commit",
  ];
  if (withCpu) header.push("server cores", "PostgreSQL cores", "load gen. cores", "other cores");
  const right = header.map((h) => h !== "target");
  const cpuCells = (m: Measured) =>
    withCpu && m.cpu
      ? [
          fmt(m.cpu.server, 2),
          isPostgres(m) ? fmt(m.cpu.db, 2) : "–",
          fmt(m.cpu.client, 2),
          fmt(m.cpu.other, 2),
        ]
      : [];
  const common = (m: Measured) => [
    fmt(m.rps, 0),
    String(m.p50),
    String(m.p99),
    ratioText(m, bareOf(m, bare)),
    ratioText(m, express),
    mb(m),
    perK(m),
    String(m.ok),
    String(m.non2xx),
  ];
  const rows = [
    ["bare (`node:http` verify + 204)", "1", ...common(bare), "–", "–", ...cpuCells(bare)],
    ["Express (Express 5 verify + 204)", "1", ...common(express), "–", "–", ...cpuCells(express)],
    ...runs.map(({ run, ok }) => [
      run.store === "SQLite" ? "SQLite (`start`)" : "PostgreSQL (`start --role ingest`)",
      String(run.replicas),
      ...common(run),
      ok ? `yes (${run.stored})` : `**NO** (${run.stored} / ${run.acknowledged})`,
      run.commits ? fmt(run.acknowledged / run.commits, 1) : "–",
      ...cpuCells(run),
    ]),
  ];
  return [
    `| ${header.join(" | ")} |`,
    `| ${right.map((r) => (r ? "---:" : "---")).join(" | ")} |`,
    ...rows.map((row) => `| ${row.join(" | ")} |`),
  ].join("\n");
}

/** The rounds behind a ratio: how many, their range, and the baseline's req/s meanwhile. */
function spread(m: Measured, to: Measured): string {
  const rounds = roundRatios(m, to);
  if (rounds.length < 2) return "";
  return (
    `, the median of ${rounds.length} rounds (${fmt(Math.min(...rounds), 2)}–${fmt(Math.max(...rounds), 2)}; ` +
    `${m.short} ${fmt(m.rps, 0)} and ${to.short} ${fmt(to.rps, 0)} req/s on average)`
  );
}

const mark = (ok: boolean | undefined) => (ok === undefined ? "n/a" : ok ? "PASS" : "MISS");

/** The goal lines of issue #16, PASS or MISS; missing a goal does not change the exit code. */
function reportGoals(
  bare: Measured,
  express: Measured,
  gateway: GatewayRun,
  pgRuns: readonly GatewayRun[],
): void {
  const sqliteRatio = ratio(gateway, bare) ?? 0;
  const rss = gateway.resources?.peakRssMb;
  out(
    `goals (issue #16; at ${GOAL_CONNECTIONS} connections, gateway at the default log level, ${DEFAULT_LOG_LEVEL}):`,
  );
  out(
    `  ${mark(sqliteRatio >= GOAL_BARE_RATIO)}  gateway/bare-node req/s ${fmt(sqliteRatio, 2)} ` +
      `(goal ≥ ${GOAL_BARE_RATIO})${spread(gateway, bare)}`,
  );
  out(`  ${mark(gateway.p99 < GOAL_P99_MS)}  gateway p99 ${gateway.p99} ms (goal < ${GOAL_P99_MS} ms)`);
  out(
    `  ${mark(rss === undefined ? undefined : rss < GOAL_RSS_MB)}  gateway peak RSS ` +
      `${rss === undefined ? "unknown" : `${fmt(rss, 1)} MB`} (goal < ${GOAL_RSS_MB} MB)`,
  );
  for (const run of pgRuns) {
    const pgRatio = ratio(run, run.bare) ?? 0;
    out(
      `  ${mark(pgRatio >= GOAL_PG_BARE_RATIO)}  PostgreSQL ×${run.replicas} gateway/bare-node req/s ` +
        `${fmt(pgRatio, 2)} (goal ≥ ${GOAL_PG_BARE_RATIO})${spread(run, run.bare)}; p99 ${run.p99} ms`,
    );
  }
  out(
    `for reference: gateway/Express req/s ${ratioText(gateway, express)} (the earlier goal: ≥ 0.5), ` +
      `Express/bare-node ${ratioText(express, bare)}`,
  );
  const differs: string[] = [];
  if (CONNECTIONS !== GOAL_CONNECTIONS) differs.push(`${CONNECTIONS} connections`);
  if (LOG_LEVEL !== undefined && LOG_LEVEL !== DEFAULT_LOG_LEVEL) differs.push(`LOG_LEVEL=${LOG_LEVEL}`);
  if (differs.length > 0)
    out(`note: this run used ${differs.join(" and ")}; the goals are defined for the defaults`);
}

const withCpuNote = (rows: Measured[]) => rows.some((r) => (r.cpu?.other ?? 0) >= 0.25);

// ---------------------------------------------------------------------------------------------

/** Clean-ups still to run (the PostgreSQL cluster), also on Ctrl-C. */
const cleanups: (() => Promise<unknown>)[] = [];
async function cleanUp(): Promise<void> {
  for (const fn of cleanups.splice(0).reverse()) await fn().catch(() => undefined);
}
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.once(signal, () => {
    process.stderr.write(`\n${signal}: stopping\n`);
    void cleanUp().finally(() => process.exit(130));
  });
}

async function main(): Promise<number> {
  const options = parseOptions(process.argv.slice(2));
  out(
    `engage-bridge ingest benchmark — node ${process.version}, ${CONNECTIONS} connections, ` +
      `${WARMUP} s warm-up and ${DURATION} s measured per target, ` +
      `gateway LOG_LEVEL ${LOG_LEVEL ?? `unset (default: ${DEFAULT_LOG_LEVEL})`}, ` +
      `gateway: node ${[...GATEWAY_NODE_ARGS, relative(GATEWAY_DIR, GATEWAY_ENTRY)].join(" ")}` +
      (options.store === "postgres" ? `, PostgreSQL replicas ${options.replicas.join(", ")}` : ""),
  );
  // The baselines run all along; each gateway is measured in turns with them.
  const bareServer = await startVerifyServer("bare");
  const expressServer = await startVerifyServer("express");
  const {
    baselines: [bare, express],
    run: gateway,
  } = (await runSqliteGateway([bareServer.target, expressServer.target])) as {
    baselines: [Measured, Measured];
    run: GatewayRun;
  };
  await expressServer.stop();

  const pgRuns: GatewayRun[] = [];
  if (options.store === "postgres") {
    const server = await startTestPostgres();
    cleanups.push(() => server.stop());
    const [{ version } = { version: "?" }] = await server.query<{ version: string }>(
      await server.freshUrl(),
      "SELECT current_setting('server_version') AS version",
    );
    out(
      `PostgreSQL ${version} (${server.where === "TEST_DATABASE_URL" ? "TEST_DATABASE_URL" : "throwaway cluster"})`,
    );
    for (const replicas of options.replicas)
      pgRuns.push(await runPostgresGateways(server, replicas, bareServer.target));
  }
  await cleanUp();

  const all = [bare, express, gateway, ...pgRuns];
  out();
  out(table(all, bare, express));
  out(
    "(×bare, ×express: req/s relative to those targets; peak RSS: largest of the target's processes; " +
      "CPU ms/1k: CPU time of the target's processes during the measurement per 1,000 2xx answers)",
  );
  out();
  reportGoals(bare, express, gateway, pgRuns);
  if (withCpuNote(all))
    out("note: other processes used ≥ 0.25 cores during a measurement; the machine was not quiet");

  const problems: string[] = [];
  for (const baseline of [bare, express, ...pgRuns.map((run) => run.bare)])
    if (baseline.non2xx > 0 || baseline.errors > 0)
      problems.push(`${baseline.short}: ${baseline.non2xx} non-2xx, ${baseline.errors} errors`);
  for (const problem of problems) out(`✗ ${problem}`);
  const checked = [gateway, ...pgRuns].map((run) => {
    const found = storeProblems(run);
    problems.push(...found);
    return { run, ok: found.length === 0 };
  });
  out();
  out(markdownTable(bare, express, checked));
  return problems.length === 0 ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  async (error: unknown) => {
    process.stderr.write(`bench failed: ${(error as Error).stack ?? String(error)}\n`);
    await cleanUp();
    process.exit(1);
  },
);
