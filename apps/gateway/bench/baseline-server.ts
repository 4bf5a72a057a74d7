/**
 * Baseline for `bench/ingest.ts`: the least an Engage webhook receiver can do. Express 5 reads the raw
 * body, the Svix signature is verified with the same verifier the gateway uses, and the answer is
 * 204 — no storage, no parsing, no logging, no metrics.
 *
 *   BENCH_SECRET=whsec_… PORT=8081 node apps/gateway/bench/baseline-server.ts
 *
 * Prints `listening <port>` on stdout once it accepts connections.
 */
import type { AddressInfo } from "node:net";
import { createVerifier, WebhookVerificationError } from "@engage-bridge/core";
import express from "express";

const secret = process.env.BENCH_SECRET;
if (!secret) {
  process.stderr.write("baseline-server: BENCH_SECRET is required\n");
  process.exit(1);
}
const verifier = createVerifier({ secrets: [secret] });

const app = express();
app.disable("x-powered-by");
app.set("etag", false);
app.post("/webhooks/:source", express.raw({ type: () => true, limit: "1mb" }), (req, res) => {
  const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
  try {
    verifier.verify(body, req.headers);
  } catch (error) {
    if (error instanceof WebhookVerificationError) {
      res.status(401).json({ error: "invalid_signature", reason: error.reason });
      return;
    }
    throw error;
  }
  res.status(204).end();
});

const server = app.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
  // Same socket timeouts as the gateway, so that only the request path differs.
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
});

const stop = () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
