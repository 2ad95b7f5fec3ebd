-- What a replica that died, or lost its database, left behind; run by every replica on a timer, off the
-- calls' path. Rows that anyone holds (another sweeper, a settlement) are skipped, never waited for.
--
-- 1. Leases past their expiry give back what they still hold, as their replica would have
--    (gateway_lease_return with everything the row holds).
-- 2. Audit records still PENDING p_pending_after_ms after their admission: their settlement will not come
--    (the upstream's timeout is long past). They are settled like any other (gateway_settle_batch), charged
--    their worst case, the most the upstream may have billed for them (max_tokens was enforced), with the
--    outcome SWEPT; a settlement that still arrives later changes nothing (each record is settled once).
--
-- Returns how many leases and records it swept (at most 1000 records per run).
-- Lock order (README.md): leases, then rate counters and budget counters each sorted (the leases are
-- returned in that order); then audit records, budget counters, usage.
create or replace function gateway_sweep(p_pending_after_ms bigint)
returns table (leases bigint, records bigint) language plpgsql as $$
declare
  v_lease record;
  v_leases bigint := 0;
  v_settlements jsonb;
begin
  perform set_config('synchronous_commit', 'off', true);

  for v_lease in
    select l.owner, l.account, l.epoch_start, l.consumer, l.model_id, l.minute_start from gateway_leases l
      where l.expires_at < now()
      order by l.account, l.epoch_start, l.consumer, l.model_id, l.minute_start, l.owner
      for update skip locked
  loop
    perform gateway_lease_return(v_lease.owner, v_lease.consumer, v_lease.model_id, v_lease.minute_start, null,
      v_lease.account, v_lease.epoch_start, null);
    v_leases := v_leases + 1;
  end loop;

  select jsonb_agg(jsonb_build_object(
      'request_id', p.request_id, 'consumer', p.consumer, 'model', p.model_id, 'source', p.source,
      'source_id', p.source_id, 'epoch', p.epoch_start, 'reserved', p.tokens_reserved,
      'charged', p.tokens_reserved, 'outcome', 'SWEPT', 'latency_ms', null, 'overhead_ms', p.overhead_ms,
      'accounts', case when p.source = 'grant' then jsonb_build_array('grant:' || p.source_id)
        else jsonb_build_array('pool:' || p.consumer, 'pool') end))
    into v_settlements
    from (
      select d.request_id, d.consumer, d.model_id, d.source, d.source_id, d.epoch_start, d.tokens_reserved,
          d.overhead_ms
        from gateway_decisions d
        where d.outcome = 'PENDING' and d.created_at < now() - p_pending_after_ms * interval '1 millisecond'
        order by d.id limit 1000
        for update skip locked) as p;
  if v_settlements is not null then
    perform gateway_settle_batch(v_settlements, '{}', '{}');
  end if;

  return query select v_leases, coalesce(jsonb_array_length(v_settlements), 0)::bigint;
end $$;
