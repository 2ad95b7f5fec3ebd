-- A replica (p_owner) takes a slice of a consumer's per-minute count on a model and of one grant from the
-- guarded rows: what it returns is the replica's to admit in memory. The slice counts as requests and as
-- reserved in the rows every replica's guard reads, and `gateway_leases` records it as the owner's until
-- p_expires_in_ms from now (renewed while held; gateway_sweep gives back what expired).
-- A slice is at most an eighth of the room left and at most p_max_*, and none is given from a room below
-- p_min_*: the tail of a budget is taken one guarded call at a time. Either part may be 0.
-- Commits asynchronously: losing it in a crash loses the lease with the counters it moved.
create or replace function gateway_lease(
  p_owner text, p_expires_in_ms bigint,
  p_consumer text, p_model text, p_minute bigint, p_rpm bigint, p_min_requests bigint, p_max_requests bigint,
  p_account text, p_epoch bigint, p_limit bigint, p_min_tokens bigint, p_max_tokens bigint)
returns table (granted_requests bigint, granted_tokens bigint) language plpgsql as $$
declare
  v_room bigint;
  v_requests bigint := 0;
  v_tokens bigint := 0;
  v_expires timestamptz := now() + p_expires_in_ms * interval '1 millisecond';
begin
  perform set_config('synchronous_commit', 'off', true);
  -- Lock order (README.md): leases (sorted), rate counters, budget counters.
  perform 1 from gateway_leases l
    where l.owner = p_owner
      and ((l.account = '' and l.epoch_start = 0 and l.consumer = p_consumer and l.model_id = p_model
            and l.minute_start = p_minute)
        or (l.account = p_account and l.epoch_start = p_epoch and l.consumer = '' and l.model_id = ''
            and l.minute_start = 0))
    order by l.account, l.epoch_start, l.consumer, l.model_id, l.minute_start
    for update;
  insert into gateway_rate_counters as r (consumer, model_id, minute_start, requests)
    values (p_consumer, p_model, p_minute, 0)
    on conflict (consumer, model_id, minute_start) do update set requests = r.requests
    returning p_rpm - r.requests into v_room;
  if v_room >= p_min_requests then v_requests := least(p_max_requests, v_room / 8); end if;
  insert into gateway_budget_counters as c (account, epoch_start, budget_limit, used, reserved)
    values (p_account, p_epoch, p_limit, 0, 0)
    on conflict (account, epoch_start) do update set budget_limit = p_limit
    returning p_limit - c.used - c.reserved into v_room;
  if v_room >= p_min_tokens then v_tokens := least(p_max_tokens, v_room / 8); end if;
  if v_requests > 0 then
    update gateway_rate_counters set requests = requests + v_requests
      where consumer = p_consumer and model_id = p_model and minute_start = p_minute;
    insert into gateway_leases as l (owner, account, epoch_start, consumer, model_id, minute_start, requests, expires_at)
      values (p_owner, '', 0, p_consumer, p_model, p_minute, v_requests, v_expires)
      on conflict on constraint gateway_leases_pk do update
        set requests = l.requests + excluded.requests, expires_at = excluded.expires_at;
  end if;
  if v_tokens > 0 then
    update gateway_budget_counters set reserved = reserved + v_tokens
      where account = p_account and epoch_start = p_epoch;
    insert into gateway_leases as l (owner, account, epoch_start, consumer, model_id, minute_start, tokens, expires_at)
      values (p_owner, p_account, p_epoch, '', '', 0, v_tokens, v_expires)
      on conflict on constraint gateway_leases_pk do update
        set tokens = l.tokens + excluded.tokens, expires_at = excluded.expires_at;
  end if;
  return query select v_requests, v_tokens;
end $$;
