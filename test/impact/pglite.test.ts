import { id } from "ethers";
import OpenAI from "openai";
import t from "tap";
import { createGraphqlClient } from "../../services/cli/graphql-client.ts";
import { apiKeyFor, build, enact } from "../helpers/app.ts";
import { adHoc } from "../helpers/graphql.ts";

/** `npm start`'s embedded database: the replay's paged reads and the simulation work there too. */
t.test("proposalImpact on PGlite with the development model", async (t) => {
  const service = await build(t, { database: "pglite" });
  const policy = (maxTokensPerRequest: number) => ({
    setModelPolicy: {
      modelId: "embedded-1",
      approved: true,
      maxTokensPerRequest,
      requestsPerMinute: 60,
      allowedPurposes: [],
      blockedTerms: [],
      guidelineUri: "https://example.org/embedded-1",
      guidelineHash: id("embedded-1"),
    },
  });
  await enact(service, [policy(64)]);
  const { key } = await apiKeyFor(service, 1);
  const client = new OpenAI({ apiKey: key, baseURL: service.urls.gateway, maxRetries: 0 });
  const since = Math.floor(Date.now() / 1000);
  for (const max_tokens of [8, 40]) {
    await client.chat.completions.create({
      model: "embedded-1",
      max_tokens,
      messages: [{ role: "user", content: "hi" }],
    });
  }
  const { draftProposal } = await createGraphqlClient(service.urls.http).request(
    adHoc<
      {
        draftProposal: {
          impact: {
            simulation: { executes: boolean };
            replay: { calls: number; evaluated: number; changes: { from: string; to: string; calls: number }[] };
          };
        };
      },
      Record<string, unknown>
    >(`mutation ($input: DraftProposalInput!, $since: Timestamp) { draftProposal(input: $input) { impact {
      simulation { executes } replay(since: $since) { calls evaluated changes { from to calls } } } } }`),
    {
      input: {
        description: "Lower the limit",
        actions: [policy(16)],
        proposer: "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
      },
      since,
    },
  );
  const { simulation, replay } = draftProposal.impact;
  t.equal(simulation.executes, true);
  t.equal(replay.calls, 2);
  t.equal(replay.evaluated, 2);
  t.same(replay.changes, [{ from: "ADMITTED", to: "MAX_TOKENS_EXCEEDED", calls: 1 }], "the call asking 40 tokens");
});
