import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { PermanentError, secret } from "@engage-bridge/core";
import { z } from "zod";
import { COLUMN_NAMES, type Column, DEFAULT_COLUMNS, DEFAULT_LABELS } from "./rows.ts";

export const DEFAULT_ROOT_URL = "https://sheets.googleapis.com/";
export const DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token";
export const DEFAULT_SHEET_NAME = "Loyalty";
export const HEADER_MISMATCH_MODES = ["refuse", "append-new-columns"] as const;

const VALID_COLUMNS = COLUMN_NAMES.join(", ");

const columnNameSchema = z.enum(COLUMN_NAMES, {
  error: (issue) => `unknown column ${JSON.stringify(issue.input)}; valid columns: ${VALID_COLUMNS}`,
});

/**
 * A column: its name, or `{ column, label }` to give it another header text. The union's own
 * message ("Invalid input") would hide which column is wrong, so the failing form's issues are
 * passed on instead.
 */
const columnSchema = z.union(
  [
    columnNameSchema,
    z.strictObject({
      column: columnNameSchema.describe("The column's name."),
      label: z
        .string()
        .trim()
        .min(1)
        .optional()
        .describe(
          "Header text for the column in row 1; default: the column's own label (e.g. `Points added`).",
        ),
    }),
  ],
  {
    error: (issue) => {
      if (issue.code !== "invalid_union") return undefined;
      const { input } = issue;
      const form =
        typeof input === "string" ? 0 : input && typeof input === "object" && !Array.isArray(input) ? 1 : -1;
      const inner = form < 0 ? undefined : issue.errors[form];
      if (!inner?.length) return 'expected a column name or { column: <name>, label: "<header text>" }';
      return inner
        .map((i) => (i.path.length > 0 ? `${i.path.join(".")}: ${i.message}` : i.message))
        .join("; ");
    },
  },
);

/** A column entry's name, also from an entry that failed validation (for the list checks). */
function nameOf(entry: unknown): unknown {
  if (typeof entry === "string") return entry;
  return entry && typeof entry === "object" ? (entry as { column?: unknown }).column : undefined;
}

const columnsSchema = z
  .array(columnSchema)
  .min(1)
  .superRefine(
    (columns, ctx) => {
      const seen = new Set<unknown>();
      columns.forEach((entry, index) => {
        const name = nameOf(entry);
        if (typeof name !== "string") return;
        if (seen.has(name))
          ctx.addIssue({ code: "custom", path: [index], message: `duplicate column ${name}` });
        seen.add(name);
      });
      if (!seen.has("eventId")) {
        ctx.addIssue({
          code: "custom",
          message: "columns must include eventId (rows already in the sheet are recognised by it)",
        });
      }
    },
    // Also when an entry is invalid, so that check-config lists every problem at once.
    { when: (payload) => Array.isArray(payload.value) && payload.value.length > 0 },
  )
  .transform((columns): Column[] =>
    columns.map((entry) => {
      const column = typeof entry === "string" ? entry : entry.column;
      const label = typeof entry === "string" ? undefined : entry.label;
      return { column, label: label ?? DEFAULT_LABELS[column] };
    }),
  )
  // A default in the input form, so that it is parsed (labels filled in) and shown as such in
  // the JSON Schema.
  .prefault([...DEFAULT_COLUMNS])
  .describe(
    "The sheet's columns, in order: a column name, or `{ column, label }` for another header text. Must " +
      "include `eventId` (rows already written are recognised by it), no column twice; default: the 17 " +
      "columns `receivedAt` … `sourceId`. `source` is the `loyalty.addPoints` payload's field, not the " +
      "gateway's source.",
  );

/**
 * The `connectors.googleSheets` block (without `enabled` and `rateLimit`, which the gateway owns).
 * The key's contents are checked when the connector starts, not here, so that `check-config` works
 * on a machine without the key.
 */
export const googleSheetsConfigSchema = z
  .strictObject({
    spreadsheetId: z
      .string()
      .trim()
      .min(1)
      .regex(/^[A-Za-z0-9_-]+$/, "expected the spreadsheet id (the part of its URL after /d/), not a URL")
      .describe(
        "The spreadsheet's id, the part of its URL after `/d/` (a pasted URL is refused). Share the " +
          "spreadsheet with the service account's `client_email` as Editor.",
      ),
    sheetName: z
      .string()
      .min(1)
      .max(100)
      .default(DEFAULT_SHEET_NAME)
      .describe(
        "The tab rows are appended to (default `Loyalty`). It is not created: a missing tab stops the " +
          "gateway at start-up.",
      ),
    serviceAccountFile: z
      .string()
      .min(1)
      .optional()
      .describe(
        "Path of the service account's JSON key file, relative to the working directory; read when the " +
          "connector starts. Set exactly one of this or `serviceAccount`.",
      ),
    serviceAccount: secret(z.string().min(1))
      .optional()
      .describe(
        "The service account's JSON key inline (secret), typically the key file's contents read with a " +
          "`file:` interpolation. Set exactly one of this or `serviceAccountFile`.",
      ),
    rootUrl: z
      .url()
      .default(DEFAULT_ROOT_URL)
      .describe(
        "Google Sheets API root URL (default `https://sheets.googleapis.com/`); change it only for a " +
          "proxy or a test fake.",
      ),
    tokenUrl: z
      .url()
      .default(DEFAULT_TOKEN_URL)
      .describe(
        "OAuth 2.0 token endpoint for the service account's JWT grant, also the assertion's audience " +
          "(default `https://oauth2.googleapis.com/token`).",
      ),
    columns: columnsSchema,
    onHeaderMismatch: z
      .enum(HEADER_MISMATCH_MODES)
      .default("refuse")
      .describe(
        "When row 1 of a non-empty sheet is not the configured header: `refuse` (default) stops the " +
          "gateway at start-up; `append-new-columns` writes the missing labels into row 1 when row 1 is " +
          "the start of the configured header (columns added at the end only), and refuses otherwise.",
      ),
  })
  .refine((c) => Boolean(c.serviceAccountFile) !== Boolean(c.serviceAccount), {
    message: "set exactly one of serviceAccountFile or serviceAccount",
    path: ["serviceAccountFile"],
  })
  .describe(
    "Google Sheets loyalty log: one row per `loyalty.addPoints`, `point.balance.updated` and " +
      "`reward.voucher.created` event, never duplicated or lost. Authenticates with a service-account " +
      "key: set exactly one of `serviceAccountFile` or `serviceAccount`.",
  );

export type GoogleSheetsConfigInput = z.input<typeof googleSheetsConfigSchema>;
export type GoogleSheetsConfig = z.output<typeof googleSheetsConfigSchema>;

/** What the connector needs from a service-account key file. */
export interface ServiceAccountCredentials {
  clientEmail: string;
  privateKey: string;
  privateKeyId: string | undefined;
}

/**
 * Parses a service-account key (the JSON Google issues). Errors name the problem, never a value.
 * `origin` says where the key came from, for the message.
 */
export function parseServiceAccount(text: string, origin: string): ServiceAccountCredentials {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new PermanentError(`${origin} is not JSON (expected a Google service-account key file)`);
  }
  const record = (json && typeof json === "object" ? json : {}) as Record<string, unknown>;
  const { client_email: clientEmail, private_key: privateKey, private_key_id: privateKeyId } = record;
  if (typeof clientEmail !== "string" || !clientEmail.includes("@")) {
    throw new PermanentError(`${origin} has no client_email (expected a Google service-account key file)`);
  }
  if (typeof privateKey !== "string" || privateKey.length === 0) {
    throw new PermanentError(`${origin} has no private_key (expected a Google service-account key file)`);
  }
  try {
    const key = createPrivateKey(privateKey);
    if (key.asymmetricKeyType !== "rsa") throw new Error("not RSA");
  } catch {
    throw new PermanentError(`${origin}: private_key is not a PEM-encoded RSA private key`);
  }
  return {
    clientEmail,
    privateKey,
    privateKeyId: typeof privateKeyId === "string" && privateKeyId ? privateKeyId : undefined,
  };
}

/** Reads the key from `serviceAccount` or `serviceAccountFile` (relative to the working directory). */
export async function loadServiceAccount(config: GoogleSheetsConfig): Promise<ServiceAccountCredentials> {
  if (config.serviceAccount) return parseServiceAccount(config.serviceAccount, "serviceAccount");
  const file = config.serviceAccountFile;
  if (!file) throw new PermanentError("set exactly one of serviceAccountFile or serviceAccount");
  let text: string;
  try {
    text = await readFile(resolve(file), "utf8");
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? "unreadable";
    throw new PermanentError(`serviceAccountFile ${file} cannot be read (${code})`);
  }
  return parseServiceAccount(text, `serviceAccountFile ${file}`);
}
