import nodemailer, { type Transporter } from "nodemailer";
import { AppError } from "../shared/errors.ts";
import { type LinkAction, linkToken } from "./links.ts";
import { type OutgoingEvent, renderText } from "./render.ts";

export interface Mailer {
  /** Sends one event as plain text, with a one-click unsubscribe link (RFC 8058 headers and in the text). */
  sendEvent(to: { id: string; target: string; secret: string }, event: OutgoingEvent): Promise<void>;
  /** Asks the address to confirm the subscription; an address the server refuses is EMAIL_UNVERIFIABLE. */
  sendConfirmation(to: { id: string; target: string; secret: string }): Promise<void>;
  close(): void;
}

export function createMailer(options: {
  smtpUrl: string;
  from: string;
  publicUrl: () => string;
  timeoutMs: number;
}): Mailer {
  const transport: Transporter = nodemailer.createTransport(options.smtpUrl, {
    pool: true,
    connectionTimeout: options.timeoutMs,
    greetingTimeout: options.timeoutMs,
    socketTimeout: options.timeoutMs,
  } as never);
  const link = (sub: { id: string; secret: string }, action: LinkAction) =>
    `${options.publicUrl()}/notifications/${action}?token=${encodeURIComponent(linkToken(sub.secret, sub.id, action))}`;

  return {
    async sendEvent(to, event) {
      const { subject, lines } = renderText(event);
      const unsubscribe = link(to, "unsubscribe");
      await transport.sendMail({
        from: options.from,
        to: to.target,
        subject: `[AI Commons] ${subject}`,
        text: [...lines, "", `Unsubscribe (one click): ${unsubscribe}`, ""].join("\n"),
        headers: {
          "List-Unsubscribe": `<${unsubscribe}>`,
          "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
          "X-Commons-Event-Id": event.id,
        },
      });
    },

    async sendConfirmation(to) {
      try {
        await transport.sendMail({
          from: options.from,
          to: to.target,
          subject: "[AI Commons] Confirm your notification subscription",
          text: [
            "Someone (we hope you) asked AI Commons to email governance notifications to this address.",
            "",
            `Confirm: ${link(to, "confirm")}`,
            "",
            "Nothing is sent until you confirm. If this was not you, ignore this message.",
            "",
          ].join("\n"),
        });
      } catch (cause) {
        const reason = cause instanceof Error ? cause.message : String(cause);
        throw new AppError("EMAIL_UNVERIFIABLE", `the mail server refused ${to.target}: ${reason}`, { cause });
      }
    },

    close: () => transport.close(),
  };
}
