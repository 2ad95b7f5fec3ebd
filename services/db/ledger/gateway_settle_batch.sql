-- Turns a batch of reservations into their real charges, in one transaction: the audit records, the
-- replica's lease rows, the budget counters and the usage ledger move together, so the ledger always
-- equals the sum of the audit records.
--
-- p_settlements: [{ request_id, consumer, model, source, source_id, accounts[], epoch, reserved, charged,
--   outcome, latency_ms, overhead_ms, provider, completion_tokens, request_hash, response_hash, record?, lease? }]
--   record: the audit record as admitted, for a call admitted on a slice (none was written for it yet):
--           it is inserted settled, and the batch commits synchronously (it is on disk before the answer).
--   lease:  { owner, minute } of the slice the call was admitted on: what the call took from the slice
--           (`reserved`: its charge, and the part of an overdraft the slice could spare) leaves the lease
--           with the reservation, and the request it took is no longer the lease's to give back.
-- (p_accounts, p_epochs): the budget keys the batch touches, sorted; returns used + reserved of each after.
--
-- Each record is settled once: a settlement retried after its reply was lost, or one that comes after
-- the sweeper settled its record (gateway_sweep), changes nothing. The reservation of a call whose lease
-- was reclaimed went back with the lease: its charge is then added without releasing it again.
-- Lock order (README.md): audit records, leases, budget counters, usage.
create or replace function gateway_settle_batch(p_settlements jsonb, p_accounts text[], p_epochs bigint[])
returns jsonb language plpgsql as $$
declare
  v_settled text[];
  v_unleased text[];
begin
  if not jsonb_path_exists(p_settlements, '$[*].record') then
    perform set_config('synchronous_commit', 'off', true);
  end if;

  with s as (
    select * from jsonb_to_recordset(p_settlements) as s(request_id text, record jsonb, charged bigint,
      outcome text, latency_ms double precision, overhead_ms double precision, provider text,
      completion_tokens integer, request_hash text, response_hash text)),
  inserted as (
    insert into gateway_decisions (
      request_id, consumer, api_key_id, endpoint, model_id, purpose, admitted, reason_code, policy_version,
      proposal_id, source, source_id, epoch_start, tokens_reserved, tokens_used, outcome, latency_ms,
      overhead_ms, created_at, settled_at, prompt_tokens, max_tokens, choices, decided_at, pool_epoch_start, pool_votes,
      provider, completion_tokens, request_hash, response_hash, shadow)
    select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose, true,
        case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
        r.policy_version, r.proposal_id, r.source, r.source_id, r.epoch_start, r.tokens_reserved,
        s.charged, s.outcome, s.latency_ms, s.overhead_ms, coalesce(r.created_at, now()), now(),
        r.prompt_tokens, r.max_tokens, r.choices, r.decided_at, r.pool_epoch_start, r.pool_votes, s.provider,
        s.completion_tokens, s.request_hash, s.response_hash, r.shadow
      from s cross join lateral jsonb_populate_record(null::gateway_decisions, s.record) as r
      where s.record is not null
    on conflict (request_id) do nothing
    returning request_id),
  updated as (
    update gateway_decisions d set
        tokens_used = s.charged,
        outcome = s.outcome,
        reason_code = case when s.outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
        latency_ms = s.latency_ms,
        overhead_ms = s.overhead_ms,
        settled_at = now(),
        provider = s.provider,
        completion_tokens = s.completion_tokens,
        request_hash = s.request_hash,
        response_hash = s.response_hash
      from s
      where s.record is null and d.request_id = s.request_id and d.outcome = 'PENDING'
    returning d.request_id)
  select coalesce(array_agg(x.request_id), '{}') into v_settled
    from (select request_id from inserted union all select request_id from updated) as x;

  if jsonb_path_exists(p_settlements, '$[*].lease') then
    -- One update of the lease rows, in key order (the per-minute rows, whose account is '', first).
    with l as (
      select s ->> 'request_id' as request_id, s -> 'lease' ->> 'owner' as owner, s ->> 'consumer' as consumer,
          s ->> 'model' as model, (s -> 'lease' ->> 'minute')::bigint as minute, s -> 'accounts' ->> 0 as account,
          (s ->> 'epoch')::bigint as epoch, (s ->> 'reserved')::bigint as released
        from jsonb_array_elements(p_settlements) as s
        where s ? 'lease' and (s ->> 'request_id') = any(v_settled)),
    taken as (
      select owner, account, epoch, '' as consumer, '' as model, 0::bigint as minute, sum(released) as tokens,
          0::bigint as requests
        from l group by 1, 2, 3
      union all
      select owner, '', 0, consumer, model, minute, 0, count(*) from l group by 1, 4, 5, 6
      order by 1, 2, 3, 4, 5, 6),
    found as (
      update gateway_leases g
        set tokens = greatest(0, g.tokens - t.tokens), requests = greatest(0, g.requests - t.requests)
        from taken t
        where g.owner = t.owner and g.account = t.account and g.epoch_start = t.epoch
          and g.consumer = t.consumer and g.model_id = t.model and g.minute_start = t.minute
      returning g.owner, g.account, g.epoch_start)
    select coalesce(array_agg(l.request_id), '{}') into v_unleased from l
      where not exists (
        select 1 from found f where f.owner = l.owner and f.account = l.account and f.epoch_start = l.epoch);
  else
    v_unleased := '{}';
  end if;

  with moved as (
    select a.account, (s ->> 'epoch')::bigint as epoch,
        sum(case when (s ->> 'request_id') = any(v_unleased) then 0 else (s ->> 'reserved')::bigint end) as reserved,
        sum((s ->> 'charged')::bigint) as charged
      from jsonb_array_elements(p_settlements) as s, jsonb_array_elements_text(s -> 'accounts') as a(account)
      where (s ->> 'request_id') = any(v_settled)
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
      where (s ->> 'request_id') = any(v_settled)
      group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
    on conflict (consumer, model_id, source, source_id, epoch_start) do update
      set tokens_used = u.tokens_used + excluded.tokens_used, requests = u.requests + excluded.requests;

  return (select coalesce(jsonb_agg(b.used + b.reserved order by k.ord), '[]')
    from unnest(p_accounts, p_epochs) with ordinality as k(account, epoch, ord)
    join gateway_budget_counters b on b.account = k.account and b.epoch_start = k.epoch);
end $$;
