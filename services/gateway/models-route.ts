import type { FastifyInstance } from "fastify";
import { isStale, isSuspendedAt } from "../policy/decide.ts";
import type { PolicySnapshot } from "../policy/types.ts";
import type { Enforcer } from "./enforcer.ts";
import { refuseUnauthenticated, sendError } from "./openai-errors.ts";
import type { PolicyStore } from "./policy-store.ts";

/** Models `consumer` may call: approved, not suspended, and some budget (a grant or the pool) covers it. */
export function usableModels(snapshot: PolicySnapshot, consumer: string, nowMs: number) {
  const nowS = Math.floor(nowMs / 1000);
  const grants = (snapshot.grantsByConsumer.get(consumer) ?? []).filter((g) => g.start <= nowS && nowS < g.end);
  const poolGives = snapshot.pool.allowancePerAddress > 0;
  return [...snapshot.models.values()].filter(
    (m) =>
      m.approved &&
      !isSuspendedAt(m, nowMs) &&
      (poolGives || grants.some((g) => g.modelId === "" || g.modelId === m.modelId)),
  );
}

/** GET /v1/models: the models this key may use, in OpenAI's list shape. */
export function registerModelsRoute(
  app: FastifyInstance,
  { enforcer, store, now }: { enforcer: Enforcer; store: PolicyStore; now: () => number },
) {
  app.get("/v1/models", async (request, reply) => {
    const key = await enforcer.authenticate(request.headers.authorization);
    if (key === null) return refuseUnauthenticated(reply);
    const snapshot = store.current();
    if (isStale(snapshot, now())) {
      return sendError(
        reply,
        "POLICY_STATE_STALE",
        "the policy index is behind the chain; refusing until it catches up",
      );
    }
    const data = usableModels(snapshot, key.address, now())
      .sort((a, b) => a.modelId.localeCompare(b.modelId))
      .map((m) => ({
        id: m.modelId,
        object: "model",
        created: m.provenance.blockTime,
        owned_by: "commons",
        policy_version: m.version,
        proposal_id: m.provenance.proposalId,
        guideline_uri: m.guidelineUri,
      }));
    return { object: "list", data };
  });
}
