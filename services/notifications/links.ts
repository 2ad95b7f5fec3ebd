import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "../shared/errors.ts";

/** What a link in an email does: confirm the address (an email subscription starts unverified), or unsubscribe. */
export type LinkAction = "confirm" | "unsubscribe";

function mac(secret: string, subscriptionId: string, action: LinkAction): string {
  return createHmac("sha256", secret).update(`${action}:${subscriptionId}`).digest("base64url");
}

/**
 * `<subscription id>.<HMAC of action and id under the subscription's secret>`. An email subscription's secret
 * never changes (rotation is a webhook's only), so a link in any mail sent works while the subscription lives.
 */
export function linkToken(secret: string, subscriptionId: string, action: LinkAction): string {
  return `${subscriptionId}.${mac(secret, subscriptionId, action)}`;
}

export function tokenSubscription(token: string): string {
  const id = token.split(".")[0] ?? "";
  if (!/^sub_[0-9a-f-]{36}$/.test(id))
    throw new AppError("LINK_INVALID", "the link is malformed: open the one in the email");
  return id;
}

/** Throws LINK_INVALID unless `token` was made by linkToken with this secret, id and action. */
export function checkLinkToken(token: string, secret: string, subscriptionId: string, action: LinkAction): void {
  const expected = Buffer.from(linkToken(secret, subscriptionId, action));
  const given = Buffer.from(token);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new AppError(
      "LINK_INVALID",
      "the link's signature does not verify: it is altered, or not from a mail of this subscription",
    );
  }
}
