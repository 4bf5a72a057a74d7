import pino, { type DestinationStream } from "pino";

/** A log destination that can also be emptied on demand (pino calls `flush` from `logger.flush()`). */
export interface TurnDestination extends DestinationStream {
  /** Writes what was gathered now, synchronously. */
  flushSync(): void;
  flush(callback?: (error?: Error) => void): void;
}

/** What a turn's lines are written to: pino's own synchronous destination in production. */
export interface SyncWriter {
  write(chunk: string): unknown;
}

/**
 * Lines logged in one turn of the event loop, written with one synchronous write when the turn
 * ends (`setImmediate`). Under load the ingest path logs a line per webhook and a group commit
 * resumes a few dozen requests in one turn. pino's default asynchronous destination paid ~3 µs per
 * line for its buffering and thread-pool writes; one write per turn costs ~0.5 µs per line
 * (docs/benchmarks.md). The order of lines is kept, no line waits for more than its own turn, and
 * a process that exits (even on an uncaught exception) writes what it gathered first. A SIGKILL
 * loses at most the current turn's lines, as the asynchronous destination lost what it had not
 * written yet.
 */
export function turnDestination(target: SyncWriter): TurnDestination {
  let lines: string[] = [];
  let scheduled = false;
  const flushSync = () => {
    if (lines.length === 0) return;
    const chunk = lines.length === 1 ? (lines[0] as string) : lines.join("");
    lines = [];
    target.write(chunk);
  };
  const endOfTurn = () => {
    scheduled = false;
    flushSync();
  };
  return {
    write(line: string) {
      lines.push(line);
      if (scheduled) return;
      scheduled = true;
      setImmediate(endOfTurn);
    },
    flushSync,
    flush(callback) {
      try {
        flushSync();
      } catch (error) {
        callback?.(error as Error);
        return;
      }
      callback?.();
    },
  };
}

let stdout: TurnDestination | undefined;

/**
 * The process's standard output as a turn destination: one per process, however many loggers
 * write to it, flushed when the process exits. Below it, pino's synchronous destination: it
 * retries a full pipe (EAGAIN) and goes quiet on a closed one (EPIPE) instead of throwing.
 */
export function stdoutTurnDestination(): TurnDestination {
  if (stdout) return stdout;
  const destination = turnDestination(pino.destination({ dest: 1, sync: true }));
  process.on("exit", () => destination.flushSync());
  stdout = destination;
  return destination;
}
