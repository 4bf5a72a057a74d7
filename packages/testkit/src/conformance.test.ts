import { describeConnector } from "./conformance.ts";
import { type FakeTarget, startFakeTarget } from "./fake-target.ts";
import { createTestConnector } from "./test-connector.ts";

// The suite run on the engine tests' connector and its fake: how a connector package adopts it.
describeConnector(createTestConnector("conformanceTarget", { maxBatchSize: 3 }), {
  async target() {
    const fake: FakeTarget = await startFakeTarget();
    return {
      config: { baseUrl: fake.url },
      fail(fault, times) {
        if (fault.kind === "rate-limited")
          fake.failNext(times, { status: 429, headers: { "retry-after": String(fault.retryAfterSeconds) } });
        else fake.failNext(times, { status: fault.kind === "unauthorized" ? 401 : 503 });
      },
      close: () => fake.close(),
    };
  },
});
