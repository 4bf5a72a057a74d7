import { createApp } from "./app.js";

const app = createApp({
  secrets: (process.env.ENGAGE_SIGNING_SECRET ?? "").split(","),
  payloadKey: process.env.ENGAGE_PAYLOAD_KEY,
  logger: true,
  onEvent: async (event) => {
    // Write it to your database or queue; event.id (the Svix message id when absent) deduplicates retries.
    app.log.info({ type: event.type, id: event.id }, "engage event received");
  },
});
await app.listen({ port: Number(process.env.PORT ?? 3000) });
