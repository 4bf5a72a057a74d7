import { serve } from "@hono/node-server";
import { createApp } from "./app.js";

const app = createApp({
  secrets: (process.env.ENGAGE_SIGNING_SECRET ?? "").split(","),
  payloadKey: process.env.ENGAGE_PAYLOAD_KEY,
  onEvent: async (event) => {
    // Write it to your database or queue; event.id (the Svix message id when absent) deduplicates retries.
    console.warn(`received ${event.type} ${event.id}`);
  },
});
serve({ fetch: app.fetch, port: Number(process.env.PORT ?? 3000) }, (info) =>
  console.warn(`listening on http://localhost:${info.port}/webhooks/engage`),
);
