import { type Kysely, sql } from "kysely";
import type { Database } from "./schema.ts";

/**
 * Rows per page: a round trip is a small share of a page, and two pages (the one replayed, the next one
 * on its way) stay a few megabytes.
 */
export const AUDIT_PAGE_SIZE = 20_000;

/** One audit record with what a replay of it reads (services/policy/replay.ts AuditedCall). */
export interface AuditWindowRow {
  /** The clock the decision used (decided_at, else created_at), Unix milliseconds. */
  decidedAtMs: number;
  consumer: string | null;
  modelId: string;
  /** Lowercased, as decided. */
  purpose: string | null;
  /** The prompt estimate; null in records older than migration 0016 (such a call cannot be replayed). */
  promptTokens: number | null;
  /** max_tokens as asked; null when none was. */
  maxTokens: number | null;
  /** Completions asked for (OpenAI's `n`); null: one. */
  choices: number | null;
  /** The voting power the pool's rule was judged on, at the start of epoch `poolEpochStart`; null: none loaded. */
  poolEpochStart: number | null;
  poolVotes: string | null;
  admitted: boolean;
  reasonCode: string | null;
  policyVersion: number | null;
  tokensUsed: number;
  id: number;
}

/** A record to read pages into: a replay reuses one for millions of rows instead of one object per row. */
export function emptyAuditRow(): AuditWindowRow {
  return {
    decidedAtMs: 0,
    consumer: null,
    modelId: "",
    purpose: null,
    promptTokens: null,
    maxTokens: null,
    choices: null,
    poolEpochStart: null,
    poolVotes: null,
    admitted: false,
    reasonCode: null,
    policyVersion: null,
    tokensUsed: 0,
    id: 0,
  };
}

/**
 * A row as Postgres sends it: the numbers, the reason code and the consumer in one text (`packed`), so
 * that the driver decodes three fields a row instead of fourteen (it was the stream's main cost: a string
 * and a type parser per field, an object per row). The model and the purpose stay columns of their own:
 * they are free text that may hold the separator. The consumer comes last, so it may hold it too.
 */
interface PackedRow {
  packed: string;
  modelId: string;
  purpose: string | null;
}

const COMMA = 44;
const MINUS = 45;
const ZERO = 48;

/** Rows of the window read from Postgres, decoded one at a time into a record the caller owns. */
export class AuditPage {
  readonly length: number;
  constructor(private readonly rows: PackedRow[]) {
    this.length = rows.length;
  }

  /** Row `index` into `into` (returned): no allocation but the consumer's and the reason code's strings. */
  read(index: number, into: AuditWindowRow): AuditWindowRow {
    const row = this.rows[index] as PackedRow;
    const p = row.packed;
    into.modelId = row.modelId;
    into.purpose = row.purpose;
    let at = 0;
    // Ten integers (pool_votes is a uint256: kept as its text), then the reason code, then the consumer.
    for (let field = 0; field < 10; field++) {
      const start = at;
      let value = 0;
      let negative = false;
      for (let c = p.charCodeAt(at); at < p.length && c !== COMMA; c = p.charCodeAt(++at)) {
        if (c === MINUS) negative = true;
        else value = value * 10 + (c - ZERO);
      }
      const empty = at === start;
      switch (field) {
        case 0:
          into.decidedAtMs = value;
          break;
        case 1:
          into.id = value;
          break;
        case 2:
          into.promptTokens = empty ? null : value;
          break;
        case 3:
          into.maxTokens = empty ? null : value;
          break;
        case 4:
          into.choices = empty ? null : value;
          break;
        case 5:
          into.poolEpochStart = empty ? null : negative ? -value : value;
          break;
        case 6:
          into.poolVotes = empty ? null : p.slice(start, at);
          break;
        case 7:
          into.admitted = value === 1;
          break;
        case 8:
          into.policyVersion = empty ? null : value;
          break;
        default:
          into.tokensUsed = negative ? -value : value;
      }
      at++;
    }
    // A null consumer is sent as no field at all (see `packedColumns`), an empty one as an empty field.
    const reasonEnd = p.indexOf(",", at);
    const end = reasonEnd === -1 ? p.length : reasonEnd;
    into.reasonCode = end === at ? null : p.slice(at, end);
    into.consumer = reasonEnd === -1 ? null : p.slice(reasonEnd + 1);
    return into;
  }

  /** The keyset position after this page: its last row's id. */
  lastId(): number {
    return this.read(this.length - 1, emptyAuditRow()).id;
  }
}

const text = (column: string) => sql`coalesce(${sql.ref(column)}::text, '')`;

/**
 * The packed text: decidedAtMs, id, promptTokens, maxTokens, choices, poolEpochStart, poolVotes, admitted
 * (0 or 1), policyVersion, tokensUsed, reasonCode, consumer, joined by commas; an empty field is null. concat_ws skips NULL arguments: the nullable numbers are coalesced
 * to empty fields, and the consumer, last, is skipped when null (no separator before it), which is how
 * `read` tells a null consumer from an empty one.
 */
const packedColumns = sql<string>`concat_ws(',',
  (date_part('epoch', coalesce(decided_at, created_at)) * 1000)::int8, id, ${text("prompt_tokens")},
  ${text("max_tokens")}, ${text("choices")}, ${text("pool_epoch_start")}, ${text("pool_votes")}, admitted::int,
  ${text("policy_version")}, tokens_used, coalesce(reason_code, ''), consumer)`;

/** `after`: the id of the previous page's last row, the keyset position (with its created_at, read in SQL). */
async function page(db: Kysely<Database>, window: { since: Date; until: Date }, after: number | null, size: number) {
  const rows = await db
    .selectFrom("gateway_decisions")
    .select([packedColumns.as("packed"), "model_id as modelId", "purpose"])
    .where("created_at", ">=", window.since)
    .where("created_at", "<", window.until)
    // The position's created_at is read by Postgres, to the microsecond, from the row itself.
    .$if(after !== null, (q) =>
      q.where(
        sql<boolean>`(created_at, id) > ((select p.created_at from gateway_decisions p where p.id = ${after}), ${after})`,
      ),
    )
    .orderBy("created_at")
    .orderBy("id")
    .limit(size)
    .execute();
  return new AuditPage(rows);
}

/**
 * The audit records made in [since, until), in the order they were made (created_at, id), a page at a
 * time: a replay of millions of records holds two pages in memory. Each page is one indexed keyset query
 * (migrations/0016's index); the next one is already on its way while the caller works on this one.
 */
export async function* auditWindow(
  db: Kysely<Database>,
  window: { since: Date; until: Date },
  pageSize = AUDIT_PAGE_SIZE,
): AsyncGenerator<AuditPage> {
  let next: Promise<AuditPage> | null = page(db, window, null, pageSize);
  while (next !== null) {
    const rows: AuditPage = await next;
    // The next page is asked for before this one is handed out: Postgres works while the caller does.
    next = rows.length === pageSize ? page(db, window, rows.lastId(), pageSize) : null;
    if (rows.length > 0) yield rows;
  }
}
