import { createWebhookServer } from "./app.js";

const server = createWebhookServer({
  secrets: (process.env.ENGAGE_SIGNING_SECRET ?? "").split(","),
  payloadKey: process.env.ENGAGE_PAYLOAD_KEY,
  onEvent: async (event) => {
    // Write it to your database or queue; event.id (the Svix message id when absent) deduplicates retries.
    console.warn(`received ${event.type} ${event.id}`);
  },
});
const port = Number(process.env.PORT ?? 3000);
server.listen(port, () => console.warn(`listening on http://localhost:${port}/webhooks/engage`));
