import { setFlagsFromString } from "node:v8";

/**
 * V8 "pretenures" objects from allocation sites whose objects tend to survive a young-generation GC:
 * it allocates them straight into the old generation. Under webhook load every request's objects
 * (request, response, the parsed event, the log line) wait for the group commit's fsync, survive a
 * scavenge often enough to be pretenured, and then die young anyway: the old generation fills with
 * garbage, V8 grows the heap to keep up (~350 MB RSS at 6,000 requests/s instead of ~170 MB) and
 * spends the CPU on major GCs. Measured with `pnpm bench:ingest` (docs/benchmarks.md).
 *
 * Set at start-up, before the gateway allocates: the flag is read at every GC, when V8 decides.
 */
export function tuneHeapForIngest(): void {
  setFlagsFromString("--no-allocation-site-pretenuring");
}
