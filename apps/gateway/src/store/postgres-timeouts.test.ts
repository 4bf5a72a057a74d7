import { randomBytes } from "node:crypto";
import { once } from "node:events";
import { type AddressInfo, connect, createServer, type NetConnectOpts, type Socket } from "node:net";
import { join } from "node:path";
import { sampleEvent } from "@engage-bridge/testkit";
import pg from "pg";
import { describe, expect, it } from "vitest";
import { ConfigError, parseConfig } from "../config/load.ts";
import { BUILTIN_CONNECTORS } from "../connectors/builtin.ts";
import { makeRegistry } from "../connectors/registry.ts";
import { signed, startTestGateway, type TestGateway, waitFor } from "../test-support/harness.ts";
import { postgresSuite } from "../test-support/postgres.ts";

/**
 * The contract's deadlines against a PostgreSQL server that misbehaves: /readyz answers 503 within
 * 2 s when the store cannot write or does not answer, and a webhook ends in 503 (which Svix
 * retries) well inside Svix's 15 s instead of hanging when the server hangs or a lock is held.
 */

const suite = postgresSuite();
const { skip, cleanups } = suite;
const pgServer = () => suite.server();

/** The contract: /readyz answers within 2 s. A hang fails the test (after 3 s), not the suite. */
const READYZ_ABORT_MS = 3_000;
/** Svix gives up after 15 s; a webhook still unanswered after 10 s fails the test. */
const WEBHOOK_ABORT_MS = 10_000;

const addPoints = () => sampleEvent("loyalty.addPoints");

async function readyz(gw: TestGateway): Promise<number> {
  const res = await fetch(`${gw.url}/readyz`, { signal: AbortSignal.timeout(READYZ_ABORT_MS) });
  await res.arrayBuffer();
  return res.status;
}

/** A signed webhook POST (as Svix sends it) that gives up after `abortMs`. */
async function postWebhook(gw: TestGateway, body = addPoints(), abortMs = WEBHOOK_ABORT_MS): Promise<number> {
  const res = await fetch(`${gw.url}/webhooks/engage`, {
    method: "POST",
    headers: { "content-type": "application/json", ...signed(body) },
    body,
    signal: AbortSignal.timeout(abortMs),
  });
  await res.arrayBuffer();
  return res.status;
}

async function gateway(config: Record<string, unknown>): Promise<TestGateway> {
  const gw = await startTestGateway(config);
  cleanups.push(() => gw.stop());
  return gw;
}

/** A client of its own on `url`, ended after the test. */
async function session(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  client.on("error", () => {});
  await client.connect();
  cleanups.push(() => client.end().catch(() => {}));
  return client;
}

/** Where the test server really listens: the cluster's Unix socket, or TEST_DATABASE_URL's host. */
function upstreamOf(url: string): NetConnectOpts {
  const parsed = new URL(url);
  const port = Number(parsed.port || 5432);
  const where = pgServer().where;
  if (where !== "TEST_DATABASE_URL") return { path: join(where, `.s.PGSQL.${port}`) };
  const host = parsed.searchParams.get("host") ?? parsed.hostname;
  return host.startsWith("/") ? { path: join(host, `.s.PGSQL.${port}`) } : { host, port };
}

/** `url` pointed at 127.0.0.1:`port` over TCP (the rest, such as `options`, kept). */
function viaPort(url: string, port: number): string {
  const parsed = new URL(url);
  parsed.searchParams.delete("host");
  parsed.hostname = "127.0.0.1";
  parsed.port = String(port);
  return parsed.toString();
}

interface FreezableProxy {
  port: number;
  /** Stops forwarding bytes both ways; connections (old and new) stay open, their bytes held. */
  freeze(): void;
  /** Forwards again, the held bytes first. */
  unfreeze(): void;
  close(): Promise<void>;
}

/** A TCP proxy that can stall like a hung server or a silent network (no RST, no FIN, nothing). */
async function startProxy(upstream: NetConnectOpts): Promise<FreezableProxy> {
  let frozen = false;
  const sockets = new Set<Socket>();
  const flushes = new Set<() => void>();

  /** Forwards `from` to `to`, holding bytes while frozen. */
  const pipe = (from: Socket, to: Socket) => {
    const held: Buffer[] = [];
    const flush = () => {
      for (const chunk of held.splice(0)) if (!to.destroyed) to.write(chunk);
    };
    flushes.add(flush);
    from.on("data", (chunk: Buffer) => {
      if (frozen) held.push(chunk);
      else to.write(chunk);
    });
    from.on("close", () => {
      flushes.delete(flush);
      to.destroy();
    });
  };

  const proxy = createServer((client) => {
    const target = connect(upstream);
    for (const socket of [client, target]) {
      sockets.add(socket);
      socket.on("error", () => {});
      socket.on("close", () => sockets.delete(socket));
    }
    pipe(client, target);
    pipe(target, client);
  });
  proxy.listen(0, "127.0.0.1");
  await once(proxy, "listening");
  return {
    port: (proxy.address() as AddressInfo).port,
    freeze() {
      frozen = true;
    },
    unfreeze() {
      frozen = false;
      for (const flush of flushes) flush();
    },
    async close() {
      const closed = new Promise<void>((resolve) => proxy.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}

describe.skipIf(skip !== undefined)(
  skip ? `PostgreSQL timeouts (${skip})` : "PostgreSQL timeouts on a real server",
  () => {
    suite.hooks();

    it("/readyz answers 503 when the server answers reads but refuses writes", async () => {
      const base = await pgServer().freshUrl();
      // A role of its own made read-only: only this gateway's new connections are affected.
      const role = `eb_ro_${randomBytes(4).toString("hex")}`;
      await pgServer().query(base, `CREATE ROLE ${role} LOGIN SUPERUSER`);
      cleanups.push(async () => {
        await pgServer().query(base, `DROP OWNED BY ${role}`);
        await pgServer().query(base, `DROP ROLE ${role}`);
      });
      const parsed = new URL(base);
      parsed.username = role;
      const url = parsed.toString();

      const gw = await gateway({ store: url });
      expect(await readyz(gw)).toBe(200);
      expect(await postWebhook(gw)).toBe(204);

      // As after a failover onto a read-only standby: the connections drop, new ones can only read.
      await pgServer().query(base, `ALTER ROLE ${role} SET default_transaction_read_only = on`);
      await pgServer().query(
        base,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1 AND pid <> pg_backend_pid()",
        [role],
      );
      // The server still answers this role's reads, and refuses its writes.
      const probe = await session(url);
      expect((await probe.query("SELECT 1 AS one")).rows).toEqual([{ one: 1 }]);
      await expect(probe.query("CREATE TEMP TABLE t (x int)")).rejects.toThrow(/read-only/);

      // Once the broken connections are gone, every answer is 503 (SELECT 1 alone would say 200).
      await waitFor(async () => (await readyz(gw)) === 503, 10_000, "/readyz 503");
      for (let i = 0; i < 5; i++) {
        const started = Date.now();
        expect(await readyz(gw)).toBe(503);
        expect(Date.now() - started).toBeLessThan(2_500);
      }
      // Nor is a webhook acknowledged that could not be stored.
      expect(await postWebhook(gw)).toBe(503);
    });

    it("a hung server: /readyz and webhooks answer 503 in time, and the gateway recovers", async () => {
      const url = await pgServer().freshUrl();
      const proxy = await startProxy(upstreamOf(url));
      cleanups.push(() => proxy.close());
      const gw = await gateway({
        store: viaPort(url, proxy.port),
        storeOptions: { statementTimeoutMs: 1_000, connectTimeoutMs: 1_000 },
      });
      // Should an assertion fail while frozen, the gateway can still close (clean-ups run in reverse).
      cleanups.push(() => proxy.unfreeze());
      expect(await readyz(gw)).toBe(200);
      expect(await postWebhook(gw)).toBe(204);

      proxy.freeze();
      const started = Date.now();
      const ready = await readyz(gw);
      expect(Date.now() - started).toBeLessThan(2_500);
      expect(ready).toBe(503);
      // Not 2xx (it is not stored) and not a hang past Svix's 15 s.
      expect(await postWebhook(gw)).toBe(503);
      // Another round, now that the pool holds connections stuck behind the frozen ones.
      expect(await readyz(gw)).toBe(503);
      expect(await postWebhook(gw)).toBe(503);

      proxy.unfreeze();
      await waitFor(async () => (await readyz(gw)) === 200, 15_000, "/readyz 200 again");
      await waitFor(async () => (await postWebhook(gw)) === 204, 15_000, "a webhook stored again");
    });

    it("a lock held longer than the lock timeout makes a webhook fail fast, not wait", async () => {
      const url = await pgServer().freshUrl();
      const gw = await gateway({ store: url, storeOptions: { statementTimeoutMs: 1_000 } });
      expect(await postWebhook(gw)).toBe(204);

      const locker = await session(url);
      await locker.query("BEGIN");
      await locker.query("LOCK TABLE events IN ACCESS EXCLUSIVE MODE");
      try {
        expect(await postWebhook(gw)).toBe(503);
      } finally {
        await locker.query("ROLLBACK");
      }
      expect(await postWebhook(gw)).toBe(204);
      expect(await readyz(gw)).toBe(200);
    });
  },
);

describe("storeOptions in the config", () => {
  const registry = makeRegistry(BUILTIN_CONNECTORS);
  const parse = (extra: Record<string, unknown>) =>
    parseConfig(
      JSON.stringify({
        store: "postgres://eb@db.example:5432/eb",
        sources: { engage: { signingSecrets: ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"] } },
        ...extra,
      }),
      "(test)",
      { registry, env: {} },
    );
  const problemsOf = (extra: Record<string, unknown>) => {
    try {
      parse(extra);
    } catch (error) {
      if (error instanceof ConfigError) return error.problems;
      throw error;
    }
    throw new Error("the config was accepted");
  };

  it("defaults the statement timeout to 5 s and accepts a shorter one", () => {
    expect(parse({}).storeOptions.statementTimeoutMs).toBe(5_000);
    expect(parse({ storeOptions: { statementTimeoutMs: 1_000 } }).storeOptions.statementTimeoutMs).toBe(
      1_000,
    );
  });

  it("refuses a statement timeout that Svix's 15 s would outlive, naming the key", () => {
    const problems = problemsOf({ storeOptions: { statementTimeoutMs: 20_000 } });
    expect(problems.map((p) => p.path)).toContain("storeOptions.statementTimeoutMs");
    expect(problems).toHaveLength(1);
  });
});
