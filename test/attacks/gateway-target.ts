import { Wallet } from "ethers";
import OpenAI from "openai";
import type { Test } from "tap";
import { issueApiKey } from "../../services/db/api-keys.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { buildGateway, openMigrated, policyRow, seedIndex } from "../../services/devkit/gateway.ts";
import { startTestUpstream } from "../../services/devkit/openai-upstream.ts";
import type { Logger } from "../../services/shared/logger.ts";

/**
 * What the attacks aim at: a gateway on a fresh Postgres database in front of a test upstream that bills
 * like a provider, with one model "m" (any purpose) and consumers who each hold a grant on it.
 */
export async function gatewayUnderAttack(
  t: Test,
  o: {
    /** Tokens per epoch of each consumer's grant (one consumer with 10M by default). */
    grants?: number[];
    policy?: Parameters<typeof policyRow>[1];
    now?: () => number;
    logger?: Logger;
  } = {},
) {
  const database = await openMigrated(t, await createTestDatabase(t));
  const upstream = await startTestUpstream();
  t.teardown(() => upstream.close());
  const consumers = (o.grants ?? [10_000_000]).map((tokensPerEpoch, i) => ({
    address: Wallet.createRandom().address,
    account: `grant:${i + 1}`,
    tokensPerEpoch,
  }));
  const now = o.now ?? Date.now;
  await seedIndex(database, {
    policies: [policyRow("m", { allowed_purposes: [], blocked_terms: [], ...o.policy })],
    grants: consumers.map((c, i) => ({ grantId: i + 1, grantee: c.address, tokensPerEpoch: c.tokensPerEpoch })),
    pool: { allowancePerAddress: 0, poolSizePerEpoch: 0 },
    heartbeatAt: new Date(now()),
  });
  const gw = await buildGateway(t, {
    database,
    upstreamUrl: upstream.url,
    now,
    ...(o.logger ? { logger: o.logger } : {}),
  });
  const clients = await Promise.all(
    consumers.map(async (c) => gw.client((await issueApiKey(database.db, { address: c.address })).key)),
  );
  return { db: database.db, upstream, gw, consumers, clients, client: clients[0] as OpenAI };
}

export const ask = (content: string) => [{ role: "user" as const, content }];

/** How a call ended: "ADMITTED", or the refusal's status, code and message. */
export async function outcome(
  call: Promise<unknown>,
): Promise<"ADMITTED" | { status: number; code: string; message: string }> {
  try {
    await call;
    return "ADMITTED";
  } catch (error) {
    if (error instanceof OpenAI.APIError)
      return { status: error.status, code: String(error.code), message: error.message };
    throw error;
  }
}

/** The reason code a call was refused with, or "ADMITTED". */
export async function codeOf(call: Promise<unknown>): Promise<string> {
  const ended = await outcome(call);
  return ended === "ADMITTED" ? ended : ended.code;
}
