import { resolve } from "node:path";
import { Command, InvalidArgumentError, Option } from "commander";
import { stringify } from "yaml";
import { ConfigError, loadConfigFile, maskConfig, resolveConfigPath } from "./config/load.ts";
import type { GatewayConfig } from "./config/schema.ts";
import { builtinRegistry } from "./connectors/builtin.ts";
import { startGateway } from "./gateway.ts";
import { createLogger } from "./logger.ts";
import { SANDBOX_SOURCE, sandboxConfig } from "./sandbox.ts";
import { sendSamples } from "./send-sample.ts";
import { openStore } from "./store/open.ts";
import type { EventStatus } from "./store/store.ts";
import { formatTable } from "./table.ts";

const out = (text: string) => process.stdout.write(`${text}\n`);
const err = (text: string) => process.stderr.write(`${text}\n`);
const registry = builtinRegistry();

interface Loaded {
  config: GatewayConfig;
  file: string | undefined;
}

/** The configured file, or sandbox mode when there is none. Exits 1 listing every problem. */
function loadOrSandbox(explicit: string | undefined): Loaded {
  const file = resolveConfigPath(explicit);
  try {
    return file
      ? { config: loadConfigFile(file, { registry }), file }
      : { config: sandboxConfig(registry), file };
  } catch (error) {
    if (error instanceof ConfigError) {
      err(error.message);
      process.exit(1);
    }
    throw error;
  }
}

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError("expected a whole number");
  return n;
};

const program = new Command()
  .name("engage-bridge")
  .description("Voyado Engage webhooks to HubSpot, SendGrid, Google Sheets and more")
  .showHelpAfterError();

program
  .command("start")
  .description("run the gateway (HTTP ingest); sandbox mode when no config file is found")
  .option("--config <file>", "config file (YAML or JSON)")
  .addOption(
    new Option("--role <role>", "run only part of the gateway")
      .choices(["all", "ingest", "worker"])
      .default("all"),
  )
  .action(async (opts: { config?: string; role: string }) => {
    const { config, file } = loadOrSandbox(opts.config);
    const logger = createLogger();
    let gateway: Awaited<ReturnType<typeof startGateway>>;
    try {
      gateway = await startGateway({ config, registry, logger });
    } catch (error) {
      err(`engage-bridge: cannot start: ${(error as Error).message}`);
      process.exit(1);
    }
    logger.info(
      { url: gateway.url, store: gateway.store.kind, sources: Object.keys(config.sources), role: opts.role },
      "gateway started",
    );
    if (!file) {
      const secret = config.sources[SANDBOX_SOURCE]?.signingSecrets[0] ?? "";
      err(
        [
          "",
          "  engage-bridge — sandbox mode (no config file found)",
          `  listening     ${gateway.url}/webhooks/${SANDBOX_SOURCE}`,
          `  store         ${config.store}`,
          `  secret        ${secret}`,
          "",
          "  Try, in another terminal:",
          `    pnpm exec engage-bridge send-sample --url ${gateway.url}/webhooks/${SANDBOX_SOURCE} --secret ${secret}`,
          "    pnpm exec engage-bridge events",
          "",
        ].join("\n"),
      );
    }
    let stopping = false;
    const stop = async (signal: string) => {
      if (stopping) return;
      stopping = true;
      logger.info({ signal }, "shutting down");
      const force = setTimeout(() => {
        logger.error("shutdown took too long; exiting");
        process.exit(1);
      }, 10_000);
      force.unref();
      await gateway.close();
      logger.info("stopped");
      process.exit(0);
    };
    process.on("SIGTERM", () => void stop("SIGTERM"));
    process.on("SIGINT", () => void stop("SIGINT"));
  });

program
  .command("check-config")
  .description("validate the config and print it with secrets masked; exit 1 listing every problem")
  .option("--config <file>", "config file (YAML or JSON)")
  .action((opts: { config?: string }) => {
    const file = resolveConfigPath(opts.config);
    if (!file) {
      err("no config file: pass --config FILE, set ENGAGE_BRIDGE_CONFIG or create ./engage-bridge.yaml");
      process.exit(1);
    }
    const { config } = loadOrSandbox(file);
    out(`# ${file}: valid\n${stringify(maskConfig(config))}`);
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
  .option("--count <n>", "number of events to send", positiveInt)
  .option("--max-attempts <n>", "attempts per event, Svix's schedule compressed 1000x", positiveInt, 5)
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
        const { config } = loadOrSandbox(opts.config);
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

async function withStore<T>(
  configFile: string | undefined,
  fn: (store: Awaited<ReturnType<typeof openStore>>) => Promise<T>,
): Promise<T> {
  const { config } = loadOrSandbox(configFile);
  const store = await openStore(config.store);
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
    new Option("--status <status>", "accepted, ignored or undecryptable").choices([
      "accepted",
      "ignored",
      "undecryptable",
    ]),
  )
  .option("--type <type>", "event type")
  .option("--limit <n>", "rows to show (0 = all)", positiveInt, 100)
  .option("--json", "print a JSON array")
  .action(
    async (opts: { config?: string; status?: EventStatus; type?: string; limit: number; json?: boolean }) => {
      const rows = await withStore(opts.config, (store) =>
        store.listEvents({ status: opts.status, type: opts.type, limit: opts.limit }),
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
  .command("stats")
  .description("counts per event type, per connector and status, queue depth, oldest pending age")
  .option("--config <file>", "config file")
  .option("--json", "print JSON")
  .action(async (opts: { config?: string; json?: boolean }) => {
    const stats = await withStore(opts.config, (store) => store.stats());
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
        ["connector", "pending", "retrying", "delivered", "skipped", "dead"],
        Object.entries(stats.deliveries).map(([c, s]) => [
          c,
          ...(["pending", "retrying", "delivered", "skipped", "dead"] as const).map((k) => String(s[k] ?? 0)),
        ]),
      ),
    );
    out(
      `\nqueue depth ${stats.queueDepth}; oldest pending ${stats.oldestPendingSeconds === null ? "-" : `${stats.oldestPendingSeconds}s`}`,
    );
  });

program.parseAsync(process.argv).catch((error: unknown) => {
  err(`engage-bridge: ${(error as Error).message}`);
  process.exit(1);
});

export const cliCwd = resolve(".");
