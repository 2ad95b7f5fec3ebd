import type { SubscriptionRow, Subscriptions } from "../../notifications/subscriptions.ts";
import { deliveryHealth } from "../../notifications/subscriptions.ts";
import { AppError } from "../../shared/errors.ts";
import type { ApiContext } from "../context.ts";

type Channel = "WEBHOOK" | "EMAIL";

function shape(row: SubscriptionRow) {
  return {
    id: row.id,
    owner: row.owner,
    channel: row.channel.toUpperCase() as Channel,
    target: row.target,
    eventTypes: row.event_types,
    proposalIds: row.proposal_ids,
    models: row.models,
    delegates: row.delegates,
    verified: row.verified,
    active: row.active,
    createdAt: Math.floor(row.created_at.getTime() / 1000),
  };
}

/** The owner a caller acts as: the address of its API key (signed in with Ethereum). */
async function owner(ctx: ApiContext): Promise<string> {
  const caller = await ctx.caller();
  if (caller.kind === "consumer") return caller.address;
  throw new AppError(
    "UNAUTHENTICATED",
    caller.kind === "operator"
      ? "the operator token reads subscriptions and their health; a subscription belongs to an address: use its API key"
      : "send `Authorization: Bearer <api key>` (sign in with Ethereum for one) to manage notification subscriptions",
  );
}

/** Everyone's (the operator) or the caller's own. */
async function readable(ctx: ApiContext): Promise<string | null> {
  const caller = await ctx.caller();
  if (caller.kind === "operator") return null;
  return owner(ctx);
}

function unavailable(): never {
  throw new AppError("NOT_FOUND", "notifications are off on this service (NOTIFICATIONS=false)");
}

/** Query and Mutation fields of notification subscriptions; `subscriptions` is unset when notifications are off. */
export function createNotificationResolvers(subscriptions: Subscriptions | undefined) {
  const use = () => subscriptions ?? unavailable();
  return {
    queries: {
      async subscriptions(_: unknown, __: unknown, ctx: ApiContext) {
        const rows = await use().list(await readable(ctx));
        return rows.map(shape);
      },
      async notificationHealth(_: unknown, __: unknown, ctx: ApiContext) {
        use();
        const rows = await deliveryHealth(ctx.deps.database, await readable(ctx));
        return rows.map((r) => ({
          ...r,
          channel: r.channel.toUpperCase() as Channel,
          oldestPendingAt: r.oldestPendingAt ? Math.floor(r.oldestPendingAt.getTime() / 1000) : null,
        }));
      },
    },
    mutations: {
      async createSubscription(
        _: unknown,
        args: {
          input: {
            channel: Channel;
            target: string;
            eventTypes?: string[] | null;
            proposalIds?: bigint[] | null;
            models?: string[] | null;
            delegates?: string[] | null;
          };
        },
        ctx: ApiContext,
      ) {
        const { input } = args;
        const { row, secret } = await use().create(await owner(ctx), {
          ...input,
          proposalIds: input.proposalIds?.map(String) ?? null,
        });
        return { subscription: shape(row), secret };
      },
      async deleteSubscription(_: unknown, args: { id: string }, ctx: ApiContext) {
        await use().remove(await owner(ctx), args.id);
        return true;
      },
      async rotateSubscriptionSecret(_: unknown, args: { id: string }, ctx: ApiContext) {
        const { row, secret } = await use().rotateSecret(await owner(ctx), args.id);
        return { subscription: shape(row), secret };
      },
    },
  };
}
