import { type Kysely, sql } from "kysely";

/**
 * The gateway's hot path without waiting for the disk before the upstream call:
 *
 * - `gateway_admit` is gateway_reserve (0004) that may defer its flush: the admission of a call whose
 *   answer is sent only after its settlement commits asynchronously, so the upstream call starts at
 *   once; the gateway then waits for a `gateway_flush` (shared by the calls in flight, running while
 *   the upstream works) before answering. Refusals always commit synchronously (their answer follows
 *   at once). It also returns what the guarded rows hold afterwards (the replica's spending hint), so
 *   that a call needs no separate usage read.
 * - `gateway_settle_returning` is gateway_settle (0004) returning the settled rows' spending.
 *
 * The guards are unchanged (0004's gateway_take and upserts): Postgres stays the authority.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create function gateway_admit(
      p_consumer text, p_model text, p_minute bigint, p_rpm bigint, p_epoch bigint, p_amount bigint,
      p_accounts text[], p_limits bigint[], p_pool_limits bigint[], p_record jsonb, p_defer_flush boolean)
    returns table (outcome text, source_index integer, requests bigint, accounts text[], spent bigint[])
    language plpgsql as $$
    declare
      v_outcome text;
      v_index integer;
    begin
      select r.outcome, r.source_index into v_outcome, v_index
        from gateway_reserve(p_consumer, p_model, p_minute, p_rpm, p_epoch, p_amount, p_accounts, p_limits,
          p_pool_limits, p_record) as r;
      if v_outcome = 'ADMITTED' and p_defer_flush then
        perform set_config('synchronous_commit', 'off', true);
      end if;
      return query select v_outcome, v_index,
        (select rc.requests from gateway_rate_counters rc
          where rc.consumer = p_consumer and rc.model_id = p_model and rc.minute_start = p_minute)::bigint,
        coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
        from gateway_budget_counters c
        where c.epoch_start = p_epoch and c.account = any(p_accounts || array['pool']);
    end $$`.execute(db);

  // gateway_settle (0004, asynchronous commit) that also returns the settled rows' spending, for the hint.
  await sql`
    create function gateway_settle_returning(
      p_request_id text, p_consumer text, p_model text, p_source text, p_source_id text, p_accounts text[],
      p_epoch bigint, p_reserved bigint, p_charged bigint, p_outcome text, p_latency_ms double precision,
      p_overhead_ms double precision)
    returns table (accounts text[], spent bigint[]) language plpgsql as $$
    begin
      perform gateway_settle(p_request_id, p_consumer, p_model, p_source, p_source_id, p_accounts, p_epoch,
        p_reserved, p_charged, p_outcome, p_latency_ms, p_overhead_ms);
      return query select coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
        from gateway_budget_counters c where c.epoch_start = p_epoch and c.account = any(p_accounts);
    end $$`.execute(db);

  // A transaction whose synchronous commit waits until the WAL is on disk up to it, and so makes every
  // transaction committed before it durable (WAL is flushed in order). The smallest write that gives a
  // transaction an id and a commit record: a transactional WAL message (no table, no row lock).
  await sql`
    create function gateway_flush() returns void language plpgsql as $$
    begin
      perform pg_logical_emit_message(true, 'commons_gateway_flush', '');
    end $$`.execute(db);
}
