import { randomBytes } from "node:crypto";
import { Webhook } from "standardwebhooks";
import type { OutgoingEvent } from "./render.ts";

/** A new Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

/** The JSON body receivers get: Standard Webhooks' `{type, timestamp, data}`, plus the event id to de-duplicate by. */
export function webhookBody(event: OutgoingEvent): string {
  return JSON.stringify({ id: event.id, type: event.type, timestamp: event.occurredAt.toISOString(), data: event.data });
}

/**
 * The three Standard Webhooks headers. During a secret rotation the signature header carries one
 * signature per live secret (space-separated), so a receiver verifies with either the old or the new one.
 */
export function webhookHeaders(secrets: string[], event: OutgoingEvent, body: string, now: Date): Record<string, string> {
  return {
    "webhook-id": event.id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(event.id, now, body)).join(" "),
  };
}

/**
 * POSTs one event; resolves when the receiver answered 2xx within `timeoutMs`, throws otherwise (the
 * message says what happened, for the delivery's last_error). Redirects are not followed: a receiver
 * could point us at an address the URL check refused.
 */
export async function postWebhook(
  url: string,
  secrets: string[],
  event: OutgoingEvent,
  options: { timeoutMs: number; now: Date },
): Promise<void> {
  const body = webhookBody(event);
  let response: Response;
  try {
    response = await fetch(url, {
      method: "POST",
      headers: {
        "content-type": "application/json",
        "user-agent": "ai-commons-notifications",
        ...webhookHeaders(secrets, event, body, options.now),
      },
      body,
      redirect: "manual",
      signal: AbortSignal.timeout(options.timeoutMs),
    });
  } catch (error) {
    const name = error instanceof Error ? error.name : "";
    if (name === "TimeoutError") throw new Error(`no answer within ${options.timeoutMs} ms`);
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new Error(`request failed: ${cause}`);
  }
  // The body is not read: draining it frees the connection for the next event.
  await response.body?.cancel().catch(() => {});
  if (response.status < 200 || response.status > 299) throw new Error(`receiver answered HTTP ${response.status}`);
}
