import { join } from "node:path";
import { DatabaseSync } from "node:sqlite";
import { afterEach } from "vitest";
import { tempDir } from "../test-support/harness.ts";
import { type ContractStore, storeContract } from "../test-support/store-contract.ts";
import { SqliteStore } from "./sqlite.ts";

const dirs: ReturnType<typeof tempDir>[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) d.remove();
});

async function open(): Promise<ContractStore> {
  const dir = tempDir("engage-sqlite-");
  dirs.push(dir);
  const path = join(dir.path, "s.db");
  const store = new SqliteStore(path);
  await store.migrate();
  return {
    store,
    async reopen() {
      const reopened = new SqliteStore(path);
      await reopened.migrate();
      return reopened;
    },
    async exec(sql) {
      const db = new DatabaseSync(path);
      try {
        db.exec(sql);
      } finally {
        db.close();
      }
    },
    async rows(table) {
      const db = new DatabaseSync(path, { readOnly: true });
      try {
        return db.prepare(`SELECT * FROM ${table}`).all() as Record<string, unknown>[];
      } finally {
        db.close();
      }
    },
  };
}

// The behaviour shared with PostgresStore (postgres.test.ts runs the same suite).
storeContract("SqliteStore", open);
