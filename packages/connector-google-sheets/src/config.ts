import { createPrivateKey } from "node:crypto";
import { readFile } from "node:fs/promises";
import { resolve } from "node:path";
import { PermanentError, secret } from "@engage-bridge/core";
import { z } from "zod";

export const DEFAULT_ROOT_URL = "https://sheets.googleapis.com/";
export const DEFAULT_TOKEN_URL = "https://oauth2.googleapis.com/token";
export const DEFAULT_SHEET_NAME = "Loyalty";

/**
 * The `connectors.googleSheets` block (without `enabled` and `rateLimit`, which the gateway owns).
 * The service-account key is given either as a file path or inline (typically `"${file:…}"`); its
 * contents are checked when the connector starts, not here, so that `check-config` works on a
 * machine without the key.
 */
export const googleSheetsConfigSchema = z
  .strictObject({
    spreadsheetId: z
      .string()
      .trim()
      .min(1)
      .regex(/^[A-Za-z0-9_-]+$/, "expected the spreadsheet id (the part of its URL after /d/), not a URL"),
    sheetName: z.string().min(1).max(100).default(DEFAULT_SHEET_NAME),
    serviceAccountFile: z.string().min(1).optional(),
    serviceAccount: secret(z.string().min(1)).optional(),
    rootUrl: z.url().default(DEFAULT_ROOT_URL),
    tokenUrl: z.url().default(DEFAULT_TOKEN_URL),
  })
  .refine((c) => Boolean(c.serviceAccountFile) !== Boolean(c.serviceAccount), {
    message: "set exactly one of serviceAccountFile or serviceAccount",
    path: ["serviceAccountFile"],
  });

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
