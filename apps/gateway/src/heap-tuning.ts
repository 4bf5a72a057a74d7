import { setFlagsFromString } from "node:v8";

/**
 * Heap settings for the long-running server (`start`), measured with `pnpm bench:ingest`
 * (docs/benchmarks.md). The webhook path allocates ~40 kB per request that all dies within
 * milliseconds, at thousands of requests a second; V8's defaults are tuned for programs whose
 * objects live longer.
 */

/**
 * Node flags for the server's command line. They size the heap when the process starts, so they
 * cannot be set from inside it: the Dockerfile's ENTRYPOINT and the systemd unit pass them (a test
 * checks both), and the ingest bench runs the gateway with them.
 *
 * `--max-semi-space-size=8` (MB): the young generation stays at 8 MB semi-spaces instead of
 * growing to V8's default 16 to 32 MB: ~40 MB less RSS under load, at the cost of more scavenges,
 * each of them cheap because almost nothing survives one.
 */
export const SERVER_NODE_FLAGS: readonly string[] = ["--max-semi-space-size=8"];

/**
 * V8 "pretenures" objects from allocation sites whose objects tend to survive a young-generation
 * GC: it allocates them straight into the old generation. Under webhook load every request's
 * objects (request, response, the parsed event, the log line) wait for the group commit's fsync,
 * survive a scavenge often enough to be pretenured, and then die young anyway: the old generation
 * fills with garbage, V8 grows the heap to keep up (~335 MB RSS at 6,000 requests/s instead of
 * ~170 MB) and spends the CPU on major GCs. This flag is read at every GC, so setting it at
 * start-up, before the gateway allocates, is enough.
 */
export function tuneHeapForIngest(): void {
  setFlagsFromString("--no-allocation-site-pretenuring");
}
