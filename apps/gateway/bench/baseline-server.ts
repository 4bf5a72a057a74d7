/**
 * Baseline for `bench/ingest.ts`: the least an Engage webhook receiver can do. Express 5 reads the raw
 * body, the Svix signature is verified with the same verifier the gateway uses, and the answer is
 * 204 — no storage, no parsing, no logging, no metrics.
 *
 *   BENCH_SECRET=whsec_… PORT=8081 node apps/gateway/bench/baseline-server.ts
 *
 * Prints `listening <port>` on stdout once it accepts connections.
 */
import { createServer } from "node:http";
import { WebhookVerificationError } from "@engage-bridge/core";
import express from "express";
import { benchVerifier, serveForBench } from "./bench-server.ts";

const verifier = benchVerifier("baseline-server");

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

serveForBench(createServer(app));
