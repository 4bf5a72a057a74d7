import { createApp } from "./app.js";

const app = createApp({
  secrets: (process.env.ENGAGE_SIGNING_SECRET ?? "").split(","),
  payloadKey: process.env.ENGAGE_PAYLOAD_KEY,
  onEvent: async (event) => {
    // Write it to your database or queue; event.id (the Svix message id when absent) deduplicates retries.
    console.warn(`received ${event.type} ${event.id}`);
  },
});
const port = Number(process.env.PORT ?? 3000);
app.listen(port, () => console.warn(`listening on http://localhost:${port}/webhooks/engage`));
