import { closeSync, constants, mkdirSync, openSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync } from "node:sqlite";

export type Synchronous = "FULL" | "NORMAL";

export interface ConnectionOptions {
  synchronous?: Synchronous;
  /**
   * How long SQLite itself waits for a lock held by another connection. The wait is a busy loop on
   * the event loop, so the gateway keeps it short and retries asynchronously (see `retryBusy`);
   * a one-shot CLI command may wait longer.
   */
  busyTimeoutMs?: number;
}

/**
 * Creates the data directory `0700` and the database file `0600` before SQLite opens it: SQLite
 * gives its `-wal` and `-shm` files the database file's mode, so all three stay private. Existing
 * files and directories keep the mode their operator gave them.
 */
export function createPrivately(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  try {
    closeSync(openSync(path, constants.O_CREAT | constants.O_EXCL | constants.O_RDWR, 0o600));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
}

/**
 * Opens a connection with the store's settings: WAL, fsync on every commit (FULL), foreign keys,
 * and `secure_delete`, so that deleted rows (erasure, retention) are overwritten in the file
 * instead of lingering in free pages.
 */
export function openConnection(path: string, options: ConnectionOptions = {}): DatabaseSync {
  if (path !== ":memory:") createPrivately(path);
  const db = new DatabaseSync(path, { timeout: options.busyTimeoutMs ?? 5000 });
  db.exec(`
    PRAGMA journal_mode = WAL;
    PRAGMA synchronous = ${options.synchronous ?? "FULL"};
    PRAGMA foreign_keys = ON;
    PRAGMA secure_delete = ON;
  `);
  return db;
}

/** SQLITE_BUSY / SQLITE_LOCKED (any extended code): another connection holds the lock. */
export function isBusy(error: unknown): boolean {
  const code = (error as { errcode?: unknown } | null)?.errcode;
  return typeof code === "number" && ((code & 0xff) === 5 || (code & 0xff) === 6);
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Runs `fn` until it does not fail with a lock conflict, waiting between tries off the event loop,
 * for at most `deadlineMs`; then the conflict is thrown (the caller answers 503 or retries later).
 */
export async function retryBusy<T>(fn: () => T, deadlineMs = 10_000): Promise<T> {
  const giveUpAt = Date.now() + deadlineMs;
  for (let wait = 5; ; wait = Math.min(wait * 2, 200)) {
    try {
      return fn();
    } catch (error) {
      if (!isBusy(error) || Date.now() + wait > giveUpAt) throw error;
    }
    await sleep(wait);
  }
}
