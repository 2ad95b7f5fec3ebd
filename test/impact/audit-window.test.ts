import t from "tap";
import { AUDIT_PAGE_SIZE, auditWindow, emptyAuditRow } from "../../services/db/audit-window.ts";
import { createTestDatabase } from "../../services/devkit/database.ts";
import { openMigrated } from "../../services/devkit/gateway.ts";

/**
 * The replay's stream sends each row's numbers, reason code and consumer packed in one text: every field
 * must come back as the columns hold it, nulls, free text holding the separator and uint256 votes included,
 * across pages, in the order the records were made.
 */
const database = await openMigrated(t, await createTestDatabase(t));
const { db } = database;
const base = new Date("2027-03-01T10:00:00.000Z").getTime();

const rows = [
  {
    consumer: "0xaaaa000000000000000000000000000000000001",
    model_id: "m,1",
    purpose: "research, teaching",
    admitted: true,
    reason_code: null,
    policy_version: 3,
    tokens_used: 311,
    prompt_tokens: 120,
    max_tokens: 64,
    choices: 2,
    pool_epoch_start: 1_800_000_000,
    pool_votes: "115792089237316195423570985008687907853269984665640564039457584007913129639935",
  },
  {
    consumer: null,
    model_id: "m2",
    purpose: null,
    admitted: false,
    reason_code: "INVALID_API_KEY",
    policy_version: null,
    tokens_used: 0,
    prompt_tokens: null,
    max_tokens: null,
    choices: null,
    pool_epoch_start: null,
    pool_votes: null,
  },
  {
    consumer: "odd,consumer",
    model_id: "",
    purpose: "",
    admitted: false,
    reason_code: "BUDGET_EXHAUSTED",
    policy_version: 1,
    tokens_used: 0,
    prompt_tokens: 0,
    max_tokens: 0,
    choices: null,
    pool_epoch_start: 0,
    pool_votes: "0",
  },
  {
    consumer: "",
    model_id: "m3",
    purpose: "education",
    admitted: true,
    reason_code: null,
    policy_version: 1,
    tokens_used: 7,
    prompt_tokens: 5,
    max_tokens: null,
    choices: 1,
    pool_epoch_start: null,
    pool_votes: null,
  },
];

t.test("every field of a record comes back as stored, across pages, in order", async (t) => {
  const inserted = await db
    .insertInto("gateway_decisions")
    .values(
      rows.map((r, i) => ({
        ...r,
        request_id: `req_${i}`,
        endpoint: "chat.completions",
        outcome: r.admitted ? "COMPLETED" : "REFUSED",
        tokens_reserved: r.tokens_used,
        created_at: new Date(base + i * 1000),
        // The first record's decision clock differs from its creation (a reservation settled later).
        decided_at: i === 0 ? new Date(base - 250) : null,
      })),
    )
    .returning("id")
    .execute();
  const window = { since: new Date(base - 1000), until: new Date(base + 60_000) };
  const read = [];
  let pages = 0;
  for await (const page of auditWindow(db, window, 3)) {
    pages++;
    for (let i = 0; i < page.length; i++) read.push({ ...page.read(i, emptyAuditRow()) });
  }
  t.equal(pages, 2, "pages of 3 rows");
  t.ok(AUDIT_PAGE_SIZE >= 10_000, "the service's pages are large");
  t.same(
    read,
    rows.map((r, i) => ({
      decidedAtMs: i === 0 ? base - 250 : base + i * 1000,
      consumer: r.consumer,
      modelId: r.model_id,
      purpose: r.purpose,
      promptTokens: r.prompt_tokens,
      maxTokens: r.max_tokens,
      choices: r.choices,
      poolEpochStart: r.pool_epoch_start,
      poolVotes: r.pool_votes,
      admitted: r.admitted,
      reasonCode: r.reason_code,
      policyVersion: r.policy_version,
      tokensUsed: r.tokens_used,
      id: Number(inserted[i]?.id),
    })),
  );
  const outside = [];
  for await (const page of auditWindow(db, { since: new Date(base + 2000), until: new Date(base + 3000) })) {
    for (let i = 0; i < page.length; i++) outside.push(page.read(i, emptyAuditRow()).modelId);
  }
  t.same(outside, [""], "only the records made in [since, until)");
});
