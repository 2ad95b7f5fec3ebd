import { type Kysely, sql } from "kysely";

/**
 * What a replay of the audit needs to decide a call again (services/policy/replay.ts): the prompt estimate
 * and the max_tokens it asked for (null: none asked) are what decide() reads beyond the record's other
 * columns, and `decided_at` is the clock the decision used (its epoch, its minute, whether a grant had
 * started), which `created_at` only approximates (the database's clock, at the write). Records written
 * before this migration have `prompt_tokens` null: a replay counts them as not evaluable.
 *
 * The audit record travels as JSON into the ledger's functions, which insert listed columns: each function
 * that inserts records is defined again, as its migration left it, with the three columns added.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .alterTable("gateway_decisions")
    .addColumn("prompt_tokens", "integer")
    .addColumn("max_tokens", "integer")
    .addColumn("decided_at", "timestamptz")
    .execute();
  // Replays read a window of the audit in pages, in time order.
  await db.schema
    .createIndex("gateway_decisions_created_idx")
    .on("gateway_decisions")
    .columns(["created_at", "id"])
    .execute();

  // gateway_reserve as 0004 defined it, with the three columns in its insert.
  await sql`
    create or replace function gateway_reserve(
      p_consumer text, p_model text, p_minute bigint, p_rpm bigint, p_epoch bigint, p_amount bigint,
      p_accounts text[], p_limits bigint[], p_pool_limits bigint[], p_record jsonb)
    returns table (outcome text, source_index integer) language plpgsql as $$
    declare
      i integer;
      taken boolean;
      v_outcome text := 'BUDGET_EXHAUSTED';
      v_index integer := null;
    begin
      insert into gateway_rate_counters as r (consumer, model_id, minute_start, requests)
        values (p_consumer, p_model, p_minute, 1)
        on conflict (consumer, model_id, minute_start) do update
          set requests = r.requests + 1 where r.requests < p_rpm;
      if not found then
        v_outcome := 'RATE_LIMITED';
      else
        for i in 1 .. coalesce(array_length(p_accounts, 1), 0) loop
          if p_pool_limits[i] is null then
            taken := gateway_take(p_accounts[i], p_epoch, p_limits[i], p_amount);
          else
            taken := gateway_take('pool', p_epoch, p_pool_limits[i], p_amount);
            if taken then
              taken := gateway_take(p_accounts[i], p_epoch, p_limits[i], p_amount);
              if not taken then
                update gateway_budget_counters set reserved = reserved - p_amount
                  where account = 'pool' and epoch_start = p_epoch;
              end if;
            end if;
          end if;
          if taken then
            v_outcome := 'ADMITTED';
            v_index := i;
            exit;
          end if;
        end loop;
      end if;
      insert into gateway_decisions (
        request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code,
        policy_version, proposal_id, source, source_id, epoch_start, tokens_reserved, outcome, overhead_ms,
        prompt_tokens, max_tokens, decided_at)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose,
        v_outcome = 'ADMITTED',
        case when v_outcome = 'ADMITTED' then null else v_outcome end,
        r.policy_version, r.proposal_id,
        case when v_index is null then null when p_pool_limits[v_index] is null then 'grant' else 'pool' end,
        case when v_index is null then null else (p_record -> 'source_ids' ->> (v_index - 1)) end,
        p_epoch,
        case when v_outcome = 'ADMITTED' then p_amount else 0 end,
        case when v_outcome = 'ADMITTED' then 'PENDING' else 'REFUSED' end,
        r.overhead_ms, r.prompt_tokens, r.max_tokens, r.decided_at
      from jsonb_populate_record(null::gateway_decisions, p_record) as r;
      return query select v_outcome, v_index;
    end $$`.execute(db);

  // gateway_admit_batch as 0006 defined it, with the three columns in its insert.
  await sql`
    create or replace function gateway_admit_batch(
      p_calls jsonb, p_consumers text[], p_models text[], p_minutes bigint[],
      p_accounts text[], p_epochs bigint[], p_limits bigint[])
    returns jsonb language plpgsql as $$
    declare
      v_n integer := jsonb_array_length(p_calls);
      v_call jsonb;
      v_i integer;
      v_k integer;
      v_ri integer;
      v_bi integer;
      v_pi integer;
      v_amount bigint;
      v_pool_limit bigint;
      v_outcome text;
      v_index integer;
      v_sync boolean := false;
      r_key text[];
      r_count bigint[];
      r_delta bigint[];
      b_key text[];
      b_spent bigint[];
      b_delta bigint[];
      outcomes text[] := '{}';
      indexes integer[] := '{}';
    begin
      with locked as (
        insert into gateway_rate_counters as r (consumer, model_id, minute_start, requests)
          select k.consumer, k.model, k.minute, 0 from unnest(p_consumers, p_models, p_minutes) as k(consumer, model, minute)
          order by 1, 2, 3
          on conflict (consumer, model_id, minute_start) do update set requests = r.requests
          returning r.consumer, r.model_id, r.minute_start, r.requests)
      select array_agg(l.requests order by k.ord) into r_count
        from unnest(p_consumers, p_models, p_minutes) with ordinality as k(consumer, model, minute, ord)
        join locked l on l.consumer = k.consumer and l.model_id = k.model and l.minute_start = k.minute;
      select array_agg(k.consumer || '|' || k.model || '|' || k.minute order by k.ord) into r_key
        from unnest(p_consumers, p_models, p_minutes) with ordinality as k(consumer, model, minute, ord);

      with locked as (
        insert into gateway_budget_counters as b (account, epoch_start, budget_limit, used, reserved)
          select k.account, k.epoch, k.lim, 0, 0 from unnest(p_accounts, p_epochs, p_limits) as k(account, epoch, lim)
          order by 1, 2
          on conflict (account, epoch_start) do update set budget_limit = b.budget_limit
          returning b.account, b.epoch_start, b.used + b.reserved as spent)
      select array_agg(l.spent order by k.ord), array_agg(k.account || '@' || k.epoch order by k.ord)
        into b_spent, b_key
        from unnest(p_accounts, p_epochs) with ordinality as k(account, epoch, ord)
        join locked l on l.account = k.account and l.epoch_start = k.epoch;

      r_delta := array_fill(0::bigint, array[coalesce(array_length(r_key, 1), 0)]);
      b_delta := array_fill(0::bigint, array[coalesce(array_length(b_key, 1), 0)]);

      for v_i in 0 .. v_n - 1 loop
        v_call := p_calls -> v_i;
        v_outcome := 'BUDGET_EXHAUSTED';
        v_index := null;
        v_ri := array_position(r_key, (v_call ->> 'consumer') || '|' || (v_call ->> 'model') || '|' || (v_call ->> 'minute'));
        if r_count[v_ri] + r_delta[v_ri] >= (v_call ->> 'rpm')::bigint then
          v_outcome := 'RATE_LIMITED';
        else
          r_delta[v_ri] := r_delta[v_ri] + 1;
          v_amount := (v_call ->> 'amount')::bigint;
          for v_k in 0 .. jsonb_array_length(v_call -> 'accounts') - 1 loop
            v_bi := array_position(b_key, (v_call -> 'accounts' ->> v_k) || '@' || (v_call ->> 'epoch'));
            if v_amount <= (v_call -> 'limits' ->> v_k)::bigint
                and b_spent[v_bi] + b_delta[v_bi] + v_amount <= (v_call -> 'limits' ->> v_k)::bigint then
              -- A community-pool allowance also needs room in the whole pool.
              v_pool_limit := (v_call -> 'pool_limits' ->> v_k)::bigint;
              if v_pool_limit is not null then
                v_pi := array_position(b_key, 'pool@' || (v_call ->> 'epoch'));
                if v_amount > v_pool_limit or b_spent[v_pi] + b_delta[v_pi] + v_amount > v_pool_limit then
                  continue;
                end if;
                b_delta[v_pi] := b_delta[v_pi] + v_amount;
              end if;
              b_delta[v_bi] := b_delta[v_bi] + v_amount;
              v_outcome := 'ADMITTED';
              v_index := v_k + 1;
              exit;
            end if;
          end loop;
        end if;
        outcomes := outcomes || v_outcome;
        indexes := indexes || v_index;
        v_sync := v_sync or v_outcome <> 'ADMITTED' or not (v_call ->> 'defer')::boolean;
      end loop;

      update gateway_rate_counters r set requests = r.requests + d.delta
        from unnest(p_consumers, p_models, p_minutes, r_delta) as d(consumer, model, minute, delta)
        where d.delta <> 0 and r.consumer = d.consumer and r.model_id = d.model and r.minute_start = d.minute;
      update gateway_budget_counters b set reserved = b.reserved + d.delta, budget_limit = d.lim
        from unnest(p_accounts, p_epochs, p_limits, b_delta) as d(account, epoch, lim, delta)
        where d.delta <> 0 and b.account = d.account and b.epoch_start = d.epoch;

      insert into gateway_decisions (
        request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code,
        policy_version, proposal_id, source, source_id, epoch_start, tokens_reserved, outcome, overhead_ms,
        prompt_tokens, max_tokens, decided_at)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose,
        o.outcome = 'ADMITTED',
        case when o.outcome = 'ADMITTED' then null else o.outcome end,
        r.policy_version, r.proposal_id,
        case when o.idx is null then null when e.c -> 'pool_limits' ->> (o.idx - 1) is null then 'grant' else 'pool' end,
        case when o.idx is null then null else e.c -> 'record' -> 'source_ids' ->> (o.idx - 1) end,
        (e.c ->> 'epoch')::bigint,
        case when o.outcome = 'ADMITTED' then (e.c ->> 'amount')::bigint else 0 end,
        case when o.outcome = 'ADMITTED' then 'PENDING' else 'REFUSED' end,
        r.overhead_ms, r.prompt_tokens, r.max_tokens, r.decided_at
      from jsonb_array_elements(p_calls) with ordinality as e(c, ord)
        join unnest(outcomes, indexes) with ordinality as o(outcome, idx, ord) on o.ord = e.ord
        cross join lateral jsonb_populate_record(null::gateway_decisions, e.c -> 'record') as r;

      -- Refusals are answered at once: they commit synchronously. So does a batch with a call that
      -- asked for it (a stream's admission must be on disk before its first byte).
      if not v_sync then
        perform set_config('synchronous_commit', 'off', true);
      end if;
      return jsonb_build_object(
        'outcomes', to_jsonb(outcomes),
        'indexes', to_jsonb(indexes),
        'requests', (select coalesce(jsonb_agg(a + b order by o), '[]') from unnest(r_count, r_delta) with ordinality as x(a, b, o)),
        'spent', (select coalesce(jsonb_agg(a + b order by o), '[]') from unnest(b_spent, b_delta) with ordinality as x(a, b, o)));
    end $$`.execute(db);

  // gateway_settle_batch as 0008 defined it, with the three columns in its insert.
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
        overhead_ms, created_at, settled_at, prompt_tokens, max_tokens, decided_at)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
          case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
          s.charged, s.outcome, s.latency_ms, s.overhead_ms, coalesce(r.created_at, now()), now(),
          r.prompt_tokens, r.max_tokens, r.decided_at
        from jsonb_to_recordset(p_settlements)
          as s(record jsonb, charged bigint, outcome text, latency_ms double precision, overhead_ms double precision)
          cross join lateral jsonb_populate_record(null::gateway_decisions, s.record) as r
        where s.record is not null;

      update gateway_decisions d set
          tokens_used = s.charged,
          outcome = s.outcome,
          reason_code = case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          latency_ms = s.latency_ms,
          overhead_ms = s.overhead_ms,
          settled_at = now()
        from jsonb_to_recordset(p_settlements)
          as s(request_id text, record jsonb, charged bigint, outcome text, latency_ms double precision,
            overhead_ms double precision)
        where s.record is null and d.request_id = s.request_id;

      return (select coalesce(jsonb_agg(b.used + b.reserved order by k.ord), '[]')
        from unnest(p_accounts, p_epochs) with ordinality as k(account, epoch, ord)
        join gateway_budget_counters b on b.account = k.account and b.epoch_start = k.epoch);
    end $$`.execute(db);

  // gateway_settle_recorded as 0008 defined it, with the three columns in its insert.
  await sql`
    create or replace function gateway_settle_recorded(
      p_record jsonb, p_consumer text, p_model text, p_source text, p_source_id text, p_accounts text[],
      p_epoch bigint, p_reserved bigint, p_charged bigint, p_outcome text, p_latency_ms double precision,
      p_overhead_ms double precision)
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
        overhead_ms, created_at, settled_at, prompt_tokens, max_tokens, decided_at)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
          case when p_outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
          p_charged, p_outcome, p_latency_ms, p_overhead_ms, coalesce(r.created_at, now()), now(),
          r.prompt_tokens, r.max_tokens, r.decided_at
        from jsonb_populate_record(null::gateway_decisions, p_record) as r;
      return query select coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
        from gateway_budget_counters c where c.epoch_start = p_epoch and c.account = any(p_accounts);
    end $$`.execute(db);
}
