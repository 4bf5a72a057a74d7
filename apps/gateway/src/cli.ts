// First: tunes the heap and starts tracing (when configured) before the imports below load the
// gateway and the connector SDKs.
import "./start-preload.ts";
import { readFileSync } from "node:fs";
import { relative } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { stringify } from "yaml";
import {
  ConfigError,
  loadConfigWithPlugins,
  loadStoreConfig,
  locateConfig,
  maskConfig,
} from "./config/load.ts";
import { BUILTIN_CONNECTORS } from "./connectors/builtin.ts";
import { makeRegistry } from "./connectors/registry.ts";
import { type Role, startGateway } from "./gateway.ts";
import { createLogger } from "./logger.ts";
import { SANDBOX_SOURCE, type Sandbox, sandboxConfig, sandboxStore, startSandbox } from "./sandbox.ts";
import { sendSamples } from "./send-sample.ts";
import { openStore } from "./store/open.ts";
import { DELIVERY_STATUSES, type DeliveryStatus, type EventStatus, type Store } from "./store/store.ts";
import { formatEventDetail, formatTable } from "./table.ts";
import { activeTracing, TRACING_FLUSH_MS } from "./tracing.ts";

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);

type Loaded = Awaited<ReturnType<typeof loadConfigWithPlugins>> & { file: string | undefined };

async function startSandboxOrExit(): Promise<Sandbox> {
  try {
    return await startSandbox(makeRegistry(BUILTIN_CONNECTORS));
  } catch (error) {
    err(`engage-bridge: cannot start the sandbox: ${(error as Error).message}`);
    process.exit(1);
  }
}

/** A {@link ConfigError} is printed (every problem) and exits 1; anything else is thrown on. */
function exitOnConfigError(error: unknown): never {
  if (error instanceof ConfigError) {
    err(error.message);
    process.exit(1);
  }
  throw error;
}

/** Runs `fn`, exiting 1 on a {@link ConfigError}. */
function orExit<T>(fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    return exitOnConfigError(error);
  }
}

/**
 * The config file to use, or `undefined` for sandbox mode; exits 1 when a named file does not exist
 * or when `NODE_ENV=production` and there is none.
 */
const configFileOrExit = (explicit: string | undefined) => orExit(() => locateConfig(explicit));

/** The configured file (with its plugins), or sandbox mode when there is none. Exits 1 listing every problem. */
async function loadOrSandbox(
  explicit: string | undefined,
  options: { loadPlugins?: boolean } = {},
): Promise<Loaded> {
  const file = configFileOrExit(explicit);
  try {
    if (file)
      return { ...(await loadConfigWithPlugins(file, { builtin: BUILTIN_CONNECTORS, ...options })), file };
    const registry = makeRegistry(BUILTIN_CONNECTORS);
    return { config: sandboxConfig(registry), registry, file, secrets: new Set(), unvalidated: [] };
  } catch (error) {
    return exitOnConfigError(error);
  }
}

const wholeNumber = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
};

const DURATION = /^(\d+)\s*(d|h|m)$/;
const UNIT_MS: Record<string, number> = { d: 86_400_000, h: 3_600_000, m: 60_000 };
/** `30d`, `12h`, `90m` → milliseconds. */
const duration = (value: string) => {
  const match = DURATION.exec(value.trim());
  if (!match) throw new InvalidArgumentError("expected a duration such as 30d, 12h or 90m");
  return Number(match[1]) * (UNIT_MS[match[2] ?? "d"] ?? 0);
};

/** Dedup must hold for 7 days (contract): retention may not purge younger events. */
const MIN_RETENTION_MS = 7 * 86_400_000;

/** The gateway package's version (read at run time: the CLI runs from source and from the build). */
const VERSION = (
  JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }
).version;

const program = new Command()
  .name("engage-bridge")
  .description("Voyado Engage webhooks, verified, stored durably and delivered to the systems you connect")
  .version(VERSION, "--version", "print the version")
  .showHelpAfterError();

program
  .command("start")
  .description("run the gateway: HTTP ingest and delivery workers; sandbox mode when no config file is found")
  .option("--config <file>", "config file (YAML or JSON)")
  .option("--host <address>", "address to listen on (overrides server.host; sandbox mode: 127.0.0.1)")
  .addOption(
    new Option("--role <role>", "run only part of the gateway")
      .choices(["all", "ingest", "worker"])
      .default("all"),
  )
  .action(async (opts: { config?: string; host?: string; role: Role }) => {
    const file = configFileOrExit(opts.config);
    const sandbox = file ? undefined : await startSandboxOrExit();
    const loaded = sandbox
      ? { config: sandbox.config, registry: makeRegistry(BUILTIN_CONNECTORS) }
      : await loadOrSandbox(file);
    const { registry } = loaded;
    const config = opts.host
      ? { ...loaded.config, server: { ...loaded.config.server, host: opts.host } }
      : loaded.config;
    const logger = createLogger();
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    try {
      gateway = await startGateway({
        config,
        registry,
        logger,
        role: opts.role,
        sandboxState: sandbox?.state,
      });
    } catch (error) {
      err(`engage-bridge: cannot start: ${(error as Error).message}`);
      process.exit(1);
    }
    logger.info(
      {
        url: gateway.url,
        store: gateway.store.kind,
        role: opts.role,
        sources: Object.keys(config.sources),
        connectors: gateway.engine?.connectors ?? [],
      },
      "gateway started",
    );
    if (sandbox) printSandboxBanner(sandbox, gateway.url);
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "shutting down");
      const force = setTimeout(() => {
        logger.error("shutdown took too long; exiting");
        process.exit(1);
      }, 9_500);
      force.unref();
      const began = Date.now();
      await gateway.close();
      await sandbox?.close();
      // Spans still buffered go out last, in what is left before the forced exit (2 s at most).
      await activeTracing()?.shutdown(Math.min(TRACING_FLUSH_MS, 9_000 - (Date.now() - began)));
      logger.info("stopped");
      process.exit(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });

/**
 * How the user ran this CLI, for the commands the banner suggests: `pnpm exec engage-bridge` in the
 * repository, `node <path>/bin/engage-bridge.js` from the deploy artifact, else the bin name.
 */
function invocation(): string {
  const script = process.argv[1] ?? "";
  if (process.env.npm_execpath || script.includes("node_modules/.bin")) return "pnpm exec engage-bridge";
  if (script.endsWith(".js")) {
    const near = relative(process.cwd(), script);
    return `node ${near && !near.startsWith("..") ? near : script}`;
  }
  return "engage-bridge";
}

function printSandboxBanner(sandbox: Sandbox, url: string): void {
  const secret = sandbox.config.sources[SANDBOX_SOURCE]?.signingSecrets[0] ?? "";
  const cli = invocation();
  const rule = `  ${"=".repeat(78)}`;
  err(
    [
      "",
      rule,
      "  SANDBOX MODE — fake targets and a generated secret; NOT FOR PRODUCTION",
      "  No config file was found (--config, ENGAGE_BRIDGE_CONFIG, ./engage-bridge.yaml).",
      "  Nothing leaves this machine: every connector's target and the Engage API are in-process",
      "  fakes. With NODE_ENV=production, start refuses to run without a config file.",
      rule,
      `  listening     ${url}/webhooks/${SANDBOX_SOURCE}`,
      `  store         ${sandbox.config.store}`,
      `  secret        ${secret}`,
      `  dashboard     ${url}/admin/   (token ${sandbox.config.admin?.token ?? ""})`,
      `                ${url}/admin/#token=${sandbox.config.admin?.token ?? ""}   (opens it signed in)`,
      "  fakes",
      ...Object.entries(sandbox.fakes).map(([name, fakeUrl]) => `    ${name.padEnd(16)} ${fakeUrl}`),
      "",
      "  Try, in another terminal:",
      `    ${cli} send-sample --url ${url}/webhooks/${SANDBOX_SOURCE} --secret ${secret}`,
      `    ${cli} deliveries`,
      `    curl ${url}/sandbox        # what each fake target holds now`,
      "",
    ].join("\n"),
  );
}

program
  .command("check-config")
  .description("validate the config and print it with secrets masked; exit 1 listing every problem")
  .option("--config <file>", "config file (YAML or JSON)")
  .option(
    "--load-plugins",
    "also load the plugins the file names (runs their code) and validate their blocks",
  )
  .action(async (opts: { config?: string; loadPlugins?: boolean }) => {
    const file = configFileOrExit(opts.config);
    if (!file) {
      err("no config file: pass --config FILE, set ENGAGE_BRIDGE_CONFIG or create ./engage-bridge.yaml");
      process.exit(1);
    }
    const { config, secrets, unvalidated } = await loadOrSandbox(file, {
      loadPlugins: opts.loadPlugins === true,
    });
    for (const name of unvalidated)
      err(
        `connectors.${name}: not validated: no built-in connector has its type; pass --load-plugins to load the plugins and check it`,
      );
    out(`# ${file}: valid\n${stringify(maskConfig(config, secrets))}`);
  });

program
  .command("send-sample")
  .description("sign and post sample Engage events like Svix does (retrying on its schedule, compressed)")
  .option(
    "--url <url>",
    "webhook URL",
    `http://127.0.0.1:${process.env.PORT ?? 8080}/webhooks/${SANDBOX_SOURCE}`,
  )
  .option("--secret <secret>", "signing secret (default: the configured or sandbox secret)")
  .option("--type <type>", "event type (or sample file name); default: every sample once")
  .option("--count <n>", "number of events to send", wholeNumber)
  .option("--max-attempts <n>", "attempts per event, Svix's schedule compressed 1000x", wholeNumber, 5)
  .option("--config <file>", "config file to take the secret from")
  .action(
    async (opts: {
      url: string;
      secret?: string;
      type?: string;
      count?: number;
      maxAttempts: number;
      config?: string;
    }) => {
      let secret = opts.secret;
      if (!secret) {
        const { config } = await loadOrSandbox(opts.config);
        const source = new URL(opts.url).pathname.split("/").at(-1) ?? SANDBOX_SOURCE;
        secret = (config.sources[source] ?? Object.values(config.sources)[0])?.signingSecrets[0];
      }
      if (!secret) {
        err("no signing secret: pass --secret");
        process.exit(1);
      }
      const results = await sendSamples({
        url: opts.url,
        secret,
        type: opts.type,
        count: opts.count,
        maxAttempts: opts.maxAttempts,
        log: out,
      });
      const failed = results.filter((r) => !r.delivered).length;
      out(`${results.length - failed}/${results.length} delivered`);
      process.exit(failed > 0 ? 1 : 0);
    },
  );

/** Read and operator commands need only the store: not the connectors' secrets, nor plugins. */
async function withStore<T>(configFile: string | undefined, fn: (store: Store) => Promise<T>): Promise<T> {
  const file = configFileOrExit(configFile);
  const config = file ? orExit(() => loadStoreConfig(file)) : { store: sandboxStore(), storeOptions: {} };
  // A one-shot command may wait for another process's SQLite lock: it serves no requests meanwhile.
  const store = await openStore(config.store, { ...config.storeOptions, busyTimeoutMs: 5_000 });
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

program
  .command("events")
  .description("list stored events, newest first")
  .option("--config <file>", "config file")
  .addOption(
    new Option("--status <status>", "event status").choices(["accepted", "ignored", "undecryptable"]),
  )
  .option("--type <type>", "event type")
  .option("--contact <id>", "contact id, exactly (shows personal data: operators only)")
  .option("--source <name>", "source")
  .option("--limit <n>", "rows to show (0 = all)", wholeNumber, 100)
  .option("--json", "print a JSON array")
  .action(
    async (opts: {
      config?: string;
      status?: EventStatus;
      type?: string;
      contact?: string;
      source?: string;
      limit: number;
      json?: boolean;
    }) => {
      const rows = await withStore(opts.config, (store) =>
        store.listEvents({
          status: opts.status,
          type: opts.type,
          contactId: opts.contact,
          source: opts.source,
          limit: opts.limit,
        }),
      );
      if (opts.json) {
        out(JSON.stringify(rows.map(({ statusReason: _, ...row }) => row)));
        return;
      }
      out(
        formatTable(
          ["receivedAt", "id", "type", "status", "source", "contactId", "svixId"],
          rows.map((r) => [
            r.receivedAt,
            r.id,
            r.type,
            r.statusReason ? `${r.status} (${r.statusReason})` : r.status,
            r.source,
            r.contactId ?? "",
            r.svixId,
          ]),
        ),
      );
    },
  );

program
  .command("event")
  .description("one event with its deliveries and every attempt (as GET /admin/events/<id>)")
  .argument("<id>", "Engage event id or svix id")
  .option("--config <file>", "config file")
  .option("--json", "print the JSON object")
  .action(async (id: string, opts: { config?: string; json?: boolean }) => {
    const found = await withStore(opts.config, (store) => store.eventDetail(id));
    if (!found) {
      err(`engage-bridge: no event with id or svix id ${id}`);
      process.exit(1);
    }
    const { body: _body, ...detail } = found;
    if (opts.json) {
      out(JSON.stringify(detail));
      return;
    }
    out(formatEventDetail(detail));
  });

program
  .command("deliveries")
  .description("list deliveries with attempts and last error, most recently updated first")
  .option("--config <file>", "config file")
  .addOption(new Option("--status <status>", "delivery status").choices([...DELIVERY_STATUSES]))
  .option("--connector <name>", "connector")
  .option("--event <id>", "Engage event id or svix id")
  .option("--limit <n>", "rows to show (0 = all)", wholeNumber, 100)
  .option("--json", "print a JSON array")
  .action(
    async (opts: {
      config?: string;
      status?: DeliveryStatus;
      connector?: string;
      event?: string;
      limit: number;
      json?: boolean;
    }) => {
      const rows = await withStore(opts.config, (store) =>
        store.listDeliveries({
          status: opts.status,
          connector: opts.connector,
          eventId: opts.event,
          limit: opts.limit,
        }),
      );
      if (opts.json) {
        out(JSON.stringify(rows));
        return;
      }
      out(
        formatTable(
          ["updatedAt", "eventId", "connector", "status", "attempts", "nextAttemptAt", "lastError"],
          rows.map((r) => [
            r.updatedAt,
            r.eventId,
            r.connector,
            r.status,
            String(r.attempts),
            r.nextAttemptAt ?? "",
            r.lastError ?? "",
          ]),
        ),
      );
    },
  );

program
  .command("replay")
  .description("re-queue finished deliveries of one event, or every dead delivery; prints how many")
  .option("--config <file>", "config file")
  .option("--event <id>", "Engage event id or svix id")
  .addOption(new Option("--status <status>", "re-queue every delivery in this status").choices(["dead"]))
  .option("--connector <name>", "only this connector")
  .action(async (opts: { config?: string; event?: string; status?: "dead"; connector?: string }) => {
    if (!opts.event && !opts.status) {
      err("replay needs --event ID or --status dead");
      process.exit(1);
    }
    const count = await withStore(opts.config, (store) =>
      store.replay({ eventId: opts.event, status: opts.status, connector: opts.connector }),
    );
    out(`${count} ${count === 1 ? "delivery" : "deliveries"} re-queued`);
  });

program
  .command("stats")
  .description("counts per event type, per connector and status, queue depth, oldest pending age")
  .option("--config <file>", "config file")
  .option("--json", "print JSON")
  .action(async (opts: { config?: string; json?: boolean }) => {
    const { pendingByConnector: _, ...stats } = await withStore(opts.config, (store) => store.stats());
    if (opts.json) {
      out(JSON.stringify(stats));
      return;
    }
    out("events");
    out(
      formatTable(
        ["type", "count"],
        Object.entries(stats.events).map(([t, n]) => [t || "(unreadable)", String(n)]),
      ),
    );
    out("\ndeliveries");
    out(
      formatTable(
        ["connector", ...DELIVERY_STATUSES],
        Object.entries(stats.deliveries).map(([c, s]) => [
          c,
          ...DELIVERY_STATUSES.map((k) => String(s[k] ?? 0)),
        ]),
      ),
    );
    const oldest = stats.oldestPendingSeconds === null ? "-" : `${stats.oldestPendingSeconds}s`;
    out(`\nqueue depth ${stats.queueDepth}; oldest pending ${oldest}`);
  });

program
  .command("purge")
  .description("delete finished events older than the cutoff (retention); at least 7 days, the dedup window")
  .requiredOption("--older-than <duration>", "cutoff such as 30d", duration)
  .option("--config <file>", "config file")
  .action(async (opts: { olderThan: number; config?: string }) => {
    if (opts.olderThan < MIN_RETENTION_MS) {
      err("purge: --older-than must be at least 7d (svix-id dedup holds for 7 days)");
      process.exit(1);
    }
    const count = await withStore(opts.config, (store) => store.purge(new Date(Date.now() - opts.olderThan)));
    out(`${count} ${count === 1 ? "event" : "events"} purged`);
  });

program
  .command("forget-contact")
  .description("erase every stored event, delivery and consent record of one contact (GDPR erasure)")
  .argument("<contactId>", "Engage contact id")
  .option("--config <file>", "config file")
  .action(async (contactId: string, opts: { config?: string }) => {
    const count = await withStore(opts.config, (store) => store.forgetContact(contactId));
    out(`${count} ${count === 1 ? "event" : "events"} erased`);
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  err(`engage-bridge: ${(error as Error).message}`);
  process.exit(1);
});
