import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { createVerifier } from "@engage-bridge/core";

/**
 * What the two baseline servers of `bench/ingest.ts` share: the verifier for `BENCH_SECRET` (the one
 * the gateway uses), and listening as the gateway does, so that only the request path differs.
 */

/** The verifier for `BENCH_SECRET`; exits 1 naming `name` when it is not set. */
export function benchVerifier(name: string): ReturnType<typeof createVerifier> {
  const secret = process.env.BENCH_SECRET;
  if (!secret) {
    process.stderr.write(`${name}: BENCH_SECRET is required\n`);
    process.exit(1);
  }
  return createVerifier({ secrets: [secret] });
}

/**
 * Listens on 127.0.0.1:`PORT` with the gateway's socket timeouts, prints `listening <port>` once it
 * accepts connections, and stops on SIGTERM and SIGINT.
 */
export function serveForBench(server: Server): void {
  server.requestTimeout = 30_000;
  server.headersTimeout = 20_000;
  server.keepAliveTimeout = 5_000;
  server.listen(Number(process.env.PORT ?? 0), "127.0.0.1", () => {
    process.stdout.write(`listening ${(server.address() as AddressInfo).port}\n`);
  });
  const stop = () => {
    server.close(() => process.exit(0));
    server.closeAllConnections();
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
