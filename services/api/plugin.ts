import { readFileSync } from "node:fs";
import rateLimit from "@fastify/rate-limit";
import type { Wallet } from "ethers";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { type DocumentNode, parse } from "graphql";
import mercurius from "mercurius";
import type { ForkSimulator } from "../chain/fork-simulation.ts";
import { hashApiKey } from "../db/api-keys.ts";
import { GOVERNANCE_CHANNEL, type GovernanceNotification } from "../indexer/notifications.ts";
import type { Deps } from "../shared/deps.ts";
import { AppError } from "../shared/errors.ts";
import { createContext } from "./context.ts";
import { errorFormatter } from "./error-formatter.ts";
import { checkComplexity, checkDepth, MAX_BODY_BYTES, MAX_DEPTH } from "./limits.ts";
import { createResolvers } from "./resolvers/index.ts";
import { PROPOSAL_TOPIC, VOTE_TOPIC } from "./resolvers/subscriptions.ts";

const schema = readFileSync(new URL("./schema.graphql", import.meta.url), "utf8");

export interface ApiPluginOptions {
  deps: Deps;
  /** Signs relayed castVoteBySig ballots; without it, castVoteBySig answers RELAYER_NOT_CONFIGURED. */
  relayer?: Wallet;
  /** Runs proposals on a fork of the chain (proposalImpact's simulation); without it, that field fails. */
  simulator?: ForkSimulator;
}

/** Rate-limit bucket: the bearer credential when one is sent (hashed, never kept in clear), else the IP. */
function clientKey(request: FastifyRequest): string {
  const auth = request.headers.authorization;
  return auth ? `auth:${hashApiKey(auth)}` : `ip:${request.ip}`;
}

/**
 * The GraphQL API on /graphql (POST and GET, GraphiQL at /graphiql, subscriptions over websockets on the
 * same path), encapsulated: its rate limit, body limit and error shape apply to its routes only.
 */
export default async function apiPlugin(app: FastifyInstance, opts: ApiPluginOptions): Promise<void> {
  const { deps } = opts;

  await app.register(rateLimit, {
    max: deps.config.API_RATE_LIMIT_PER_MINUTE,
    timeWindow: 60_000,
    keyGenerator: clientKey,
    errorResponseBuilder: (_request, context) =>
      Object.assign(
        new AppError("RATE_LIMITED", `more than ${context.max} GraphQL requests per minute; retry in ${context.after}`),
        { statusCode: 429 },
      ),
  });

  await app.register(mercurius, {
    schema,
    resolvers: createResolvers(deps, opts.relayer, opts.simulator) as never,
    graphiql: true,
    queryDepth: MAX_DEPTH,
    errorFormatter: errorFormatter as never,
    additionalRouteOptions: { bodyLimit: MAX_BODY_BYTES },
    context: (request) => createContext(deps, request.headers.authorization),
    subscription: {
      // One context per connection, living as long as it: its clock is read per event, not once.
      context: (_socket, request) => createContext(deps, request.headers.authorization, { longLived: true }),
    },
  });

  app.graphql.addHook("preExecution", (schema, document, _context, variables) => {
    checkComplexity(schema, document, variables);
  });
  // Subscriptions skip mercurius' validation rules: they are checked here, before mercurius' own depth check.
  app.graphql.addHook("preSubscriptionParsing", (schema, source) => {
    let document: DocumentNode;
    try {
      document = parse(source);
    } catch {
      return; // mercurius refuses the syntax error itself
    }
    checkDepth(document);
    checkComplexity(schema, document, undefined);
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
