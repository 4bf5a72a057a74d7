import { hubspot } from "@engage-bridge/connector-hubspot";
import { defineConnector, RetryableError } from "@engage-bridge/core";
import { z } from "zod";
import { type AnyConnector, makeRegistry } from "./registry.ts";

/**
 * The three target connectors of the contract. HubSpot comes from its package; the others' config
 * blocks are validated here so that a contract config file checks and starts today, and their
 * `deliver` arrives with their connector packages (issues #6–#7). Until then their deliveries are
 * stored as pending and nothing is lost: the delivery engine retries them once the package delivers.
 */
const notYetAvailable = (name: string) => async () => {
  throw new RetryableError(`the ${name} connector cannot deliver in this version yet`);
};
/** Refuses to start a worker for a connector that cannot deliver yet; `--role ingest` still queues for it. */
const refuseToStart = (name: string) => async () => {
  throw new Error(
    `the ${name} connector is not available in this version yet; run with --role ingest to queue its deliveries`,
  );
};

export const sendgrid = defineConnector({
  name: "sendgrid",
  configSchema: z.strictObject({
    apiKey: z.string().min(1),
    baseUrl: z.url().default("https://api.sendgrid.com"),
    groupId: z.union([z.number().int().positive(), z.string().regex(/^\d+$/).transform(Number)]).optional(),
  }),
  handles: ["contact.acceptsEmail.changed"],
  maxBatchSize: 500,
  init: refuseToStart("sendgrid"),
  deliver: notYetAvailable("sendgrid"),
});

export const googleSheets = defineConnector({
  name: "googleSheets",
  configSchema: z
    .strictObject({
      spreadsheetId: z.string().min(1),
      sheetName: z.string().min(1).default("Loyalty"),
      serviceAccountFile: z.string().min(1).optional(),
      serviceAccount: z.string().min(1).optional(),
      rootUrl: z.url().default("https://sheets.googleapis.com/"),
      tokenUrl: z.url().default("https://oauth2.googleapis.com/token"),
    })
    .refine((c) => Boolean(c.serviceAccountFile) !== Boolean(c.serviceAccount), {
      message: "set exactly one of serviceAccountFile or serviceAccount",
      path: ["serviceAccountFile"],
    }),
  handles: ["loyalty.addPoints", "point.balance.updated", "reward.voucher.created"],
  maxBatchSize: 500,
  rateLimit: { requests: 60, perSeconds: 60 },
  init: refuseToStart("googleSheets"),
  deliver: notYetAvailable("googleSheets"),
});

export { hubspot };

export const BUILTIN_CONNECTORS: readonly AnyConnector[] = [hubspot, sendgrid, googleSheets];
export const builtinRegistry = () => makeRegistry(BUILTIN_CONNECTORS);
