-- The guard for one call, in one transaction (a batch of one: gateway_admit_batch decides exactly the
-- same, and test/db/ledger.test.ts checks that on random histories; this one costs about half as much
-- for a single call, and a quiet replica sends every call alone): count the request against its
-- per-minute limit, reserve its worst case from the first source with room (a community-pool allowance
-- needs room in the whole pool too) and write its audit record, admitted or refused, in the same
-- transaction. Returns ADMITTED and the 1-based index of the source charged, or the refusal's reason
-- code, with what the guarded rows hold after (this replica's spending hint).
-- p_defer_flush: an admission may commit asynchronously (the caller awaits gateway_flush before it
-- answers); a refusal always commits synchronously (its answer follows at once).
-- Lock order (README.md): rate counter, then budget counters in the call's spending order (a batch
-- locks them sorted; a deadlock between the two is rolled back by Postgres and sent again by the client).
create or replace function gateway_admit(
  p_consumer text, p_model text, p_minute bigint, p_rpm bigint, p_epoch bigint, p_amount bigint,
  p_accounts text[], p_limits bigint[], p_pool_limits bigint[], p_record jsonb, p_defer_flush boolean)
returns table (outcome text, source_index integer, requests bigint, accounts text[], spent bigint[])
language plpgsql as $$
declare
  v_i integer;
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
    for v_i in 1 .. coalesce(array_length(p_accounts, 1), 0) loop
      continue when p_amount > p_limits[v_i];
      if p_pool_limits[v_i] is not null then
        continue when p_amount > p_pool_limits[v_i];
        insert into gateway_budget_counters as c (account, epoch_start, budget_limit, used, reserved)
          values ('pool', p_epoch, p_pool_limits[v_i], 0, p_amount)
          on conflict (account, epoch_start) do update
            set reserved = c.reserved + p_amount, budget_limit = p_pool_limits[v_i]
            where c.used + c.reserved + p_amount <= p_pool_limits[v_i];
        continue when not found;
      end if;
      insert into gateway_budget_counters as c (account, epoch_start, budget_limit, used, reserved)
        values (p_accounts[v_i], p_epoch, p_limits[v_i], 0, p_amount)
        on conflict (account, epoch_start) do update
          set reserved = c.reserved + p_amount, budget_limit = p_limits[v_i]
          where c.used + c.reserved + p_amount <= p_limits[v_i];
      if found then
        v_outcome := 'ADMITTED';
        v_index := v_i;
        exit;
      end if;
      if p_pool_limits[v_i] is not null then
        update gateway_budget_counters set reserved = reserved - p_amount where account = 'pool' and epoch_start = p_epoch;
      end if;
    end loop;
  end if;

  insert into gateway_decisions (
    request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code,
    policy_version, proposal_id, source, source_id, epoch_start, tokens_reserved, outcome, overhead_ms,
    prompt_tokens, max_tokens, choices, decided_at, pool_epoch_start, pool_votes, shadow)
  select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose,
    v_outcome = 'ADMITTED',
    case when v_outcome = 'ADMITTED' then null else v_outcome end,
    r.policy_version, r.proposal_id,
    case when v_index is null then null when p_pool_limits[v_index] is null then 'grant' else 'pool' end,
    case when v_index is null then null else (p_record -> 'source_ids' ->> (v_index - 1)) end,
    p_epoch,
    case when v_outcome = 'ADMITTED' then p_amount else 0 end,
    case when v_outcome = 'ADMITTED' then 'PENDING' else 'REFUSED' end,
    r.overhead_ms,
    -- What a replay of the audit decides the call again with (policy/replay.ts), carried as the gateway sent it.
    r.prompt_tokens, r.max_tokens, r.choices, r.decided_at, r.pool_epoch_start, r.pool_votes, r.shadow
  from jsonb_populate_record(null::gateway_decisions, p_record) as r;

  if v_outcome = 'ADMITTED' and p_defer_flush then
    perform set_config('synchronous_commit', 'off', true);
  end if;
  return query select v_outcome, v_index,
    (select rc.requests from gateway_rate_counters rc
      where rc.consumer = p_consumer and rc.model_id = p_model and rc.minute_start = p_minute)::bigint,
    coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
    from gateway_budget_counters c
    where c.epoch_start = p_epoch and c.account = any(p_accounts || array['pool']);
end $$;
