import { execFile } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, afterEach, beforeAll } from "vitest";

/**
 * A PostgreSQL server for tests: `TEST_DATABASE_URL` when set, else a throwaway cluster started
 * with initdb/pg_ctl (one per test file) listening only on a Unix socket in its own temp dir.
 */

const run = promisify(execFile);

/** `CI` set to anything but "", "0" or "false". */
const inCi = (): boolean => !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);

const versionDirs = (root: string, prefix = ""): string[] => {
  try {
    return readdirSync(root)
      .filter((name) => name.startsWith(prefix))
      .sort((a, b) => Number.parseFloat(b.slice(prefix.length)) - Number.parseFloat(a.slice(prefix.length)))
      .map((name) => join(root, name, "bin"));
  } catch {
    return [];
  }
};

/**
 * The directory holding `initdb` and `pg_ctl` (symlinks resolved): only `PG_BIN` when set (a
 * chosen version), else `PATH`, then where packages put them (Debian/Ubuntu `apt-get install
 * postgresql`: /usr/lib/postgresql/<ver>/bin, newest first; RHEL: /usr/pgsql-<ver>/bin; Homebrew).
 */
export function findPostgresBin(): string | undefined {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : [
        ...(process.env.PATH ?? "").split(delimiter),
        "/usr/local/bin",
        ...versionDirs("/usr/lib/postgresql"),
        ...versionDirs("/usr", "pgsql-"),
        "/usr/local/pgsql/bin",
        "/opt/homebrew/bin",
      ];
  for (const dir of candidates) {
    if (!dir || !existsSync(join(dir, "initdb")) || !existsSync(join(dir, "pg_ctl"))) continue;
    const real = dirname(realpathSync(join(dir, "initdb")));
    if (existsSync(join(real, "pg_ctl"))) return real;
  }
  return undefined;
}

/**
 * Why the PostgreSQL tests cannot run here, or undefined when they can. With `CI` set a missing
 * server is not a reason to skip: the tests run and fail, saying what is missing.
 */
export function postgresSkipReason(): string | undefined {
  if (process.env.TEST_DATABASE_URL || findPostgresBin() || inCi()) return undefined;
  return "PostgreSQL tests skipped: no initdb/pg_ctl found (PATH, /usr/lib/postgresql/*/bin) and TEST_DATABASE_URL is not set";
}

export interface TestPostgres {
  /** Where the server is: the cluster's socket dir, or "TEST_DATABASE_URL". */
  readonly where: string;
  /** The URL of a new empty schema (selected with `search_path`): one per store under test. */
  freshUrl(): Promise<string>;
  /** Runs one statement on `url` over a connection of its own. */
  query<R extends Record<string, unknown> = Record<string, unknown>>(
    url: string,
    text: string,
    values?: unknown[],
  ): Promise<R[]>;
  /** Stops the cluster and removes its files (or drops the schemas made on TEST_DATABASE_URL). */
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

/** `url` with `search_path` set to `schema` in the startup options (kept: options already there). */
export function withSearchPath(url: string, schema: string): string {
  const parsed = new URL(url);
  const options = parsed.searchParams.get("options");
  parsed.searchParams.set("options", `${options ? `${options} ` : ""}-c search_path=${schema}`);
  return parsed.toString();
}

async function query<R extends Record<string, unknown>>(
  url: string,
  text: string,
  values: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return (await client.query<R>(text, values)).rows;
  } finally {
    await client.end();
  }
}

function schemasOn(baseUrl: string, where: string, stopServer: () => Promise<void>): TestPostgres {
  const schemas: string[] = [];
  const prefix = `eb_test_${process.pid}_${randomBytes(3).toString("hex")}`;
  return {
    where,
    async freshUrl() {
      const schema = `${prefix}_${schemas.length + 1}`;
      await query(baseUrl, `CREATE SCHEMA ${schema}`);
      schemas.push(schema);
      return withSearchPath(baseUrl, schema);
    },
    query,
    async stop() {
      if (where === "TEST_DATABASE_URL") {
        for (const schema of schemas.splice(0))
          await query(baseUrl, `DROP SCHEMA IF EXISTS ${schema} CASCADE`);
      }
      await stopServer();
    },
  };
}

/** Starts (or connects to) the test server. Call in `beforeAll`; `stop()` in `afterAll`. */
export async function startTestPostgres(): Promise<TestPostgres> {
  const external = process.env.TEST_DATABASE_URL;
  if (external) {
    await query(external, "SELECT 1");
    return schemasOn(external, "TEST_DATABASE_URL", async () => {});
  }
  const bin = findPostgresBin();
  if (!bin) {
    throw new Error(
      "PostgreSQL server binaries (initdb, pg_ctl) not found in PATH, /usr/local/bin or /usr/lib/postgresql/*/bin, " +
        "and TEST_DATABASE_URL is not set: install the postgresql package (.ci/run does with apt-get) or set TEST_DATABASE_URL",
    );
  }
  const dir = mkdtempSync(join(tmpdir(), "engage-pg-"));
  const data = join(dir, "data");
  const log = join(dir, "server.log");
  // initdb refuses to run as root: the cluster then belongs to `nobody` (root still reaches the socket).
  const asRoot = process.getuid?.() === 0;
  if (asRoot) await run("chown", ["nobody:", dir]);
  const pgRun = (tool: string, args: string[]) =>
    asRoot ? run("runuser", ["-u", "nobody", "--", join(bin, tool), ...args]) : run(join(bin, tool), args);
  const port = await freePort();
  const remove = () => rmSync(dir, { recursive: true, force: true });
  try {
    await pgRun("initdb", [
      "-D",
      data,
      "-U",
      "postgres",
      "--auth=trust",
      "-E",
      "UTF8",
      "--no-locale",
      "--no-sync",
    ]);
    await pgRun("pg_ctl", [
      "-D",
      data,
      "-l",
      log,
      "-w",
      "-t",
      "30",
      "-o",
      `-p ${port} -k ${dir} -c listen_addresses=''`,
      "start",
    ]);
  } catch (error) {
    const serverLog = existsSync(log) ? readFileSync(log, "utf8") : "";
    remove();
    throw new Error(
      `could not start a PostgreSQL test cluster with ${bin}: ${(error as Error).message}\n${serverLog}`,
    );
  }
  const url = `postgresql://postgres@localhost:${port}/postgres?host=${encodeURIComponent(dir)}`;
  return schemasOn(url, dir, async () => {
    try {
      await pgRun("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
    } finally {
      remove();
    }
  });
}

/**
 * What a PostgreSQL test file shares: the skip reason, the server its suite starts, and the
 * clean-ups run after each test. Call `hooks()` inside the suite's `describe.skipIf(skip)`.
 */
export function postgresSuite(): {
  skip: string | undefined;
  server(): TestPostgres;
  cleanups: (() => Promise<unknown> | unknown)[];
  hooks(): void;
} {
  const skip = postgresSkipReason();
  if (skip) console.warn(skip);
  let server: TestPostgres | undefined;
  const cleanups: (() => Promise<unknown> | unknown)[] = [];
  return {
    skip,
    cleanups,
    server() {
      if (!server) throw new Error("the PostgreSQL test server did not start");
      return server;
    },
    hooks() {
      beforeAll(async () => {
        server = await startTestPostgres();
      }, 60_000);
      afterAll(async () => {
        await server?.stop();
      });
      afterEach(async () => {
        for (const fn of cleanups.splice(0).reverse()) await fn();
      });
    },
  };
}
