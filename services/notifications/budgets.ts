import { type Kysely, sql } from "kysely";
import type { Database } from "../db/schema.ts";
import { OUTBOX_CHANNEL } from "./outbox.ts";

/** Look back this far for epochs and refusals: a scan missed while no replica led is made up for within it. */
const LOOKBACK_S = 7 * 86_400;

/**
 * The budget thresholds, by a periodic scan of the ledger on the delivering leader (not at settlement: the
 * gateway's settlement path stays as it is, and a scan costs one statement per interval). Idempotent per
 * (account, epoch, threshold) through the outbox's dedupe key, so rescans and a new leader write nothing twice.
 *
 * - 80%: an account (a grant, or one address's community allowance) has `used` at least 80% of its limit.
 * - 100%: the account's `used` reached its limit, or a call of the consumer was refused BUDGET_EXHAUSTED in
 *   the epoch (reservations are guarded, so `used` alone may stop short of the limit).
 *
 * Returns how many events it wrote.
 */
export async function scanBudgets(db: Kysely<Database>, nowS: number): Promise<number> {
  const since = nowS - LOOKBACK_S;
  const { rows } = await sql<{ n: number }>`
    with accounts as (
      select c.account, c.epoch_start, c.budget_limit, c.used,
        case when c.account like 'pool:%' then 'pool' else 'grant' end as source,
        case when c.account like 'pool:%' then substr(c.account, 6) else g.grantee end as owner
      from gateway_budget_counters c
      left join grants g on c.account = 'grant:' || g.grant_id
      where c.account <> 'pool' and c.budget_limit > 0 and c.epoch_start >= ${since}),
    refused as (
      select consumer, coalesce(decided_at, created_at) as at from gateway_decisions
      where reason_code = 'BUDGET_EXHAUSTED' and coalesce(settled_at, created_at) > to_timestamp(${since})
        and outcome <> 'PENDING' and consumer is not null),
    crossed as (
      select a.*, 80 as percent from accounts a where a.used * 100 >= a.budget_limit * 80
      union all
      select a.*, 100 from accounts a
      where a.used >= a.budget_limit
        -- A refusal names no epoch: it falls in the account's epoch that had begun, and no later one had.
        or exists (
          select 1 from refused r
          where r.consumer = a.owner and r.at >= to_timestamp(a.epoch_start) and not exists (
            select 1 from gateway_budget_counters n
            where n.account = a.account and n.epoch_start > a.epoch_start and to_timestamp(n.epoch_start) <= r.at))),
    written as (
      insert into notification_events (id, type, dedupe_key, recipient, data, occurred_at)
      select gen_random_uuid()::text, 'budget.threshold',
        'budget:' || account || ':' || epoch_start || ':' || percent, owner,
        jsonb_build_object('account', account, 'source', source, 'epochStart', epoch_start, 'percent', percent,
          'used', used, 'limit', budget_limit, 'consumer', owner),
        now()
      from crossed where owner is not null
      order by epoch_start, account, percent
      on conflict (dedupe_key) do nothing
      returning 1)
    select count(*)::int as n from written`.execute(db);
  const written = rows[0]?.n ?? 0;
  if (written > 0) await sql`select pg_notify(${OUTBOX_CHANNEL}, '')`.execute(db);
  return written;
}
