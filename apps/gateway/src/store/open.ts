import { SqliteStore } from "./sqlite.ts";
import type { Store } from "./store.ts";

/** Opens the store named by the `store` config key and applies migrations. */
export async function openStore(url: string): Promise<Store> {
  if (url.startsWith("sqlite:")) {
    const store = SqliteStore.fromUrl(url);
    await store.migrate();
    return store;
  }
  if (/^postgres(ql)?:/.test(url)) {
    throw new Error("the PostgreSQL store is not available in this version yet; use sqlite:<path>");
  }
  throw new Error("unsupported store URL: expected sqlite:<path> or postgres://…");
}
