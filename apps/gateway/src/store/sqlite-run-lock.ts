import { DatabaseSync } from "node:sqlite";
import { createPrivately, isBusy } from "./sqlite-connection.ts";

export type LockedRole = "ingest" | "worker";

/**
 * One gateway per role per SQLite file. Two `start`s on one file would both work, slowly and
 * confusingly (two ingest processes fight over the write lock; an operator who forgot the first one
 * sees events handled by a process they cannot find). Each role takes an exclusive SQLite lock on a
 * small companion file, held for the life of the process and released by the OS if it dies, so a
 * crashed gateway never leaves a stale lock behind. The CLI's read and operator commands take none.
 */
export function acquireRunLocks(dbPath: string, roles: readonly LockedRole[]): { release(): void } {
  const held: DatabaseSync[] = [];
  const release = () => {
    for (const db of held.splice(0)) db.close();
  };
  for (const role of roles) {
    const path = `${dbPath}.${role}.lock`;
    createPrivately(path);
    const db = new DatabaseSync(path, { timeout: 0 });
    try {
      // EXCLUSIVE locking mode keeps the lock of the first write until the connection closes.
      db.exec("PRAGMA journal_mode = DELETE; PRAGMA locking_mode = EXCLUSIVE;");
      db.exec("CREATE TABLE IF NOT EXISTS holder (pid INTEGER); DELETE FROM holder;");
      db.prepare("INSERT INTO holder (pid) VALUES (?)").run(process.pid);
    } catch (error) {
      db.close();
      release();
      if (isBusy(error)) {
        throw new Error(
          `another gateway (${role} role) is already running on ${dbPath}: stop it first, or use ` +
            "PostgreSQL to run several. Read and operator commands (events, replay, forget-contact…) " +
            "work while it runs.",
        );
      }
      throw error;
    }
    held.push(db);
  }
  return { release };
}
