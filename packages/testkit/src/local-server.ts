import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";

/** Listens on a free port of 127.0.0.1 and returns the server's base URL (no trailing slash). */
export async function listenLocal(server: Server): Promise<string> {
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/**
 * An idempotent `close()` for a fake: clears its pending timers (delayed answers), stops listening
 * and drops kept-alive connections, resolving once the server is closed.
 */
export function closer(server: Server, timers: Set<NodeJS.Timeout> = new Set()): () => Promise<void> {
  let closing: Promise<void> | undefined;
  return () => {
    closing ??= (async () => {
      for (const timer of timers) clearTimeout(timer);
      timers.clear();
      const closed = once(server, "close");
      server.close();
      server.closeAllConnections();
      await closed;
    })();
    return closing;
  };
}
