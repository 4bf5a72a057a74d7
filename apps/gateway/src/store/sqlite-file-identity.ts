import { statSync } from "node:fs";

/** Thrown when the file the store writes is no longer the one at its path. */
export class StoreFileChangedError extends Error {
  override readonly name = "StoreFileChangedError";
}

type Identity = { dev: number; ino: number };

function identityOf(path: string): Identity | undefined {
  try {
    const { dev, ino } = statSync(path);
    return { dev, ino };
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw error;
  }
}

/**
 * Notices that the database file or its WAL was deleted or replaced under a running gateway.
 * SQLite goes on writing to the open (now unlinked or foreign) inode and reports success, but the
 * next start opens whatever is at the path: every event acknowledged meanwhile would be gone. So the
 * open file's identity (device and inode) is compared with the path's before each commit.
 */
export class FileIdentity {
  private readonly path: string;
  private readonly db: Identity | undefined;
  private wal: Identity | undefined;

  constructor(path: string) {
    this.path = path;
    this.db = identityOf(path);
    this.wal = identityOf(`${path}-wal`);
  }

  /** Throws {@link StoreFileChangedError} when the path no longer names the files opened. */
  check(): void {
    const db = identityOf(this.path);
    if (!db || !this.db || db.dev !== this.db.dev || db.ino !== this.db.ino) {
      throw new StoreFileChangedError(
        `the database file ${this.path} was ${db ? "replaced" : "deleted"} while open; restart the gateway`,
      );
    }
    const wal = identityOf(`${this.path}-wal`);
    // The WAL exists from the first read on and lives as long as this connection does (SQLite
    // removes it only when the last connection closes); once seen, it must stay the same file.
    if (this.wal === undefined) {
      this.wal = wal;
      return;
    }
    if (!wal || wal.dev !== this.wal.dev || wal.ino !== this.wal.ino) {
      throw new StoreFileChangedError(
        `the write-ahead log ${this.path}-wal was ${wal ? "replaced" : "deleted"} while open; restart the gateway`,
      );
    }
  }
}
