// POST /api/webhooks/engage in a Next.js App Router app: copy this file and lib/engage-events.ts into
// your app. A route handler receives the untouched Fetch API Request, so the raw body is there to verify;
// no body-parser setup is needed (unlike Pages Router API routes).
import {
  createVerifier,
  EventParseError,
  verifyRequestAndParse,
  WebhookVerificationError,
  type WebhookVerifier,
} from "@engage-bridge/core";
import { saveEngageEvent } from "../../../../lib/engage-events.ts"; // "@/lib/engage-events" in your app

// @engage-bridge/core uses node:crypto: the Node.js runtime (the default). On the Edge runtime, use
// createWebVerifier from @engage-bridge/core/web instead.
export const runtime = "nodejs";

// Created on the first request, not at import: `next build` loads this module without the secret.
let verifier: WebhookVerifier | undefined;
function getVerifier(): WebhookVerifier {
  // Several comma-separated secrets during a rotation, with or without the whsec_ prefix.
  verifier ??= createVerifier({ secrets: (process.env.ENGAGE_SIGNING_SECRET ?? "").split(",") });
  return verifier;
}

export async function POST(request: Request): Promise<Response> {
  try {
    const { event } = await verifyRequestAndParse(getVerifier(), request, {
      payloadKey: process.env.ENGAGE_PAYLOAD_KEY,
    });
    // Store it before answering 2xx: Svix does not send it again once acknowledged. A throw here
    // is a 500, and Svix retries.
    await saveEngageEvent(event);
    return new Response(null, { status: 204 });
  } catch (error) {
    if (error instanceof WebhookVerificationError) {
      return Response.json({ error: "invalid_signature", reason: error.reason }, { status: 401 });
    }
    if (error instanceof EventParseError) {
      // Genuine but unusable: acknowledge it anyway, or Svix retries it for a day.
      console.warn("engage webhook not parsed:", error.reason);
      return new Response(null, { status: 204 });
    }
    throw error;
  }
}
