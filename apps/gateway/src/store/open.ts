import { PostgresStore } from "./postgres.ts";
import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** Opens the store named by the `store` config key and applies migrations. */
export async function openStore(url: string): Promise<Store> {
  let store: Store;
  if (url.startsWith("sqlite:")) store = SqliteStore.fromUrl(url);
  else if (/^postgres(ql)?:\/\//.test(url)) store = PostgresStore.fromUrl(url);
  else throw new Error("unsupported store URL: expected sqlite:<path> or postgres://…");
  try {
    await store.migrate();
  } catch (error) {
    await store.close().catch(() => {});
    throw error;
  }
  return store;
}
