import { readFileSync } from "node:fs";
import rateLimit from "@fastify/rate-limit";
import websocket from "@fastify/websocket";
import type { Wallet } from "ethers";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import mercurius, { type IResolvers } from "mercurius";
import type { ForkSimulator } from "../chain/fork-simulation.ts";
import { GOVERNANCE_CHANNEL, type GovernanceNotification } from "../indexer/notifications.ts";
import type { Subscriptions } from "../notifications/subscriptions.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";
import { clientKeyOf } from "./caller.ts";
import { createContext } from "./context.ts";
import { errorFormatter } from "./error-formatter.ts";
import { checkCost, checkShape, checkSubscriptionDocument, MAX_BODY_BYTES } from "./limits.ts";
import receiptsFileRoute from "./receipts-file.ts";
import { createResolvers } from "./resolvers/index.ts";
import { PROPOSAL_TOPIC, VOTE_TOPIC } from "./resolvers/subscriptions.ts";

const schema = readFileSync(new URL("./schema.graphql", import.meta.url), "utf8");

export interface ApiPluginOptions {
  deps: Deps;
  /** Signs relayed castVoteBySig ballots; without it, castVoteBySig answers RELAYER_NOT_CONFIGURED. */
  relayer?: Wallet;
  /** Runs proposals on a fork of the chain (proposalImpact's simulation); without it, that field fails. */
  simulator?: ForkSimulator;
  /** Notification subscriptions; without them those fields answer NOT_FOUND. */
  subscriptions?: Subscriptions;
}

function refuse(reply: FastifyReply, error: AppError, extensions: Record<string, unknown> = {}) {
  return reply
    .code(error.status)
    .send({ data: null, errors: [{ message: error.message, extensions: { code: error.code, ...extensions } }] });
}

/**
 * Websocket connections each client holds open on this replica: one more than the limit is refused at
 * the upgrade with RATE_LIMITED, before any subscription can start.
 */
function limitWebsocketsPerClient(app: FastifyInstance, deps: Deps) {
  const open = new Map<string, number>();
  const maximum = deps.config.API_WS_CONNECTIONS_PER_CLIENT;
  app.addHook("preValidation", async (request: FastifyRequest, reply: FastifyReply) => {
    if (!request.ws) return;
    const client = await clientKeyOf(deps, request);
    const count = open.get(client) ?? 0;
    if (count >= maximum) {
      return refuse(
        reply,
        new AppError("RATE_LIMITED", `at most ${maximum} websocket connections per client: close one first`),
        { maximum },
      );
    }
    open.set(client, count + 1);
    request.raw.socket.once("close", () => {
      const left = (open.get(client) ?? 1) - 1;
      if (left > 0) open.set(client, left);
      else open.delete(client);
    });
  });
}

/**
 * Answers larger than API_MAX_RESPONSE_BYTES are refused (the operation's cost bounds the work; this
 * bounds what one answer holds in memory and on the wire).
 */
function limitResponseSize(app: FastifyInstance, maximum: number) {
  app.addHook("onSend", async (request, reply, payload) => {
    if (!request.url.startsWith("/graphql") || typeof payload !== "string" || payload.length * 3 <= maximum) {
      return payload;
    }
    const bytes = Buffer.byteLength(payload);
    if (bytes <= maximum) return payload;
    reply.code(400);
    return JSON.stringify({
      data: null,
      errors: [
        {
          message: `the answer is ${bytes} bytes, more than the limit of ${maximum}: ask for smaller pages or fewer fields`,
          extensions: { code: "QUERY_TOO_COMPLEX", bytes, maximum },
        },
      ],
    });
  });
}

/**
 * The GraphQL API on /graphql (POST and GET, GraphiQL at /graphiql, subscriptions over websockets on the
 * same path), encapsulated: its rate limit, body limit and error shape apply to its routes only.
 */
export default async function apiPlugin(app: FastifyInstance, opts: ApiPluginOptions): Promise<void> {
  const { deps } = opts;
  const { config } = deps;

  await app.register(rateLimit, {
    max: config.API_RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: (request) => clientKeyOf(deps, request),
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new AppError("RATE_LIMITED", `more than ${context.max} GraphQL requests per minute; retry in ${context.after}`),
        { statusCode: 429 },
      ),
  });
  // Registered here (mercurius would otherwise, with a 1 MiB message limit): a message is held to the
  // same size as a request body.
  await app.register(websocket, { options: { maxPayload: MAX_BODY_BYTES } });
  limitWebsocketsPerClient(app, deps);
  limitResponseSize(app, config.API_MAX_RESPONSE_BYTES);

  await app.register(mercurius, {
    schema,
    // Checked against schema.graphql where they are built (resolvers/index.ts); the generated types
    // speak Apollo's dialect (__isTypeOf), which mercurius' own resolver type does not.
    resolvers: createResolvers(deps, opts.relayer, opts.simulator, opts.subscriptions) as IResolvers,
    graphiql: true,
    errorFormatter: errorFormatter as never,
    additionalRouteOptions: { bodyLimit: MAX_BODY_BYTES },
    context: (request) => createContext(deps, request),
    subscription: {
      // One context per connection, living as long as it: its clock is read per event, not once.
      context: (_socket, request) => createContext(deps, request, { longLived: true }),
    },
  });

  await app.register(receiptsFileRoute, { deps });

  // The shape needs no variables: checked before validation, which compares repeated fields pairwise.
  app.graphql.addHook("preValidation", (_schema, document) => {
    checkShape(document);
  });
  app.graphql.addHook("preExecution", (schema, document, _context, variables) => {
    checkCost(schema, document, variables);
  });
  // Runs for every subscription, sent as text or as a pre-parsed document; its cost is checked as it starts.
  app.graphql.addHook("preSubscriptionExecution", (schema, document) => {
    checkSubscriptionDocument(schema, document);
  });

  // The indexer notifies after each committed change; every replica's subscribers hear it.
  const unlisten = await deps.database.listen(
    GOVERNANCE_CHANNEL,
    (payload) => {
      let event: GovernanceNotification;
      try {
        event = JSON.parse(payload) as GovernanceNotification;
      } catch {
        deps.logger.warn({ channel: GOVERNANCE_CHANNEL }, "ignored a notification that is not JSON");
        return;
      }
      const topic = event.type === "vote" ? VOTE_TOPIC : PROPOSAL_TOPIC;
      app.graphql.pubsub.publish({ topic, payload: event });
    },
    () =>
      deps.logger.warn(
        { channel: GOVERNANCE_CHANNEL },
        "the notification listener reconnected; subscribers may have missed updates sent meanwhile",
      ),
  );
  app.addHook("onClose", async () => {
    await unlisten();
  });
}
