-- gateway_settle_batch for one call, written out for one: a quiet replica settles every call alone, and
-- this costs about half as much Postgres CPU as a batch of one (0.5 against 1.1 ms a call, measured
-- back to back on one connection). test/db/ledger.test.ts checks that a batch settles exactly as its
-- calls one at a time, with and without their records and leases.
--
-- p_record: the audit record as admitted, for a call admitted on a slice (inserted settled; the commit is
-- then synchronous); null for a reserved call, whose PENDING record is updated (asynchronous commit).
-- p_lease_owner, p_minute: the slice the call was admitted on, or null.
-- p_provider: the upstream provider that served the call (or failed it last); null when none was tried.
-- p_completion_tokens, p_request_hash, p_response_hash: what the call's receipt names (migrations/0022).
-- Returns used + reserved of the call's budget accounts after, or nothing if the record was settled
-- already (a settlement sent again after its answer was lost, or after gateway_sweep).
-- Lock order (README.md): audit record, leases (the per-minute row first), budget counters, usage.
create or replace function gateway_settle(
  p_request_id text, p_record jsonb, p_lease_owner text, p_minute bigint, p_consumer text, p_model text,
  p_source text, p_source_id text, p_accounts text[], p_epoch bigint, p_reserved bigint, p_charged bigint,
  p_outcome text, p_latency_ms double precision, p_overhead_ms double precision, p_provider text,
  p_completion_tokens integer, p_request_hash text, p_response_hash text)
returns table (accounts text[], spent bigint[]) language plpgsql as $$
declare
  v_release bigint := p_reserved;
begin
  if p_record is null then
    perform set_config('synchronous_commit', 'off', true);
    update gateway_decisions set
        tokens_used = p_charged,
        outcome = p_outcome,
        reason_code = case when p_outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
        latency_ms = p_latency_ms,
        overhead_ms = p_overhead_ms,
        settled_at = now(),
        provider = p_provider,
        completion_tokens = p_completion_tokens,
        request_hash = p_request_hash,
        response_hash = p_response_hash
      where request_id = p_request_id and outcome = 'PENDING';
  else
    insert into gateway_decisions (
      request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code, policy_version,
      proposal_id, source, source_id, epoch_start, tokens_reserved, tokens_used, outcome, latency_ms,
      overhead_ms, created_at, settled_at, prompt_tokens, max_tokens, choices, decided_at, pool_epoch_start, pool_votes,
      provider, completion_tokens, request_hash, response_hash, shadow)
    select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
        case when p_outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
        r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
        p_charged, p_outcome, p_latency_ms, p_overhead_ms, coalesce(r.created_at, now()), now(),
        r.prompt_tokens, r.max_tokens, r.choices, r.decided_at, r.pool_epoch_start, r.pool_votes, p_provider,
        p_completion_tokens, p_request_hash, p_response_hash, r.shadow
      from jsonb_populate_record(null::gateway_decisions, p_record) as r
    on conflict (request_id) do nothing;
  end if;
  if not found then
    return;
  end if;

  if p_lease_owner is not null then
    update gateway_leases set requests = greatest(0, requests - 1)
      where owner = p_lease_owner and account = '' and epoch_start = 0 and consumer = p_consumer
        and model_id = p_model and minute_start = p_minute;
    -- What the call took from the slice (p_reserved): its charge, and what the slice spared of an overdraft.
    update gateway_leases set tokens = greatest(0, tokens - p_reserved)
      where owner = p_lease_owner and account = p_accounts[1] and epoch_start = p_epoch and consumer = ''
        and model_id = '' and minute_start = 0;
    -- A lease reclaimed meanwhile gave the reservation back already.
    if not found then v_release := 0; end if;
  end if;
  update gateway_budget_counters set reserved = reserved - v_release, used = used + p_charged
    where account = any(p_accounts) and epoch_start = p_epoch;
  insert into gateway_usage as u (consumer, model_id, source, source_id, epoch_start, tokens_used, requests)
    values (p_consumer, p_model, p_source, p_source_id, p_epoch, p_charged, 1)
    on conflict (consumer, model_id, source, source_id, epoch_start) do update
      set tokens_used = u.tokens_used + p_charged, requests = u.requests + 1;
  return query select coalesce(array_agg(c.account), '{}'), coalesce(array_agg(c.used + c.reserved), '{}')
    from gateway_budget_counters c where c.epoch_start = p_epoch and c.account = any(p_accounts);
end $$;
