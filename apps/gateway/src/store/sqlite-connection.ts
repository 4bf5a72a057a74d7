import { mkdirSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";

export type Synchronous = "FULL" | "NORMAL";

/** Opens a connection with the store's settings: WAL, fsync on every commit (FULL), foreign keys. */
export function openConnection(path: string, synchronous: Synchronous = "FULL"): DatabaseSync {
  if (path !== ":memory:") mkdirSync(dirname(path), { recursive: true });
  const db = new DatabaseSync(path, { timeout: 5000 });
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = ${synchronous};
    PRAGMA foreign_keys = ON;
  `);
  return db;
}
