-- The guard for a batch of calls a replica has in flight at once, in one round trip and one transaction:
-- each counter row is read and written once per batch instead of once per call. The rows a batch may
-- touch are locked first, always in one order (rate counters, then budget counters, each sorted, each
-- in one upsert that also creates the missing rows, so no row can be created by one batch while another
-- waits for it); then each call is decided in order against what they hold plus what the earlier calls
-- of the batch took, exactly as gateway_admit decides one call; then each counter is written once and
-- the audit records (admitted PENDING, or refused) are inserted.
--
-- p_calls: [{ consumer, model, minute, rpm, epoch, amount, accounts[], limits[], pool_limits[] (null for
-- a grant), defer, record }]. The counter keys come sorted from the caller: rate counters (p_consumers,
-- p_models, p_minutes) and budget counters (p_accounts, p_epochs, with the limit each has now).
-- Returns { outcomes, indexes (1-based source charged), requests (per rate key, after), spent
-- (used + reserved per budget key, after) }.
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
    prompt_tokens, max_tokens, choices, decided_at, pool_epoch_start, pool_votes, shadow)
  select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose,
    o.outcome = 'ADMITTED',
    case when o.outcome = 'ADMITTED' then null else o.outcome end,
    r.policy_version, r.proposal_id,
    case when o.idx is null then null when e.c -> 'pool_limits' ->> (o.idx - 1) is null then 'grant' else 'pool' end,
    case when o.idx is null then null else e.c -> 'record' -> 'source_ids' ->> (o.idx - 1) end,
    (e.c ->> 'epoch')::bigint,
    case when o.outcome = 'ADMITTED' then (e.c ->> 'amount')::bigint else 0 end,
    case when o.outcome = 'ADMITTED' then 'PENDING' else 'REFUSED' end,
    r.overhead_ms,
    -- What a replay of the audit decides the call again with (policy/replay.ts), carried as the gateway sent it.
    r.prompt_tokens, r.max_tokens, r.choices, r.decided_at, r.pool_epoch_start, r.pool_votes, r.shadow
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
end $$;
