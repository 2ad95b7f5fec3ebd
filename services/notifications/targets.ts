import { lookup } from "node:dns/promises";
import { BlockList, isIP } from "node:net";
import { AppError } from "../shared/errors.ts";

/** Addresses a webhook may never reach: the machine itself, its link, or nowhere. */
const forbidden = new BlockList();
forbidden.addSubnet("169.254.0.0", 16, "ipv4"); // link-local (cloud metadata lives here)
forbidden.addSubnet("0.0.0.0", 8, "ipv4"); // "this network"
forbidden.addSubnet("fe80::", 10, "ipv6");
forbidden.addAddress("::", "ipv6");
const loopback = new BlockList();
loopback.addSubnet("127.0.0.0", 8, "ipv4");
loopback.addAddress("::1", "ipv6");

export interface TargetRules {
  /** NOTIFY_ALLOW_LOOPBACK: development and tests reach receivers on this machine. */
  allowLoopback: boolean;
  /** This service's own origins (host:port): a webhook must not call the service itself. */
  selfOrigins: string[];
}

function familyOf(address: string): "ipv4" | "ipv6" {
  return isIP(address) === 6 ? "ipv6" : "ipv4";
}

/** An IPv4-mapped IPv6 address is judged as the IPv4 address it maps. */
function unmapped(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}

/** A checked URL and the address it was checked at: the request connects to that one address. */
export interface CheckedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

/**
 * Checks a webhook URL and the addresses its host resolves to; throws WEBHOOK_URL_INVALID or
 * WEBHOOK_URL_FORBIDDEN. Run when a subscription is made and again before each send (a name may
 * resolve elsewhere later); the send connects to the address checked here, not to a second lookup's.
 */
export async function checkWebhookUrl(raw: string, rules: TargetRules): Promise<CheckedTarget> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new AppError("WEBHOOK_URL_INVALID", `${JSON.stringify(raw.slice(0, 200))} is not an absolute URL`);
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw new AppError("WEBHOOK_URL_INVALID", `a webhook URL must be http(s), not ${url.protocol}`);
  }
  if (url.username || url.password) {
    throw new AppError(
      "WEBHOOK_URL_INVALID",
      "a webhook URL must not carry credentials (the signature authenticates us)",
    );
  }
  if (raw.length > 2048) throw new AppError("WEBHOOK_URL_INVALID", "a webhook URL is at most 2048 characters");
  const port = url.port || (url.protocol === "https:" ? "443" : "80");
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: string[];
  try {
    addresses = isIP(host) ? [host] : (await lookup(host, { all: true })).map((a) => a.address);
  } catch (cause) {
    throw new AppError("WEBHOOK_URL_INVALID", `the webhook host ${host} does not resolve`, { cause });
  }
  for (const found of addresses.map(unmapped)) {
    const family = familyOf(found);
    const isLoopback = loopback.check(found, family);
    if (forbidden.check(found, family) || (isLoopback && !rules.allowLoopback)) {
      throw new AppError(
        "WEBHOOK_URL_FORBIDDEN",
        `the webhook host ${host} resolves to ${found}, which webhooks may not reach`,
        {
          details: { address: found },
        },
      );
    }
    const self = rules.selfOrigins.some((origin) => {
      const [selfHost, selfPort] = splitOrigin(origin);
      return selfPort === port && (selfHost === host || selfHost === found || (isLoopback && isLocal(selfHost)));
    });
    if (self) {
      throw new AppError("WEBHOOK_URL_FORBIDDEN", `the webhook URL points at this service itself (${url.host})`, {
        details: { address: found },
      });
    }
  }
  const address = addresses[0] as string;
  return { url, address, family: isIP(address) === 6 ? 6 : 4 };
}

/** A service listening on a loopback or unspecified address (or named localhost) answers on loopback. */
function isLocal(host: string): boolean {
  if (host === "localhost") return true;
  const address = unmapped(host);
  if (!isIP(address)) return false;
  return loopback.check(address, familyOf(address)) || address === "0.0.0.0" || address === "::";
}

function splitOrigin(origin: string): [string, string] {
  const url = new URL(origin);
  return [url.hostname.replace(/^\[|\]$/g, ""), url.port || (url.protocol === "https:" ? "443" : "80")];
}

/** Addresses as people write them: one @, a dotted domain, no spaces or angle brackets, at most 254 characters. */
const EMAIL = /^[^\s@<>()[\]\\,;:"]{1,64}@(?=.{1,253}$)([a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/i;

/** Checks an email address can be mailed: its form, and that the service has an SMTP server to send through. */
export function checkEmail(raw: string, smtpConfigured: boolean): string {
  const address = raw.trim();
  if (!EMAIL.test(address)) {
    throw new AppError("EMAIL_UNVERIFIABLE", `${JSON.stringify(address.slice(0, 254))} is not an email address`);
  }
  if (!smtpConfigured) {
    throw new AppError("EMAIL_UNVERIFIABLE", "this service sends no email (SMTP_URL is not set): use a webhook");
  }
  return address;
}
