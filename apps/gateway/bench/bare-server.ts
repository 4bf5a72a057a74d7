/**
 * Bare baseline for `bench/ingest.ts`: the physical limit for a Node webhook receiver on this machine.
 * `node:http` only (no Express, no router, no middleware): the body is read (up to 1 MB, the gateway's
 * default `bodyLimit`), the Svix signature is checked with the verifier the gateway uses
 * (`createVerifier` from `@engage-bridge/core`) and the answer is 204 — 401 with a JSON body on a bad
 * signature. No storage, no parsing, no logging, no metrics.
 *
 *   BENCH_SECRET=whsec_… PORT=8082 node apps/gateway/bench/bare-server.ts
 *
 * Prints `listening <port>` on stdout once it accepts connections; stops on SIGTERM and SIGINT.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import { WebhookVerificationError } from "@engage-bridge/core";
import { benchVerifier, serveForBench } from "./bench-server.ts";

const BODY_LIMIT = 1024 * 1024;

const verifier = benchVerifier("bare-server");

function answer(res: ServerResponse, status: number, body?: object, close = false): void {
  if (close) res.setHeader("connection", "close");
  if (body === undefined) {
    res.writeHead(status).end();
    return;
  }
  const text = JSON.stringify(body);
  res
    .writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) })
    .end(text);
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  if (req.method !== "POST" || !req.url?.startsWith("/webhooks/")) {
    answer(res, 404, { error: "not_found" });
    req.resume();
    return;
  }
  // A declared length over the limit is refused before the body is read, as the gateway does.
  if (Number(req.headers["content-length"]) > BODY_LIMIT) {
    answer(res, 413, { error: "payload_too_large" }, true);
    req.resume();
    return;
  }
  const chunks: Buffer[] = [];
  let size = 0;
  let refused = false;
  req.on("data", (chunk: Buffer) => {
    if (refused) return;
    size += chunk.length;
    if (size > BODY_LIMIT) {
      refused = true;
      chunks.length = 0;
      answer(res, 413, { error: "payload_too_large" }, true);
      return;
    }
    chunks.push(chunk);
  });
  req.on("end", () => {
    if (refused) return;
    const body = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size);
    try {
      verifier.verify(body, req.headers);
    } catch (error) {
      if (error instanceof WebhookVerificationError) {
        answer(res, 401, { error: "invalid_signature", reason: error.reason });
        return;
      }
      answer(res, 500, { error: "internal" });
      return;
    }
    answer(res, 204);
  });
  req.on("error", () => res.destroy());
}

serveForBench(createServer(handle));
