// The first import of cli.ts (a bare import, which import sorting leaves in place): ES modules are
// evaluated in import order, so this body runs before cli.ts's other imports load the gateway, the
// connectors and their CommonJS SDKs, which must find `http`/`https` already instrumented.
// Only `start` (the long-running server) needs either: the read commands have nothing to trace and
// allocate little. See heap-tuning.ts and tracing.ts.
import { tuneHeapForIngest } from "./heap-tuning.ts";
import { startTracing } from "./tracing.ts";

const command = process.argv.slice(2).find((arg) => !arg.startsWith("-"));
if (command === "start") {
  tuneHeapForIngest();
  startTracing();
}
