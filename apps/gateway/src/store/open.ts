import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

export interface OpenStoreOptions {
  /** PostgreSQL statement and lock timeout (ms). */
  statementTimeoutMs?: number | undefined;
  /** PostgreSQL connect timeout (ms). */
  connectTimeoutMs?: number | undefined;
  /**
   * SQLite's blocking wait for another process's lock (ms). The gateway keeps the default (short,
   * then retried off the event loop); a one-shot CLI command may block longer.
   */
  busyTimeoutMs?: number | undefined;
}

/** Opens the store named by the `store` config key and applies migrations. */
export async function openStore(url: string, options: OpenStoreOptions = {}): Promise<Store> {
  let store: Store;
  if (url.startsWith("sqlite:")) store = SqliteStore.fromUrl(url, { busyTimeoutMs: options.busyTimeoutMs });
  else if (/^postgres(ql)?:\/\//.test(url))
    store = PostgresStore.fromUrl(url, {
      statementTimeoutMs: options.statementTimeoutMs,
      connectTimeoutMs: options.connectTimeoutMs,
    });
  else throw new Error("unsupported store URL: expected sqlite:<path> or postgres://…");
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}
