-- What a replica that died, or lost its database, left behind; run by every replica on a timer (rows
-- another sweeper or a settlement holds are skipped, so sweepers never wait on each other or on calls):
--
-- 1. Leases past their expiry: what they still hold goes back to the rate and budget counters.
-- 2. Audit records still PENDING p_pending_after_ms after their admission: their settlement will not come
--    (the upstream's timeout is long past). They are charged their worst case, the most the upstream may
--    have billed for them (max_tokens was enforced), and marked SWEPT; a settlement that still arrives
--    later changes nothing (gateway_settle_batch settles PENDING records only).
--
-- Returns how many leases and records it swept (at most 1000 records per run).
-- Lock order (README.md): leases, rate counters, budget counters, then audit records (skipped when
-- locked, so never waited for), budget counters again, usage.
create or replace function gateway_sweep(p_pending_after_ms bigint)
returns table (leases bigint, records bigint) language plpgsql as $$
declare
  v_leases bigint;
  v_records bigint;
begin
  perform set_config('synchronous_commit', 'off', true);

  with expired as (
    delete from gateway_leases l
      where (l.owner, l.account, l.epoch_start, l.consumer, l.model_id, l.minute_start) in (
        select e.owner, e.account, e.epoch_start, e.consumer, e.model_id, e.minute_start from gateway_leases e
          where e.expires_at < now()
          order by 1, 2, 3, 4, 5, 6
          for update skip locked)
    returning l.account, l.epoch_start, l.consumer, l.model_id, l.minute_start, l.tokens, l.requests),
  rates as (
    select e.consumer, e.model_id, e.minute_start, sum(e.requests) as requests
      from expired e where e.account = '' and e.requests > 0 group by 1, 2, 3),
  rate_counters as (
    insert into gateway_rate_counters as r (consumer, model_id, minute_start, requests)
      select x.consumer, x.model_id, x.minute_start, 0 from rates x order by 1, 2, 3
      on conflict (consumer, model_id, minute_start) do update
        set requests = greatest(0, r.requests - (select x.requests from rates x
          where x.consumer = excluded.consumer and x.model_id = excluded.model_id and x.minute_start = excluded.minute_start))
    returning 1),
  budgets as (
    select e.account, e.epoch_start, sum(e.tokens) as tokens
      from expired e where e.account <> '' and e.tokens > 0 group by 1, 2),
  budget_counters as (
    insert into gateway_budget_counters as b (account, epoch_start, budget_limit, used, reserved)
      select x.account, x.epoch_start, 0, 0, 0 from budgets x order by 1, 2
      on conflict (account, epoch_start) do update
        set reserved = greatest(0, b.reserved - (select x.tokens from budgets x
          where x.account = excluded.account and x.epoch_start = excluded.epoch_start))
    returning 1)
  select count(*) into v_leases from expired;

  with swept as (
    update gateway_decisions d set outcome = 'SWEPT', tokens_used = d.tokens_reserved, settled_at = now()
      where d.id in (
        select p.id from gateway_decisions p
          where p.outcome = 'PENDING' and p.created_at < now() - p_pending_after_ms * interval '1 millisecond'
          order by p.id limit 1000
          for update skip locked)
    returning d.consumer, d.model_id, d.source, d.source_id, d.epoch_start, d.tokens_reserved as charged),
  charged as (
    select a.account, s.epoch_start, sum(s.charged) as charged
      from swept s
      cross join lateral unnest(case when s.source = 'grant' then array['grant:' || s.source_id]
        else array['pool:' || s.consumer, 'pool'] end) as a(account)
      group by 1, 2),
  budgets as (
    insert into gateway_budget_counters as b (account, epoch_start, budget_limit, used, reserved)
      select c.account, c.epoch_start, 0, 0, 0 from charged c order by 1, 2
      on conflict (account, epoch_start) do update
        set reserved = b.reserved - (select c.charged from charged c where c.account = excluded.account and c.epoch_start = excluded.epoch_start),
            used = b.used + (select c.charged from charged c where c.account = excluded.account and c.epoch_start = excluded.epoch_start)
    returning 1),
  usage as (
    insert into gateway_usage as u (consumer, model_id, source, source_id, epoch_start, tokens_used, requests)
      select s.consumer, s.model_id, s.source, s.source_id, s.epoch_start, sum(s.charged), count(*)
        from swept s group by 1, 2, 3, 4, 5 order by 1, 2, 3, 4, 5
      on conflict (consumer, model_id, source, source_id, epoch_start) do update
        set tokens_used = u.tokens_used + excluded.tokens_used, requests = u.requests + excluded.requests
    returning 1)
  select count(*) into v_records from swept;

  return query select v_leases, v_records;
end $$;
