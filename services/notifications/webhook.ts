import { randomBytes } from "node:crypto";
import { Agent as HttpAgent, request as httpRequest } from "node:http";
import { Agent as HttpsAgent, request as httpsRequest } from "node:https";
import { Webhook } from "standardwebhooks";
import type { OutgoingEvent } from "./render.ts";
import type { CheckedTarget } from "./targets.ts";

/** A new Standard Webhooks secret: `whsec_` and 24 random bytes in base64. */
export function newWebhookSecret(): string {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

/** The JSON body receivers get: Standard Webhooks' `{type, timestamp, data}`, plus the event id to de-duplicate by. */
export function webhookBody(event: OutgoingEvent): string {
  return JSON.stringify({
    id: event.id,
    type: event.type,
    timestamp: event.occurredAt.toISOString(),
    data: event.data,
  });
}

/**
 * The three Standard Webhooks headers. During a secret rotation the signature header carries one
 * signature per live secret (space-separated), so a receiver verifies with either the old or the new one.
 */
export function webhookHeaders(
  secrets: string[],
  event: OutgoingEvent,
  body: string,
  now: Date,
): Record<string, string> {
  return {
    "webhook-id": event.id,
    "webhook-timestamp": String(Math.floor(now.getTime() / 1000)),
    "webhook-signature": secrets.map((secret) => new Webhook(secret).sign(event.id, now, body)).join(" "),
  };
}

/** Keep-alive connections per receiver host: a busy receiver is not paid a TCP (and TLS) handshake per event. */
const agents = {
  http: new HttpAgent({ keepAlive: true, maxSockets: 64 }),
  https: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
};

/**
 * POSTs one event; resolves when the receiver answered 2xx within `timeoutMs`, throws otherwise (the
 * message says what happened, for the delivery's last_error). Redirects are not followed: a receiver
 * could point us at an address the URL check refused. node:http rather than fetch: about twice the
 * requests per second on one core, which is the deliverer's ceiling.
 */
export async function postWebhook(
  target: CheckedTarget,
  secrets: string[],
  event: OutgoingEvent,
  options: { timeoutMs: number; now: Date },
): Promise<void> {
  const body = webhookBody(event);
  const secure = target.url.protocol === "https:";
  const status = await new Promise<number>((resolve, reject) => {
    const request = (secure ? httpsRequest : httpRequest)(
      target.url,
      {
        method: "POST",
        // The address the URL was checked at, not a second lookup's (which could answer another one).
        lookup: (_host, options, callback) => {
          if (options.all) callback(null, [{ address: target.address, family: target.family }]);
          else (callback as (e: null, a: string, f: number) => void)(null, target.address, target.family);
        },
        agent: secure ? agents.https : agents.http,
        headers: {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
          "user-agent": "ai-commons-notifications",
          ...webhookHeaders(secrets, event, body, options.now),
        },
        signal: AbortSignal.timeout(options.timeoutMs),
      },
      (response) => {
        // The body is not read: draining it frees the connection for the next event.
        response.resume();
        response.on("end", () => resolve(response.statusCode ?? 0));
        response.on("error", reject);
      },
    );
    request.on("error", (error) => {
      reject(
        error.name === "AbortError"
          ? new Error(`no answer within ${options.timeoutMs} ms`)
          : new Error(`request failed: ${error.message}`),
      );
    });
    request.end(body);
  });
  if (status < 200 || status > 299) throw new Error(`receiver answered HTTP ${status}`);
}
