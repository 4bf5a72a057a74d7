import { setTimeout as sleep } from "node:timers/promises";
import {
  type DeliveryContextBase,
  type DeliveryItem,
  type DeliveryResult,
  defineConnector,
  delivered,
  LOYALTY_EVENT_TYPES,
  maskEmails,
  PermanentError,
  RetryableError,
  raceAbort,
} from "@engage-bridge/core";
import { classify, createSheetsClient, type Failure, type SheetsClient } from "./client.ts";
import {
  type GoogleSheetsConfig,
  googleSheetsConfigSchema,
  loadServiceAccount,
  type ServiceAccountCredentials,
} from "./config.ts";
import { type WriterLock, writerLock } from "./lock.ts";
import {
  type Cell,
  columnLetter,
  isDefaultColumns,
  LEGACY_COLUMN_COUNT,
  type LoyaltyEvent,
  layoutOf,
  type SheetLayout,
  toRow,
} from "./rows.ts";

/** Rows per append: at most 24 short cells each, far below Google's recommended 2 MB per request. */
export const MAX_BATCH_SIZE = 500;
/** Google's quota is 60 write requests per minute per user (a service account is one user). */
export const DEFAULT_RATE_LIMIT = { requests: 60, perSeconds: 60 } as const;
/** The SDK has no default timeout. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Rows above the last known end that a read-back also checks (rows deleted meanwhile shift up). */
const TAIL_MARGIN_ROWS = 2 * MAX_BATCH_SIZE;
/** Appends retried within one delivery after an ambiguous failure (each after a read-back). */
const AMBIGUOUS_RETRIES = 2;
/** Time given to an append whose answer was lost to land before the sheet is read back. */
const SETTLE_MS = 1_000;
/** Event ids known to be in the sheet (appended or read back), kept to never append them twice. */
const KNOWN_IDS_MAX = 50_000;
const KNOWN_IDS_FROM_READ = 2 * MAX_BATCH_SIZE;

type Context = Pick<
  DeliveryContextBase<GoogleSheetsConfig>,
  "config" | "logger" | "health" | "signal" | "pace"
>;

/** What this process knows about one sheet; shared by every connector instance that writes to it. */
export interface SheetState {
  /** Last row known to hold data (0 = empty sheet); undefined = unknown, read the whole column. */
  knownEnd: number | undefined;
  /** Ids of an append whose outcome is unknown, and when it failed. */
  unresolved: { ids: Set<string>; at: number } | undefined;
  /** Recent event ids known to be in the sheet (insertion-ordered, bounded). */
  known: Set<string>;
}

/**
 * One connector instance's state (one configured instance, contract v2): `init` builds it and the
 * gateway hands it to every `deliver` of that instance as `ctx.state`. Two instances, even with
 * equal configs, get two states: their own client, token and header knowledge.
 */
export interface GoogleSheetsState {
  /** The service account's key, loaded by `init` (a key that cannot be loaded stops the start). */
  readonly credentials: ServiceAccountCredentials;
  /** The SDK client; replaced by a fresh one (a new token exchange) when Google answers 401. */
  client: SheetsClient;
  /**
   * Whether row 1 was checked and the event-id column read. False after an `init` that could not
   * reach Google: the next delivery does it first.
   */
  started: boolean;
  /** The columns written: the 13 of earlier versions when the sheet has those and `columns` is unset. */
  layout: SheetLayout;
  /** What the process knows about the target sheet: shared with every instance writing to it. */
  readonly sheet: SheetState;
  /** The target spreadsheet's writer lock: shared with every instance writing to it. */
  readonly lock: WriterLock;
}

/**
 * What the process knows about each sheet (key: API root, spreadsheet id, sheet name). Module-level
 * on purpose, and keyed by the sheet rather than by a connector instance's config: an instance that
 * starts after another wrote to the same sheet must know those rows (never append them twice), and
 * instance states cannot see each other. `init` looks the entry up once and keeps it in the
 * instance's state. One small entry per sheet ever configured, kept for the life of the process.
 */
const sheets = new Map<string, SheetState>();

const spreadsheetKey = (config: GoogleSheetsConfig) => `${config.rootUrl}|${config.spreadsheetId}`;

function sheetOf(config: GoogleSheetsConfig): SheetState {
  const key = `${spreadsheetKey(config)}|${config.sheetName}`;
  let state = sheets.get(key);
  if (!state) {
    state = { knownEnd: undefined, unresolved: undefined, known: new Set() };
    sheets.set(key, state);
  }
  return state;
}

function remember(sheet: SheetState, ids: Iterable<string>): void {
  for (const id of ids) {
    sheet.known.delete(id);
    sheet.known.add(id);
  }
  let excess = sheet.known.size - KNOWN_IDS_MAX;
  for (const id of sheet.known) {
    if (excess-- <= 0) break;
    sheet.known.delete(id);
  }
}

/** `'Loyalty'!C5:C` — the sheet name always quoted, quotes doubled. */
export function a1(sheetName: string, cells: string): string {
  return `'${sheetName.replaceAll("'", "''")}'!${cells}`;
}

/** The last row of an A1 range such as `Loyalty!A2:M501`. */
export function endRow(range: string | null | undefined): number | undefined {
  const cells = range?.slice(range.lastIndexOf("!") + 1) ?? "";
  const match = /(\d+)$/.exec(cells);
  return match?.[1] ? Number(match[1]) : undefined;
}

/** A read whose range starts below the sheet's last row, refused by Google. */
function beyondGrid(error: unknown): boolean {
  if (!(error instanceof CallFailure)) return false;
  const { failure } = error;
  return (
    failure.kind === "api" && failure.status === 400 && /exceeds grid limits/i.test(failure.message ?? "")
  );
}

/**
 * Row 1 of a sheet that already has content is not the configured header: rows written now would
 * sit under the wrong labels, so nothing is written until row 1 or `columns` is fixed.
 */
export class HeaderMismatchError extends Error {
  override readonly name = "HeaderMismatchError";
}

/** Cells shown in a header mismatch message: as JSON strings (spaces visible), each cut short. */
function showRow(cells: readonly string[]): string {
  return `[${cells.map((c) => JSON.stringify(c.length > 80 ? `${c.slice(0, 80)}…` : c)).join(", ")}]`;
}

/**
 * How row 1 relates to the configured header: labels compared exactly (as Google renders them), so
 * that a renamed, moved, removed or extra column is never written under another column's label.
 */
function compareHeader(
  rowOne: readonly string[],
  header: readonly string[],
): "same" | "prefix" | "different" {
  const common = Math.min(rowOne.length, header.length);
  for (let i = 0; i < common; i++) if (rowOne[i] !== header[i]) return "different";
  if (rowOne.length === header.length) return "same";
  return rowOne.length < header.length ? "prefix" : "different";
}

/** The refusal, naming both headers and what would fix it. */
function headerMismatch(
  config: GoogleSheetsConfig,
  rowOne: readonly string[],
  header: readonly string[],
): HeaderMismatchError {
  const configured = `the configured header is ${showRow(header)}`;
  const rowName = `row 1 of sheet "${config.sheetName}"`;
  const sentences: string[] = [];
  if (rowOne.length === 0) {
    sentences.push(`${rowName} is empty but rows follow it (${configured})`);
    sentences.push("Write the header into row 1, or use an empty sheet");
  } else {
    sentences.push(
      `${rowName} does not match the configured columns: row 1 is ${showRow(rowOne)}, ${configured}`,
    );
    if (compareHeader(rowOne, header) === "prefix") {
      sentences.push(
        "The configured columns only add columns at the end: set onHeaderMismatch: append-new-columns to add them to row 1, or make row 1 and columns match",
      );
    } else {
      const at = header.findIndex((label, i) => rowOne[i] !== label);
      sentences.push(
        at < 0
          ? `Row 1 has ${rowOne.length - header.length} more column(s) than configured`
          : `First difference: column ${columnLetter(at)}`,
      );
      const note =
        config.onHeaderMismatch === "append-new-columns"
          ? " (append-new-columns only adds columns after a row 1 that is the start of the header)"
          : "";
      sentences.push(`Make row 1 and columns match, or use an empty sheet${note}`);
    }
  }
  sentences.push("No rows are written until then: they would sit under the wrong labels.");
  return new HeaderMismatchError(sentences.join(". "));
}

class CallFailure extends Error {
  readonly failure: Failure;
  constructor(failure: Failure, cause: unknown) {
    super(`Google call failed (${failure.kind})`, { cause });
    this.failure = failure;
  }
}

/** A write whose outcome is unknown: it may have been applied. */
function isAmbiguousWrite(failure: Failure): boolean {
  switch (failure.kind) {
    case "network":
      return !failure.token;
    case "aborted":
    case "other":
      return true;
    case "api":
      return failure.status >= 500 || failure.status === 408;
    case "token":
      return false;
  }
}

function isTimeout(failure: Failure): boolean {
  return failure.kind === "aborted" || (failure.kind === "network" && /timeout/i.test(failure.code ?? ""));
}

/**
 * Turns a classified failure into what the engine understands, reporting the connector unhealthy
 * when it cannot work at all. Messages name statuses and config keys, never data or credentials.
 */
function toDeliveryError(failure: Failure, ctx: Context): Error {
  const permanent = (message: string, unhealthy: boolean) => {
    if (unhealthy) ctx.health.unhealthy(message);
    return new PermanentError(message);
  };
  switch (failure.kind) {
    case "token": {
      if (failure.status === 400 || failure.status === 401 || failure.status === 403) {
        // Google's texts are quoted as they come, but never an address (the account's, say).
        const detail = maskEmails([failure.code, failure.description].filter(Boolean).join(": "));
        return permanent(
          `Google refused the service-account credentials at tokenUrl (${failure.status}${detail ? ` ${detail}` : ""})`,
          true,
        );
      }
      return new RetryableError(`Google token endpoint answered ${failure.status}`, {
        rateLimited: failure.status === 429,
      });
    }
    case "api": {
      const label = `${failure.status}${failure.googleStatus ? ` ${failure.googleStatus}` : ""}`;
      const { status } = failure;
      if (status === 401) return permanent(`Google Sheets refused the access token (${label})`, true);
      if (status === 403) {
        return permanent(
          `the service account may not write to the spreadsheet (${label}): share it with the service account as Editor and enable the Sheets API for its project`,
          true,
        );
      }
      if (status === 404) {
        return permanent(
          `spreadsheet not found (${label}): check spreadsheetId and that the spreadsheet is shared with the service account`,
          true,
        );
      }
      if (status === 400 && failure.message?.startsWith("Unable to parse range")) {
        return permanent(
          `sheet "${ctx.config.sheetName}" does not exist in the spreadsheet (${label}): add it or change sheetName`,
          true,
        );
      }
      if (status === 429) {
        return new RetryableError(`Google Sheets quota exceeded (${label})`, {
          rateLimited: true,
          ...(failure.retryAfterMs !== undefined ? { delayMs: failure.retryAfterMs } : {}),
        });
      }
      if (status >= 500 || status === 408) {
        return new RetryableError(`Google Sheets answered ${label}`, {
          ...(failure.retryAfterMs !== undefined ? { delayMs: failure.retryAfterMs } : {}),
        });
      }
      return permanent(`Google Sheets refused the request (${label})`, false);
    }
    case "network":
      return new RetryableError(
        `no answer from Google${failure.token ? "'s token endpoint" : " Sheets"} (${failure.code ?? "connection lost"})`,
      );
    case "aborted":
      return new RetryableError("the attempt was aborted (timeout or shutdown)");
    case "other":
      return new RetryableError(`Google Sheets call failed: ${failure.message}`);
  }
}

function translate(error: unknown, ctx: Context): Error {
  if (error instanceof CallFailure) return toDeliveryError(error.failure, ctx);
  // Found by a delivery (Google was unreachable when the connector started): retried rather than
  // dead, so that fixing row 1 lets the waiting rows through.
  if (error instanceof HeaderMismatchError) {
    ctx.health.unhealthy(error.message);
    return new RetryableError(error.message, { cause: error });
  }
  if (error instanceof PermanentError) {
    ctx.health.unhealthy(error.message);
    return error;
  }
  if (error instanceof RetryableError) return error;
  if (ctx.signal.aborted) return toDeliveryError({ kind: "aborted" }, ctx);
  return new RetryableError(error instanceof Error ? error.message : String(error));
}

type Api = SheetsClient["api"];
interface CallOptions {
  signal: AbortSignal;
  timeout: number;
  retry: false;
}

/** One delivery's conversation with one sheet, run while holding the spreadsheet's writer lock. */
class SheetSession {
  private reauthorized = false;
  /** Writes sent in this delivery: the gateway paces the first, `ctx.pace()` each further one. */
  private writes = 0;
  private readonly ctx: Context;
  private readonly instance: GoogleSheetsState;
  private readonly sheet: SheetState;

  constructor(ctx: Context, instance: GoogleSheetsState) {
    this.ctx = ctx;
    this.instance = instance;
    this.sheet = instance.sheet;
  }

  private get config(): GoogleSheetsConfig {
    return this.ctx.config;
  }

  /**
   * One SDK call with the delivery's signal, a timeout and no SDK retries (retries are decided
   * here and by the engine). A 401 gets one more try with a freshly exchanged token: the JWT
   * client otherwise keeps presenting a token that Google already revoked.
   */
  private async call<T>(fn: (api: Api, options: CallOptions) => Promise<T>): Promise<T> {
    for (;;) {
      const { client } = this.instance;
      try {
        return await raceAbort(
          fn(client.api, { signal: this.ctx.signal, timeout: REQUEST_TIMEOUT_MS, retry: false }),
          this.ctx.signal,
        );
      } catch (error) {
        const failure = classify(error, this.config.tokenUrl, this.ctx.signal);
        if (failure.kind === "api" && failure.status === 401 && !this.reauthorized) {
          this.reauthorized = true;
          this.instance.client = createSheetsClient(this.config, this.instance.credentials);
          continue;
        }
        throw new CallFailure(failure, error);
      }
    }
  }

  /** The gateway reserved one request for this delivery; each further write waits for `pace()`. */
  private async beforeWrite(): Promise<void> {
    if (this.writes > 0 && this.ctx.pace) await raceAbort(this.ctx.pace(), this.ctx.signal);
    this.writes += 1;
  }

  private async appendRows(rows: Cell[][]) {
    await this.beforeWrite();
    const response = await this.call((api, options) =>
      api.spreadsheets.values.append(
        {
          spreadsheetId: this.config.spreadsheetId,
          range: a1(this.config.sheetName, "A1"),
          valueInputOption: "RAW",
          insertDataOption: "INSERT_ROWS",
          requestBody: { majorDimension: "ROWS", values: rows },
        },
        options,
      ),
    );
    return response.data.updates;
  }

  /**
   * Once per connector instance: checks row 1 against the configured header, reads the whole
   * event-id column (what an earlier process may have appended just before it stopped is then
   * known), and writes the header when the sheet is empty. A row 1 that is not the header stops
   * here, before anything is written, unless `onHeaderMismatch: append-new-columns` allows adding
   * the missing trailing labels.
   */
  async start(): Promise<void> {
    if (this.instance.started) return;
    const { header } = this.instance.layout;
    // The whole row: labels beyond the configured columns are a mismatch too.
    const first = await this.call((api, options) =>
      api.spreadsheets.values.get(
        { spreadsheetId: this.config.spreadsheetId, range: a1(this.config.sheetName, "1:1") },
        options,
      ),
    );
    const rowOne = (first.data.values?.[0] ?? []).map((cell) => String(cell));
    let verdict = rowOne.length === 0 ? "empty" : compareHeader(rowOne, header);
    const extend = verdict === "prefix" && this.config.onHeaderMismatch === "append-new-columns";
    if (verdict === "prefix" && !extend && this.keepsLegacyColumns(rowOne)) verdict = "same";
    if (verdict === "different" || (verdict === "prefix" && !extend)) {
      throw headerMismatch(this.config, rowOne, header);
    }
    await this.readBack([], true);
    if (verdict === "empty" && this.sheet.knownEnd !== 0) {
      throw headerMismatch(this.config, rowOne, header);
    }
    if (verdict === "empty") {
      let updates: Awaited<ReturnType<SheetSession["appendRows"]>>;
      try {
        updates = await this.appendRows([[...header]]);
      } catch (error) {
        // Row 1 is read again on the next try, so an ambiguous failure cannot write two headers.
        this.sheet.knownEnd = undefined;
        throw error;
      }
      this.sheet.knownEnd = endRow(updates?.updatedRange) ?? undefined;
      this.ctx.logger.info({ columns: header.length }, "header row written to the empty sheet");
    } else if (extend) {
      await this.extendHeader(rowOne.length, header);
    }
    this.instance.started = true;
  }

  /**
   * A sheet an earlier version started (its 13 columns exactly) and no `columns` configured: keep
   * writing those 13, as before the upgrade, instead of refusing to start. The new default columns
   * come with `onHeaderMismatch: append-new-columns` (or an explicit `columns`).
   */
  private keepsLegacyColumns(rowOne: readonly string[]): boolean {
    const { columns } = this.instance.layout;
    if (!isDefaultColumns(columns) || rowOne.length !== LEGACY_COLUMN_COUNT) return false;
    this.instance.layout = layoutOf(columns.slice(0, LEGACY_COLUMN_COUNT));
    this.ctx.logger.info(
      { columns: LEGACY_COLUMN_COUNT },
      "the sheet has the columns of earlier versions: writing those; set onHeaderMismatch: append-new-columns to add description, reason, source and sourceId",
    );
    return true;
  }

  /**
   * Writes the labels of the new trailing columns into row 1 (values.update of exactly those
   * cells: unlike append, setting cells is idempotent, so a retry after a lost answer is harmless).
   */
  private async extendHeader(present: number, header: readonly string[]): Promise<void> {
    const added = header.slice(present);
    await this.beforeWrite();
    await this.call((api, options) =>
      api.spreadsheets.values.update(
        {
          spreadsheetId: this.config.spreadsheetId,
          range: a1(this.config.sheetName, `${columnLetter(present)}1:${columnLetter(header.length - 1)}1`),
          valueInputOption: "RAW",
          requestBody: { majorDimension: "ROWS", values: [added] },
        },
        options,
      ),
    );
    this.ctx.logger.info(
      { columns: header.length, added: added.length },
      "new columns added to the header row (onHeaderMismatch: append-new-columns)",
    );
  }

  /**
   * Reads the event-id column from a little above the last known row to the end (or all of it)
   * and returns which of `ids` are there. Ids of an unresolved append found there are remembered,
   * so their deliveries are recognised when the engine retries them.
   */
  async readBack(ids: readonly string[], full = false): Promise<Set<string>> {
    const unresolved = this.sheet.unresolved;
    if (unresolved) {
      const wait = unresolved.at + SETTLE_MS - Date.now();
      if (wait > 0) await sleep(wait, undefined, { signal: this.ctx.signal });
    }
    const knownEnd = full ? undefined : this.sheet.knownEnd;
    const from = knownEnd === undefined ? 1 : Math.max(1, knownEnd - TAIL_MARGIN_ROWS + 1);
    const letter = this.instance.layout.eventIdLetter;
    const read = () =>
      this.call((api, options) =>
        api.spreadsheets.values.get(
          {
            spreadsheetId: this.config.spreadsheetId,
            range: a1(this.config.sheetName, `${letter}${from}:${letter}`),
            majorDimension: "COLUMNS",
          },
          options,
        ),
      );
    let response: Awaited<ReturnType<typeof read>>;
    try {
      response = await read();
    } catch (error) {
      // Rows deleted by hand since the last read can leave the tail range below the sheet's end,
      // which Google may refuse (400 "exceeds grid limits", reported, not specified): read it all.
      if (from > 1 && beyondGrid(error)) return this.readBack(ids, true);
      throw error;
    }
    const column = (response.data.values?.[0] ?? []).map((v) => String(v));
    // The other plausible answer for such a range: nothing. Rows written earlier may now sit above
    // it, and "not found" would append them again: read it all.
    if (from > 1 && column.length === 0) return this.readBack(ids, true);
    if (column.length > 0) this.sheet.knownEnd = from + column.length - 1;
    else this.sheet.knownEnd = from === 1 ? 0 : undefined;
    const inSheet = new Set(column);
    const found = new Set([...ids, ...(unresolved?.ids ?? [])].filter((id) => inSheet.has(id)));
    remember(this.sheet, column.slice(-KNOWN_IDS_FROM_READ));
    remember(this.sheet, found);
    if (unresolved) {
      this.ctx.logger.info(
        { rows: unresolved.ids.size, found: [...unresolved.ids].filter((id) => inSheet.has(id)).length },
        "read back the sheet after an append without a clear answer",
      );
    }
    this.sheet.unresolved = undefined;
    return found;
  }

  /**
   * Appends `rows` (whose event ids are `ids`) and returns "ok", or "ambiguous" when the append
   * may or may not have been applied (no answer, 5xx, or a 2xx that did not report every row).
   */
  async append(rows: Cell[][], ids: readonly string[]): Promise<"ok" | "ambiguous" | "timeout"> {
    const markUnresolved = () => {
      const previous = this.sheet.unresolved?.ids ?? [];
      this.sheet.unresolved = { ids: new Set([...previous, ...ids]), at: Date.now() };
    };
    let updates: Awaited<ReturnType<SheetSession["appendRows"]>>;
    try {
      updates = await this.appendRows(rows);
    } catch (error) {
      if (error instanceof CallFailure && isAmbiguousWrite(error.failure)) {
        markUnresolved();
        const detail =
          error.failure.kind === "network"
            ? error.failure.code
            : error.failure.kind === "api"
              ? error.failure.status
              : error.failure.kind;
        this.ctx.logger.warn({ rows: rows.length, failure: detail }, "append got no clear answer");
        return isTimeout(error.failure) ? "timeout" : "ambiguous";
      }
      throw error;
    }
    if (updates?.updatedRows !== rows.length) {
      markUnresolved();
      this.ctx.logger.warn(
        { rows: rows.length, updatedRows: updates?.updatedRows ?? 0 },
        "append answered without reporting every row",
      );
      return "ambiguous";
    }
    this.sheet.knownEnd = endRow(updates.updatedRange) ?? undefined;
    remember(this.sheet, ids);
    return "ok";
  }
}

/** Writes the rows of `items`, holding the spreadsheet's writer lock. */
async function deliverRows(
  items: readonly DeliveryItem<LoyaltyEvent>[],
  ctx: Context,
  instance: GoogleSheetsState,
): Promise<readonly DeliveryResult[]> {
  const { sheet } = instance;
  const rows = items.map((item) => toRow(item, instance.layout.columns));
  const ids = items.map((item) => item.event.id);
  return instance.lock.run(ctx.signal, async () => {
    const session = new SheetSession(ctx, instance);
    try {
      await session.start();
      let pending = items.map((_, index) => index).filter((i) => !sheet.known.has(ids[i] ?? ""));
      // Rows must not be appended twice: read back first whenever an earlier lease may have written
      // them (a retry, or a worker that died mid-append, which leaves attempt at 1).
      const checkFirst =
        sheet.unresolved !== undefined ||
        items.some((item) => item.attempt > 1 || item.maybeSentBefore === true);
      if (pending.length > 0 && checkFirst) {
        const present = await session.readBack(pending.map((i) => ids[i] ?? ""));
        pending = pending.filter((i) => !present.has(ids[i] ?? ""));
      }
      for (let round = 0; pending.length > 0; round++) {
        const batchRows = pending.map((i) => rows[i] ?? []);
        const batchIds = pending.map((i) => ids[i] ?? "");
        const outcome = await session.append(batchRows, batchIds);
        if (outcome === "ok") {
          ctx.logger.info(
            { rows: batchRows.length, alreadyPresent: items.length - batchRows.length },
            "rows appended",
          );
          pending = [];
          break;
        }
        if (outcome === "timeout" || round >= AMBIGUOUS_RETRIES || ctx.signal.aborted) {
          throw new RetryableError(
            "append to Google Sheets got no clear answer; the sheet is read back before the rows are written again",
          );
        }
        const present = await session.readBack(batchIds);
        pending = pending.filter((i) => !present.has(ids[i] ?? ""));
      }
      ctx.health.healthy();
      return items.map(() => delivered());
    } catch (error) {
      throw translate(error, ctx);
    }
  });
}

/**
 * The Google Sheets connector: a loyalty log. Every `loyalty.addPoints`, `point.balance.updated`
 * and `reward.voucher.created` becomes one row; rows are batched (up to {@link MAX_BATCH_SIZE} per
 * append), written by one writer per spreadsheet, never twice and never lost.
 */
export const googleSheetsConnector = defineConnector({
  name: "googleSheets",
  configSchema: googleSheetsConfigSchema,
  handles: LOYALTY_EVENT_TYPES,
  maxBatchSize: MAX_BATCH_SIZE,
  rateLimit: DEFAULT_RATE_LIMIT,
  concurrency: 1,

  /**
   * Builds the instance's state (returned: the gateway passes it to every `deliver` of this
   * instance as `ctx.state`). Refuses to start when the key cannot be used, Google says the
   * credentials, spreadsheet or sheet are wrong, or row 1 is not the configured header; when Google
   * cannot be reached it starts anyway (deliveries wait and retry, and check row 1 first).
   */
  async init(config, ctx): Promise<GoogleSheetsState> {
    const credentials = await loadServiceAccount(config);
    const instance: GoogleSheetsState = {
      credentials,
      client: createSheetsClient(config, credentials),
      started: false,
      layout: layoutOf(config.columns),
      sheet: sheetOf(config),
      lock: writerLock(spreadsheetKey(config)),
    };
    const context: Context = { ...ctx, config };
    try {
      await instance.lock.run(ctx.signal, () => new SheetSession(context, instance).start());
    } catch (error) {
      if (error instanceof HeaderMismatchError) {
        ctx.health.unhealthy(error.message);
        throw new PermanentError(error.message, { cause: error });
      }
      const translated = translate(error, context);
      if (translated instanceof PermanentError) throw translated;
      ctx.logger.warn(
        { reason: translated.message },
        "Google Sheets start-up check failed; deliveries will retry",
      );
    }
    return instance;
  },

  async deliver(items, ctx) {
    // The gateway runs `init` before an instance's first delivery. Without its state (a gateway
    // older than connector contract v2) there is no client: retried, not dead, so no row is lost.
    if (!ctx.state) {
      const reason =
        "googleSheets: deliver called without the state init returned (needs a gateway that runs init)";
      ctx.health.unhealthy(reason);
      throw new RetryableError(reason);
    }
    return deliverRows(items, ctx, ctx.state);
  },
});
