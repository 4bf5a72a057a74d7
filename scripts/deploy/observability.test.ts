// Checks deploy/observability/ (Prometheus rules, Grafana dashboard, README) against the gateway:
//
//   node --test scripts/deploy/observability.test.ts      (also run by `pnpm test:deploy`)
//
// The rule file's structure (every alert: expr, for, labels.severity, annotations.summary/description)
// and the dashboard's (uid, title, datasource variable, job/instance/connector variables) are checked
// first. Then a real gateway is started from the sources (`node apps/gateway/src/cli.ts start`) with
// two webhook connectors pointed at a local target (one answers 503, one 400), sent one signed sample
// (`engage-bridge send-sample`) and one unsigned request, so that every labelled series exists; every
// `engage_bridge_*` name used in the rules, the dashboard and the README must then be a sample name of
// its `/metrics` (histograms with their _bucket/_sum/_count suffix), and every label a selector, a
// `by (…)` clause, a legend or an alert annotation uses must be a label that metric has (or job/instance,
// which Prometheus adds). Where promtool is on PATH, `promtool check rules` checks the file and
// `promtool test rules` the alerts on made-up series (skipped with the reason otherwise).
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { delimiter, join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { DELIVERY_STATUSES } from "../../apps/gateway/src/store/store.ts";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const read = (file: string) => readFileSync(join(ROOT, file), "utf8");

const RULES = "deploy/observability/prometheus-rules.yaml";
const DASHBOARD = "deploy/observability/grafana-dashboard.json";
const README = "deploy/observability/README.md";
const CLI = join(ROOT, "apps/gateway/src/cli.ts");

// The gateway's own `yaml` dependency (the parser its config loader uses); the root has none of its own.
const yaml = createRequire(join(ROOT, "apps/gateway/package.json"))("yaml") as {
  parse(text: string, options?: { uniqueKeys?: boolean }): unknown;
};

type Json = Record<string, unknown>;
const isRecord = (value: unknown): value is Json =>
  value !== null && typeof value === "object" && !Array.isArray(value);

/** HARD-CODED (Prometheus): labels the server adds to every scraped series; not in /metrics. */
const TARGET_LABELS = new Set(["job", "instance"]);
/** HARD-CODED (what an alert may be routed on). */
const SEVERITIES = ["critical", "warning", "info"];
/** HARD-CODED (Prometheus duration syntax). */
const DURATION = /^(\d+(ms|s|m|h|d|w|y))+$/;

// ---------------------------------------------------------------------------------------------------
// Known label values, from the app's sources: a typo in `status="dead"` or a reason would match nothing.

/** Every lower_snake string literal of a source file. */
const literals = (file: string) =>
  new Set([...read(file).matchAll(/"([a-z][a-z_]*)"/g)].map((m) => m[1] ?? ""));
/** The reasons engage_bridge_webhooks_rejected_total counts: ingest's own and the verifier's. */
const REJECT_REASONS = new Set([
  ...literals("apps/gateway/src/http/ingest.ts"),
  ...literals("packages/core/src/errors.ts"),
]);
const KNOWN_VALUES: Record<string, Record<string, ReadonlySet<string>>> = {
  engage_bridge_delivery_outcomes_total: { status: new Set(DELIVERY_STATUSES) },
  engage_bridge_deliveries: { status: new Set(DELIVERY_STATUSES) },
  engage_bridge_webhooks_rejected_total: { reason: REJECT_REASONS },
};

// ---------------------------------------------------------------------------------------------------
// A small PromQL reader: enough to find the metrics, label matchers and grouping labels of an expression.

interface Matcher {
  label: string;
  op: string;
  value: string;
}
interface Selector {
  metric: string;
  matchers: Matcher[];
}
interface Analysis {
  selectors: Selector[];
  /** Every metric name referenced (with or without braces). */
  metrics: Set<string>;
  /** Labels of by/without/on/ignoring/group_left/group_right clauses. */
  grouping: Set<string>;
  /** Labels of `by (…)` clauses only: what an aggregated result keeps. */
  byLabels: Set<string>;
  aggregated: boolean;
}

const KEYWORDS = new Set(["and", "or", "unless", "offset", "bool", "inf", "nan"]);

function analyse(source: string, where: string): Analysis {
  // Grafana's ${var} and ${var:format} would read as a selector's braces.
  let expr = source.replace(/\$\{(\w+)(?::\w+)?\}/g, "$$$1");
  let depth = 0;
  for (const ch of expr) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    assert.ok(depth >= 0, `${where}: unbalanced parentheses in ${source}`);
  }
  assert.equal(depth, 0, `${where}: unbalanced parentheses in ${source}`);

  const selectors: Selector[] = [];
  const metrics = new Set<string>();
  expr = expr.replace(
    /([a-zA-Z_:][a-zA-Z0-9_:]*)?\s*\{([^{}]*)\}/g,
    (_, name: string | undefined, body: string) => {
      assert.ok(name, `${where}: a selector without a metric name ({${body}}) in ${source}`);
      const matchers: Matcher[] = [];
      let rest = body;
      for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*"((?:[^"\\]|\\.)*)"/g)) {
        matchers.push({ label: m[1] ?? "", op: m[2] ?? "", value: m[3] ?? "" });
        rest = rest.replace(m[0], "");
      }
      assert.match(rest, /^[\s,]*$/, `${where}: cannot read the matchers {${body}} in ${source}`);
      selectors.push({ metric: name, matchers });
      return ` ${name} `;
    },
  );
  assert.ok(!/[{}]/.test(expr), `${where}: stray braces in ${source}`);

  const grouping = new Set<string>();
  const byLabels = new Set<string>();
  expr = expr.replace(
    /\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)/g,
    (_, kind: string, list: string) => {
      for (const label of list
        .split(",")
        .map((l) => l.trim())
        .filter(Boolean)) {
        assert.match(label, /^[a-zA-Z_][a-zA-Z0-9_]*$/, `${where}: bad label ${label} in ${kind} (…)`);
        grouping.add(label);
        if (kind === "by") byLabels.add(label);
      }
      return " ";
    },
  );
  const aggregated = /\b(sum|min|max|avg|count|stddev|stdvar|topk|bottomk|quantile|group)\s*\(/.test(expr);
  expr = expr.replace(/\[[^\]]*\]/g, " ").replace(/"(?:[^"\\]|\\.)*"/g, " ");
  for (const m of expr.matchAll(/[0-9][0-9a-zA-Z.+-]*|\$[a-zA-Z_]\w*|([a-zA-Z_:][a-zA-Z0-9_:]*)(\s*\()?/g)) {
    const [, identifier, call] = m;
    if (!identifier || call || KEYWORDS.has(identifier.toLowerCase())) continue;
    metrics.add(identifier);
  }
  return { selectors, metrics, grouping, byLabels, aggregated };
}

/** The labels an expression's result has: the `by` labels when aggregated, else its metrics' and the target's. */
function resultLabels(analysis: Analysis, labelsOf: (metric: string) => ReadonlySet<string>): Set<string> {
  if (analysis.aggregated) return analysis.byLabels;
  const labels = new Set(TARGET_LABELS);
  for (const metric of analysis.metrics) for (const l of labelsOf(metric)) labels.add(l);
  return labels;
}

// ---------------------------------------------------------------------------------------------------
// The files.

interface AlertRule {
  alert?: string;
  record?: string;
  expr: string;
  for?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
const rulesFile = yaml.parse(read(RULES), { uniqueKeys: true }) as {
  groups: { name: string; rules: AlertRule[] }[];
};
const rules = rulesFile.groups.flatMap((g) => g.rules.map((rule) => ({ group: g.name, rule })));
const alerts = rules.filter((r) => r.rule.alert !== undefined);
const records = new Set(rules.flatMap((r) => (r.rule.record ? [r.rule.record] : [])));

interface Target {
  expr: string;
  legendFormat?: string;
}
interface Panel {
  id: number;
  type: string;
  title: string;
  datasource?: { type?: string; uid?: string };
  targets?: Target[];
  panels?: Panel[];
  gridPos?: { h: number; w: number; x: number; y: number };
}
interface Variable {
  type: string;
  name: string;
  query?: string | { query?: string };
  datasource?: { type?: string; uid?: string };
}
const dashboard = JSON.parse(read(DASHBOARD)) as {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Variable[] };
};
const allPanels = (list: Panel[]): Panel[] => list.flatMap((p) => [p, ...allPanels(p.panels ?? [])]);
const panels = allPanels(dashboard.panels);
const panelTargets = panels.flatMap((panel) =>
  (panel.targets ?? []).map((target) => ({ where: `${DASHBOARD}: panel "${panel.title}"`, target })),
);
const variableQuery = (v: Variable) => (typeof v.query === "string" ? v.query : (v.query?.query ?? ""));

/** Every expression in the two files, with where it is. */
const expressions = [
  ...rules.map(({ group, rule }) => ({
    where: `${RULES}: ${group}/${rule.alert ?? rule.record}`,
    expr: rule.expr,
  })),
  ...panelTargets.map(({ where, target }) => ({ where, expr: target.expr })),
];

describe(RULES, () => {
  test("is a rule file: groups of rules, each an alert or a record with an expr, names unique", () => {
    assert.ok(Array.isArray(rulesFile.groups) && rulesFile.groups.length > 0, `${RULES}: no groups`);
    const groupNames = rulesFile.groups.map((g) => g.name);
    assert.equal(new Set(groupNames).size, groupNames.length, `${RULES}: group names repeat`);
    const names = new Set<string>();
    for (const { group, rule } of rules) {
      const name = rule.alert ?? rule.record;
      assert.ok(
        (rule.alert === undefined) !== (rule.record === undefined),
        `${RULES}: a rule of ${group} must have exactly one of alert and record`,
      );
      assert.ok(!names.has(String(name)), `${RULES}: ${name} is defined twice`);
      names.add(String(name));
      assert.equal(typeof rule.expr, "string", `${RULES}: ${name} has no expr`);
      if (rule.record) {
        assert.match(
          rule.record,
          /^engage_bridge:[a-z0-9_]+:[a-z0-9_]+$/,
          `${RULES}: record name ${rule.record}`,
        );
        assert.equal(rule.for, undefined, `${RULES}: recording rule ${name} has a for:`);
      }
    }
    assert.ok(alerts.length > 0, `${RULES}: no alerts`);
  });

  test("every alert has for, labels.severity, annotations.summary and a description naming a metric and a remedy", () => {
    for (const { rule } of alerts) {
      const name = rule.alert;
      assert.match(String(rule.for), DURATION, `${RULES}: ${name}: for: must be a duration, got ${rule.for}`);
      assert.ok(isRecord(rule.labels), `${RULES}: ${name}: no labels`);
      assert.ok(SEVERITIES.includes(String(rule.labels.severity)), `${RULES}: ${name}: labels.severity`);
      for (const [key, value] of Object.entries(rule.labels))
        assert.ok(
          !String(value).includes("{{"),
          `${RULES}: ${name}: label ${key} is templated; labels stay static (no series data in routing)`,
        );
      assert.ok(isRecord(rule.annotations), `${RULES}: ${name}: no annotations`);
      const { summary, description } = rule.annotations;
      assert.ok(typeof summary === "string" && summary.trim() !== "", `${RULES}: ${name}: no summary`);
      assert.ok(
        typeof description === "string" && description.trim() !== "",
        `${RULES}: ${name}: no description`,
      );
      const used = analyse(rule.expr, `${RULES}: ${name}`).metrics;
      assert.ok(
        [...used].some((metric) => description.includes(metric)),
        `${RULES}: ${name}: the description names none of the metrics of its expr (${[...used].join(", ")})`,
      );
      assert.match(
        description,
        /`engage-bridge [a-z-]+|\/admin\//,
        `${RULES}: ${name}: the description says what to do (an engage-bridge command or /admin/)`,
      );
    }
  });

  test("the alerts the operators rely on are there", () => {
    const byMetric = (metric: string) => alerts.some(({ rule }) => rule.expr.includes(metric));
    for (const metric of [
      "engage_bridge_delivery_outcomes_total",
      "engage_bridge_connector_oldest_pending_seconds",
      "engage_bridge_connector_healthy",
      "engage_bridge_ingest_duration_seconds_count",
      "engage_bridge_store_up",
      "engage_bridge_webhooks_received_total",
    ])
      assert.ok(byMetric(metric), `${RULES}: no alert over ${metric}`);
  });

  test("wrapped as the README shows (indented under spec:), it is the same PrometheusRule spec", () => {
    assert.match(read(README), /sed 's\/\^\/ {2}\/' deploy\/observability\/prometheus-rules\.yaml/);
    const wrapped = `apiVersion: monitoring.coreos.com/v1\nkind: PrometheusRule\nmetadata:\n  name: engage-bridge\nspec:\n${read(
      RULES,
    )
      .split("\n")
      .map((line) => `  ${line}`)
      .join("\n")}`;
    const resource = yaml.parse(wrapped) as { spec: unknown };
    assert.deepEqual(resource.spec, rulesFile);
  });

  const promtool = process.env.PATH?.split(delimiter)
    .map((dir) => join(dir, "promtool"))
    .find((file) => existsSync(file) && statSync(file).isFile());

  test("promtool check rules", (t) => {
    if (!promtool) {
      t.skip("promtool is not on PATH: promtool check rules not run");
      return;
    }
    const result = spawnSync(promtool, ["check", "rules", join(ROOT, RULES)], { encoding: "utf8" });
    assert.equal(result.status, 0, `promtool check rules ${RULES}:\n${result.stdout}${result.stderr}`);
  });

  test("promtool test rules: each alert's expr fires on the series it is for, and not on others", (t) => {
    if (!promtool) {
      t.skip("promtool is not on PATH: promtool test rules not run");
      return;
    }
    const series = (metric: string, labels: Record<string, string>, values: string) => ({
      series: `${metric}{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(",")}}`,
      values,
    });
    const labelsText = (labels: Record<string, string>) =>
      `{${Object.entries(labels)
        .map(([k, v]) => `${k}="${v}"`)
        .join(", ")}}`;
    /** Which label sets an alert's expr returns at a time (values aside: `count by` of the expr). */
    const fires = (alert: string, by: string[], evalTime: string, expected: Record<string, string>[]) => {
      const rule = alerts.find((a) => a.rule.alert === alert)?.rule;
      assert.ok(rule, `${RULES}: no alert ${alert}`);
      return {
        expr: `count by (${by.join(", ")}) (${rule.expr})`,
        eval_time: evalTime,
        exp_samples: expected.map((labels) => ({ labels: labelsText(labels), value: 1 })),
      };
    };
    const eb = { job: "eb" };
    const tests = [
      {
        // hubspot: its first dead delivery 10 minutes after the process started (a new series);
        // sendgrid: a series from the start that rises at 20 minutes.
        interval: "1m",
        input_series: [
          series(
            "engage_bridge_delivery_outcomes_total",
            { ...eb, instance: "w1", connector: "hubspot", status: "dead" },
            "_x10 1x50",
          ),
          series(
            "engage_bridge_delivery_outcomes_total",
            { ...eb, instance: "w1", connector: "sendgrid", status: "dead" },
            "1x20 2x40",
          ),
          series(
            "engage_bridge_delivery_outcomes_total",
            { ...eb, instance: "w1", connector: "sendgrid", status: "delivered" },
            "0+5x60",
          ),
        ],
        promql_expr_test: [
          fires("EngageBridgeDeliveriesDead", ["job", "connector"], "15m", [{ ...eb, connector: "hubspot" }]),
          fires("EngageBridgeDeliveriesDead", ["job", "connector"], "30m", [
            { ...eb, connector: "sendgrid" },
          ]),
          fires("EngageBridgeDeliveriesDead", ["job", "connector"], "55m", []),
        ],
      },
      {
        // Every process reports the store's queue gauges: one alert per connector, not per process.
        interval: "1m",
        input_series: [
          series(
            "engage_bridge_connector_oldest_pending_seconds",
            { ...eb, instance: "i1", connector: "hubspot" },
            "1000x30",
          ),
          series(
            "engage_bridge_connector_oldest_pending_seconds",
            { ...eb, instance: "w1", connector: "hubspot" },
            "1000x30",
          ),
          series(
            "engage_bridge_connector_oldest_pending_seconds",
            { ...eb, instance: "w1", connector: "sendgrid" },
            "100x30",
          ),
          series(
            "engage_bridge_connector_oldest_pending_seconds",
            { ...eb, instance: "w1", connector: "sheets" },
            "20000x30",
          ),
        ],
        promql_expr_test: [
          fires("EngageBridgeDeliveryBacklog", ["job", "connector"], "20m", [
            { ...eb, connector: "hubspot" },
            { ...eb, connector: "sheets" },
          ]),
          fires("EngageBridgeDeliveryBacklogCritical", ["job", "connector"], "20m", [
            { ...eb, connector: "sheets" },
          ]),
        ],
      },
      {
        interval: "1m",
        input_series: [
          series("engage_bridge_connector_healthy", { ...eb, instance: "w1", connector: "hubspot" }, "1x30"),
          series("engage_bridge_connector_healthy", { ...eb, instance: "w2", connector: "hubspot" }, "0x30"),
          series("engage_bridge_connector_healthy", { ...eb, instance: "w1", connector: "sendgrid" }, "1x30"),
          series("engage_bridge_store_up", { ...eb, instance: "i1" }, "0x30"),
          series("engage_bridge_store_up", { ...eb, instance: "w1" }, "1x30"),
        ],
        promql_expr_test: [
          fires("EngageBridgeConnectorUnhealthy", ["job", "connector"], "10m", [
            { ...eb, connector: "hubspot" },
          ]),
          fires("EngageBridgeStoreDown", ["job", "instance"], "10m", [{ ...eb, instance: "i1" }]),
        ],
      },
      {
        // eb: half the answers are 503; ok: 1 %.
        interval: "1m",
        input_series: [
          series(
            "engage_bridge_ingest_duration_seconds_count",
            { ...eb, instance: "i1", source: "engage", code: "503" },
            "0+10x30",
          ),
          series(
            "engage_bridge_ingest_duration_seconds_count",
            { ...eb, instance: "i1", source: "engage", code: "204" },
            "0+10x30",
          ),
          series(
            "engage_bridge_ingest_duration_seconds_count",
            { job: "ok", instance: "i1", source: "engage", code: "503" },
            "0+1x30",
          ),
          series(
            "engage_bridge_ingest_duration_seconds_count",
            { job: "ok", instance: "i1", source: "engage", code: "204" },
            "0+99x30",
          ),
          series(
            "engage_bridge_webhooks_rejected_total",
            { ...eb, instance: "i1", source: "engage", reason: "no_matching_signature" },
            "0+1x30",
          ),
          series(
            "engage_bridge_webhooks_rejected_total",
            { ...eb, instance: "i1", source: "engage", reason: "missing_headers" },
            "0+5x30",
          ),
        ],
        promql_expr_test: [
          fires("EngageBridgeIngest5xx", ["job"], "20m", [eb]),
          fires("EngageBridgeWebhooksUnauthorized", ["job", "source", "reason"], "20m", [
            { ...eb, source: "engage", reason: "no_matching_signature" },
          ]),
        ],
      },
      {
        interval: "1m",
        input_series: [
          series(
            "engage_bridge_webhooks_received_total",
            { job: "quiet", instance: "i1", source: "engage" },
            "5x500",
          ),
          series(
            "engage_bridge_webhooks_received_total",
            { job: "busy", instance: "i1", source: "engage" },
            "0+1x500",
          ),
        ],
        promql_expr_test: [fires("EngageBridgeNoWebhooksReceived", ["job"], "7h", [{ job: "quiet" }])],
      },
    ];
    const dir = mkdtempSync(join(tmpdir(), "engage-bridge-promtool-"));
    try {
      const file = join(dir, "rules.test.yaml");
      // JSON is YAML.
      writeFileSync(
        file,
        JSON.stringify({ rule_files: [join(ROOT, RULES)], evaluation_interval: "1m", tests }),
      );
      const result = spawnSync(promtool, ["test", "rules", file], { encoding: "utf8" });
      assert.equal(result.status, 0, `promtool test rules:\n${result.stdout}${result.stderr}`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe(DASHBOARD, () => {
  test("uid, title, schemaVersion, the datasource variable and the job/instance/connector variables", () => {
    assert.equal(dashboard.title, "engage-bridge");
    assert.match(dashboard.uid, /^[a-zA-Z0-9_-]{1,40}$/);
    assert.ok(dashboard.schemaVersion >= 36, `${DASHBOARD}: schemaVersion ${dashboard.schemaVersion}`);
    const variables = new Map(dashboard.templating.list.map((v) => [v.name, v]));
    assert.equal(variables.get("datasource")?.type, "datasource", `${DASHBOARD}: no datasource variable`);
    assert.equal(variables.get("datasource")?.query, "prometheus");
    for (const name of ["job", "instance", "connector"]) {
      const v = variables.get(name);
      assert.equal(v?.type, "query", `${DASHBOARD}: no query variable ${name}`);
      assert.equal(
        v?.datasource?.uid,
        "${datasource}",
        `${DASHBOARD}: variable ${name} must use the datasource variable`,
      );
      assert.match(variableQuery(v), /^label_values\(.*\)$/, `${DASHBOARD}: variable ${name}`);
    }
  });

  test("panels: unique ids, a Prometheus query each (on ${datasource}), every one filtered by job and instance", () => {
    const ids = panels.map((p) => p.id);
    assert.equal(new Set(ids).size, ids.length, `${DASHBOARD}: panel ids repeat`);
    const graphs = panels.filter((p) => p.type !== "row");
    assert.ok(graphs.length >= 10, `${DASHBOARD}: only ${graphs.length} panels`);
    for (const panel of graphs) {
      const where = `${DASHBOARD}: panel "${panel.title}"`;
      assert.ok(panel.gridPos, `${where}: no gridPos`);
      assert.equal(panel.datasource?.uid, "${datasource}", `${where}: datasource`);
      assert.ok((panel.targets ?? []).length > 0, `${where}: no query`);
      for (const target of panel.targets ?? []) {
        assert.match(target.expr, /job=~"\$job"/, `${where}: ${target.expr} is not filtered by $job`);
        assert.match(
          target.expr,
          /instance=~"\$instance"/,
          `${where}: ${target.expr} is not filtered by $instance`,
        );
      }
    }
  });

  test("the panels the issue asks for are there", () => {
    const exprs = panelTargets.map(({ target }) => target.expr).join("\n");
    for (const needle of [
      "engage_bridge_webhooks_received_total",
      "engage_bridge_webhooks_accepted_total",
      "engage_bridge_webhooks_rejected_total",
      "histogram_quantile(0.5, sum by (le) (rate(engage_bridge_ingest_duration_seconds_bucket",
      "histogram_quantile(0.99, sum by (le) (rate(engage_bridge_ingest_duration_seconds_bucket",
      "sum by (connector, status) (rate(engage_bridge_delivery_outcomes_total",
      "histogram_quantile(0.99, sum by (connector, le) (rate(engage_bridge_delivery_attempt_duration_seconds_bucket",
      "engage_bridge_connector_queue_depth",
      "engage_bridge_connector_oldest_pending_seconds",
      "engage_bridge_connector_healthy",
      "engage_bridge_store_up",
      "engage_bridge_delivery_batch_size_bucket",
    ])
      assert.ok(exprs.includes(needle), `${DASHBOARD}: no panel queries ${needle}`);
  });
});

// ---------------------------------------------------------------------------------------------------
// A running gateway's /metrics.

const SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

/** Sample name → its label names, from Prometheus exposition text. */
function parseExposition(text: string): Map<string, Set<string>> {
  const series = new Map<string, Set<string>>();
  for (const line of text.split("\n")) {
    if (line.startsWith("#") || line.trim() === "") continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+\S+/.exec(line);
    assert.ok(match, `/metrics: cannot read ${JSON.stringify(line)}`);
    const [, name = "", body = ""] = match;
    const labels = series.get(name) ?? new Set<string>();
    for (const m of body.matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="(?:[^"\\]|\\.)*"/g)) labels.add(m[1] ?? "");
    series.set(name, labels);
  }
  return series;
}

async function waitFor<T>(probe: () => Promise<T | undefined>, what: string): Promise<T> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const listen = (server: Server) =>
  new Promise<number>((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve((server.address() as AddressInfo).port)),
  );

async function freePort(): Promise<number> {
  const server = createServer();
  const port = await listen(server);
  await new Promise((r) => server.close(r));
  return port;
}

describe("every metric and label used exists in a running gateway's /metrics", () => {
  let home: string;
  let target: Server;
  let gateway: ChildProcess | undefined;
  let output = "";
  let scraped: Map<string, Set<string>>;

  before(async () => {
    home = mkdtempSync(join(tmpdir(), "engage-bridge-observability-"));
    // The delivery target: /busy answers 503 with a long Retry-After (the delivery stays pending,
    // so the per-connector queue gauges have a series), /gone answers 400 (the delivery is dead).
    target = createServer((req, res) => {
      req.resume();
      req.on("end", () => {
        if (req.url === "/gone") res.writeHead(400).end("no such thing");
        else res.writeHead(503, { "retry-after": "3600" }).end("busy");
      });
    });
    const targetPort = await listen(target);
    const port = await freePort();
    const config = join(home, "engage-bridge.yaml");
    writeFileSync(
      config,
      [
        `server: { host: 127.0.0.1, port: ${port} }`,
        `store: sqlite:${join(home, "data", "engage-bridge.db")}`,
        `sources: { engage: { signingSecrets: ["${SECRET}"] } }`,
        "connectors:",
        "  webhook:",
        `    url: http://127.0.0.1:${targetPort}/busy`,
        `    secret: ${SECRET}`,
        "  gone:",
        "    type: webhook",
        `    url: http://127.0.0.1:${targetPort}/gone`,
        `    secret: ${SECRET}`,
        "",
      ].join("\n"),
    );
    const env: NodeJS.ProcessEnv = { ...process.env, LOG_LEVEL: "warn", NODE_ENV: "test" };
    delete env.ENGAGE_BRIDGE_CONFIG;
    delete env.PORT;
    const child = spawn(process.execPath, [CLI, "start", "--config", config], {
      cwd: home,
      env,
      stdio: ["ignore", "pipe", "pipe"],
    });
    gateway = child;
    child.stdout?.on("data", (d) => (output += d));
    child.stderr?.on("data", (d) => (output += d));
    const base = `http://127.0.0.1:${port}`;
    await waitFor(
      async () => ((await fetch(`${base}/readyz`)).ok ? true : undefined),
      `the gateway on port ${port} (output: ${output})`,
    );

    const sent = spawnSync(
      process.execPath,
      [
        CLI,
        "send-sample",
        "--url",
        `${base}/webhooks/engage`,
        "--secret",
        SECRET,
        "--type",
        "contact.acceptsEmail.changed",
        "--max-attempts",
        "1",
      ],
      { cwd: home, env, encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(sent.status, 0, `send-sample: ${sent.stdout}${sent.stderr}`);
    const unsigned = await fetch(`${base}/webhooks/engage`, { method: "POST", body: "{}" });
    assert.equal(unsigned.status, 401, "an unsigned request is refused");

    scraped = await waitFor(async () => {
      const series = parseExposition(await (await fetch(`${base}/metrics`)).text());
      const ready =
        series.has("engage_bridge_connector_oldest_pending_seconds") &&
        series.has("engage_bridge_webhooks_rejected_total") &&
        series.has("engage_bridge_delivery_outcomes_total") &&
        series.has("engage_bridge_delivery_attempt_duration_seconds_bucket");
      return ready ? series : undefined;
    }, "deliveries attempted (the per-connector series in /metrics)");
  });

  after(async () => {
    if (gateway && gateway.exitCode === null) {
      const exited = new Promise((r) => gateway?.once("exit", r));
      gateway.kill("SIGTERM");
      const timer = setTimeout(() => gateway?.kill("SIGKILL"), 10_000);
      await exited;
      clearTimeout(timer);
    }
    await new Promise((r) => target?.close(r));
    if (home) rmSync(home, { recursive: true, force: true });
  });

  /** Labels of a sample name of /metrics, or of a recorded series (checked at its own rule). */
  const labelsOf = (metric: string): ReadonlySet<string> => scraped.get(metric) ?? new Set();

  function checkMetric(metric: string, where: string) {
    if (metric.startsWith("engage_bridge:")) {
      assert.ok(records.has(metric), `${where}: ${metric} is not recorded by ${RULES}`);
      return;
    }
    assert.ok(metric.startsWith("engage_bridge_"), `${where}: ${metric} is not a metric of engage-bridge`);
    assert.ok(
      scraped.has(metric),
      `${where}: ${metric} is not in the gateway's /metrics${
        scraped.has(`${metric}_bucket`) ? ` (a histogram: use ${metric}_bucket, _sum or _count)` : ""
      }`,
    );
  }

  function checkExpression(expr: string, where: string): Analysis {
    const analysis = analyse(expr, where);
    assert.ok(analysis.metrics.size > 0, `${where}: no metric in ${expr}`);
    for (const metric of analysis.metrics) checkMetric(metric, where);
    const known = new Set(TARGET_LABELS);
    for (const metric of analysis.metrics) for (const l of labelsOf(metric)) known.add(l);
    for (const { metric, matchers } of analysis.selectors) {
      if (metric.startsWith("engage_bridge:")) continue;
      for (const { label, op, value } of matchers) {
        assert.ok(
          TARGET_LABELS.has(label) || labelsOf(metric).has(label),
          `${where}: ${metric} has no label ${label} (it has: ${[...labelsOf(metric)].join(", ") || "none"})`,
        );
        const allowed = KNOWN_VALUES[metric]?.[label];
        if (!allowed || value.startsWith("$")) continue;
        const alternatives = op === "=~" || op === "!~" ? value.split("|") : [value];
        for (const alternative of alternatives) {
          if (!/^[a-z_]+$/.test(alternative)) continue;
          assert.ok(
            allowed.has(alternative),
            `${where}: ${metric}{${label}${op}"${value}"}: ${alternative} is not a ${label} the gateway reports`,
          );
        }
      }
    }
    for (const label of analysis.grouping)
      assert.ok(known.has(label), `${where}: grouping by ${label}, which none of its metrics has`);
    return analysis;
  }

  test(`${RULES}: metrics, matchers, grouping labels and the $labels of annotations`, () => {
    for (const { group, rule } of rules) {
      const where = `${RULES}: ${group}/${rule.alert ?? rule.record}`;
      const analysis = checkExpression(rule.expr, where);
      const labels = resultLabels(analysis, labelsOf);
      for (const text of Object.values(rule.annotations ?? {}))
        for (const [, label = ""] of text.matchAll(/\$labels\.([a-zA-Z_][a-zA-Z0-9_]*)/g))
          assert.ok(
            labels.has(label),
            `${where}: an annotation uses $labels.${label}, which the result does not have`,
          );
    }
  });

  test(`${DASHBOARD}: metrics, matchers, grouping labels and legends of every panel; the variables' label_values`, () => {
    for (const { where, target } of panelTargets) {
      const analysis = checkExpression(target.expr, where);
      const labels = resultLabels(analysis, labelsOf);
      for (const [, label = ""] of (target.legendFormat ?? "").matchAll(
        /\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}/g,
      ))
        assert.ok(labels.has(label), `${where}: legend {{${label}}}, which ${target.expr} does not keep`);
    }
    for (const variable of dashboard.templating.list.filter((v) => v.type === "query")) {
      const where = `${DASHBOARD}: variable ${variable.name}`;
      const query = variableQuery(variable);
      const match = /^label_values\((.+),\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$/.exec(query);
      assert.ok(match, `${where}: cannot read ${query}`);
      const [, selector = "", label = ""] = match;
      const analysis = checkExpression(selector, where);
      for (const metric of analysis.metrics)
        assert.ok(
          TARGET_LABELS.has(label) || labelsOf(metric).has(label),
          `${where}: ${metric} has no label ${label}`,
        );
    }
  });

  test("every engage_bridge_ name written anywhere in deploy/observability/ (comments, descriptions, README) exists", () => {
    for (const file of [RULES, DASHBOARD, README]) {
      for (const [name = ""] of read(file).matchAll(/\bengage_bridge_[a-zA-Z0-9_]*/g)) {
        // `engage_bridge_connector_*` and the like name a family; prose may name a histogram by its
        // own name (expressions may not: checked above).
        const known = name.endsWith("_")
          ? [...scraped.keys()].some((metric) => metric.startsWith(name))
          : scraped.has(name) || scraped.has(`${name}_bucket`);
        assert.ok(known, `${file}: ${name} is not in the gateway's /metrics`);
      }
      for (const [name = ""] of read(file).matchAll(/\bengage_bridge:[a-zA-Z0-9_:]*/g))
        assert.ok(records.has(name), `${file}: ${name} is not recorded by ${RULES}`);
    }
  });

  test("every expression has only engage-bridge metrics", () => {
    for (const { where, expr } of expressions)
      for (const metric of analyse(expr, where).metrics)
        assert.match(metric, /^engage_bridge[_:]/, `${where}: ${metric} is not a metric of engage-bridge`);
  });
});
