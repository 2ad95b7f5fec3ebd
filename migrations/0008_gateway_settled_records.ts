import { type Kysely, sql } from "kysely";

/**
 * A call admitted on its replica's slice (0007) has nothing of its own in Postgres until it is settled:
 * its settlement now carries its audit record, inserted already settled, in the settlement's transaction.
 * That is one write per call where there were two (a PENDING insert, then an update of it), and one
 * round trip. The settlements themselves are 0005's and 0006's functions, unchanged: they move the
 * counters and the ledger and update the records that exist (a carried record does not exist yet, so
 * it is inserted after them, settled). A settlement that carries a record commits synchronously: the
 * record must be on disk before its call is answered.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // p_settlements as gateway_settle_batch takes them; those with a `record` (the gateway_decisions row as
  // admitted) get it inserted. The settlement functions turn synchronous_commit off for the transaction;
  // a record turns it back to p_sync, the setting its caller read before them (reading pg_settings
  // instead tripled the cost of a call settled alone).
  await sql`
    create function gateway_insert_settled(p_settlements jsonb, p_sync text) returns void language plpgsql as $$
    begin
      if not jsonb_path_exists(p_settlements, '$[*].record') then
        return;
      end if;
      perform set_config('synchronous_commit', p_sync, true);
      insert into gateway_decisions (
        request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code, policy_version,
        proposal_id, source, source_id, epoch_start, tokens_reserved, tokens_used, outcome, latency_ms,
        overhead_ms, created_at, settled_at)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
          case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
          s.charged, s.outcome, s.latency_ms, s.overhead_ms, coalesce(r.created_at, now()), now()
        from jsonb_to_recordset(p_settlements)
          as s(record jsonb, charged bigint, outcome text, latency_ms double precision, overhead_ms double precision)
          cross join lateral jsonb_populate_record(null::gateway_decisions, s.record) as r
        where s.record is not null;
    end $$`.execute(db);

  // gateway_settle_batch (0006) for settlements that may carry their records.
  await sql`
    create function gateway_settle_recorded_batch(p_settlements jsonb, p_accounts text[], p_epochs bigint[])
    returns jsonb language plpgsql as $$
    declare
      v_sync text := current_setting('synchronous_commit');
      v_spent jsonb := gateway_settle_batch(p_settlements, p_accounts, p_epochs);
    begin
      perform gateway_insert_settled(p_settlements, v_sync);
      return v_spent;
    end $$`.execute(db);

  // gateway_settle_returning (0005) for one settlement with its record: a quiet replica settles every
  // call alone, and the batch function costs a lone call about twice as much.
  await sql`
    create function gateway_settle_recorded(
      p_record jsonb, p_consumer text, p_model text, p_source text, p_source_id text, p_accounts text[],
      p_epoch bigint, p_reserved bigint, p_charged bigint, p_outcome text, p_latency_ms double precision,
      p_overhead_ms double precision)
    returns table (accounts text[], spent bigint[]) language plpgsql as $$
    declare
      v_sync text := current_setting('synchronous_commit');
    begin
      return query select * from gateway_settle_returning(p_record ->> 'request_id', p_consumer, p_model,
        p_source, p_source_id, p_accounts, p_epoch, p_reserved, p_charged, p_outcome, p_latency_ms, p_overhead_ms);
      perform gateway_insert_settled(jsonb_build_array(jsonb_build_object('record', p_record,
        'charged', p_charged, 'outcome', p_outcome, 'latency_ms', p_latency_ms, 'overhead_ms', p_overhead_ms)),
        v_sync);
    end $$`.execute(db);
}
