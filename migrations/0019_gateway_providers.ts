import { type Kysely, sql } from "kysely";

/**
 * Several upstream providers: each audit record names the provider that served its call (or the last one
 * that failed it), as the gateway's configuration names it (UPSTREAMS). The settlement, which is when
 * the gateway knows, writes it: the three settlement functions of 0005 and 0008 are those functions plus
 * the provider (`provider` in each settlement of the batch; a last argument `p_provider` of the one-call
 * ones, which are new functions to Postgres, so the old ones are dropped).
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable("gateway_decisions").addColumn("provider", "text").execute();

  // p_settlements: 0008's, each settlement with its provider.
  await sql`
    create or replace function gateway_settle_batch(p_settlements jsonb, p_accounts text[], p_epochs bigint[])
    returns jsonb language plpgsql as $$
    begin
      if not jsonb_path_exists(p_settlements, '$[*].record') then
        perform set_config('synchronous_commit', 'off', true);
      end if;
      with moved as (
        select a.account, (s ->> 'epoch')::bigint as epoch,
          sum((s ->> 'reserved')::bigint) as reserved, sum((s ->> 'charged')::bigint) as charged
        from jsonb_array_elements(p_settlements) as s, jsonb_array_elements_text(s -> 'accounts') as a(account)
        group by 1, 2)
      insert into gateway_budget_counters as b (account, epoch_start, budget_limit, used, reserved)
        select m.account, m.epoch, 0, 0, 0 from moved m order by 1, 2
        on conflict (account, epoch_start) do update
          set reserved = b.reserved - (select m.reserved from moved m where m.account = excluded.account and m.epoch = excluded.epoch_start),
              used = b.used + (select m.charged from moved m where m.account = excluded.account and m.epoch = excluded.epoch_start);

      insert into gateway_usage as u (consumer, model_id, source, source_id, epoch_start, tokens_used, requests)
        select s ->> 'consumer', s ->> 'model', s ->> 'source', s ->> 'source_id', (s ->> 'epoch')::bigint,
          sum((s ->> 'charged')::bigint), count(*)
        from jsonb_array_elements(p_settlements) as s
        group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
        on conflict (consumer, model_id, source, source_id, epoch_start) do update
          set tokens_used = u.tokens_used + excluded.tokens_used, requests = u.requests + excluded.requests;

      insert into gateway_decisions (
        request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code, policy_version,
        proposal_id, source, source_id, epoch_start, tokens_reserved, tokens_used, outcome, latency_ms,
        overhead_ms, created_at, settled_at, provider)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
          case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
          s.charged, s.outcome, s.latency_ms, s.overhead_ms, coalesce(r.created_at, now()), now(), s.provider
        from jsonb_to_recordset(p_settlements)
          as s(record jsonb, charged bigint, outcome text, latency_ms double precision, overhead_ms double precision,
            provider text)
          cross join lateral jsonb_populate_record(null::gateway_decisions, s.record) as r
        where s.record is not null;

      update gateway_decisions d set
          tokens_used = s.charged,
          outcome = s.outcome,
          reason_code = case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          latency_ms = s.latency_ms,
          overhead_ms = s.overhead_ms,
          settled_at = now(),
          provider = s.provider
        from jsonb_to_recordset(p_settlements)
          as s(request_id text, record jsonb, charged bigint, outcome text, latency_ms double precision,
            overhead_ms double precision, provider text)
        where s.record is null and d.request_id = s.request_id;

      return (select coalesce(jsonb_agg(b.used + b.reserved order by k.ord), '[]')
        from unnest(p_accounts, p_epochs) with ordinality as k(account, epoch, ord)
        join gateway_budget_counters b on b.account = k.account and b.epoch_start = k.epoch);
    end $$`.execute(db);

  // 0005's gateway_settle_returning with 0004's gateway_settle written in, plus the provider.
  await sql`drop function if exists gateway_settle_returning(text, text, text, text, text, text[], bigint, bigint, bigint, text,
    double precision, double precision)`.execute(db);
  await sql`
    create function gateway_settle_returning(
      p_request_id text, p_consumer text, p_model text, p_source text, p_source_id text, p_accounts text[],
      p_epoch bigint, p_reserved bigint, p_charged bigint, p_outcome text, p_latency_ms double precision,
      p_overhead_ms double precision, p_provider text)
    returns table (accounts text[], spent bigint[]) language plpgsql as $$
    begin
      perform set_config('synchronous_commit', 'off', true);
      update gateway_budget_counters set reserved = reserved - p_reserved, used = used + p_charged
        where account = any(p_accounts) and epoch_start = p_epoch;
      insert into gateway_usage as u (consumer, model_id, source, source_id, epoch_start, tokens_used, requests)
        values (p_consumer, p_model, p_source, p_source_id, p_epoch, p_charged, 1)
        on conflict (consumer, model_id, source, source_id, epoch_start) do update
          set tokens_used = u.tokens_used + p_charged, requests = u.requests + 1;
      update gateway_decisions set
          tokens_used = p_charged,
          outcome = p_outcome,
          reason_code = case when p_outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          latency_ms = p_latency_ms,
          overhead_ms = p_overhead_ms,
          settled_at = now(),
          provider = p_provider
        where request_id = p_request_id;
      return query select coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
        from gateway_budget_counters c where c.epoch_start = p_epoch and c.account = any(p_accounts);
    end $$`.execute(db);

  // 0008's gateway_settle_recorded plus the provider.
  await sql`drop function if exists gateway_settle_recorded(jsonb, text, text, text, text, text[], bigint, bigint, bigint, text,
    double precision, double precision)`.execute(db);
  await sql`
    create function gateway_settle_recorded(
      p_record jsonb, p_consumer text, p_model text, p_source text, p_source_id text, p_accounts text[],
      p_epoch bigint, p_reserved bigint, p_charged bigint, p_outcome text, p_latency_ms double precision,
      p_overhead_ms double precision, p_provider text)
    returns table (accounts text[], spent bigint[]) language plpgsql as $$
    begin
      update gateway_budget_counters set reserved = reserved - p_reserved, used = used + p_charged
        where account = any(p_accounts) and epoch_start = p_epoch;
      insert into gateway_usage as u (consumer, model_id, source, source_id, epoch_start, tokens_used, requests)
        values (p_consumer, p_model, p_source, p_source_id, p_epoch, p_charged, 1)
        on conflict (consumer, model_id, source, source_id, epoch_start) do update
          set tokens_used = u.tokens_used + p_charged, requests = u.requests + 1;
      insert into gateway_decisions (
        request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code, policy_version,
        proposal_id, source, source_id, epoch_start, tokens_reserved, tokens_used, outcome, latency_ms,
        overhead_ms, created_at, settled_at, provider)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
          case when p_outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
          p_charged, p_outcome, p_latency_ms, p_overhead_ms, coalesce(r.created_at, now()), now(), p_provider
        from jsonb_populate_record(null::gateway_decisions, p_record) as r;
      return query select coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
        from gateway_budget_counters c where c.epoch_start = p_epoch and c.account = any(p_accounts);
    end $$`.execute(db);
}
