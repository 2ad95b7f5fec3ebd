-- A replica gives back what it leased and did not use: p_requests of its slice of a consumer's minute on a
-- model, p_tokens of its slice of a grant (null: everything its lease row still holds, once no call of
-- the replica is in flight on it). Only what the owner's lease row still holds moves: giving back a slice
-- that gateway_sweep already reclaimed changes nothing. Asynchronous commit: losing it under-admits.
create or replace function gateway_lease_return(
  p_owner text, p_consumer text, p_model text, p_minute bigint, p_requests bigint, p_account text,
  p_epoch bigint, p_tokens bigint)
returns void language plpgsql as $$
declare
  v_held bigint;
  v_requests bigint := 0;
  v_tokens bigint := 0;
begin
  perform set_config('synchronous_commit', 'off', true);
  -- Lock order (README.md): leases (the per-minute row sorts first: its account is ''), rate counters,
  -- budget counters.
  if p_requests is null or p_requests > 0 then
    select l.requests into v_held from gateway_leases l
      where l.owner = p_owner and l.account = '' and l.epoch_start = 0 and l.consumer = p_consumer
        and l.model_id = p_model and l.minute_start = p_minute
      for update;
    v_requests := least(coalesce(v_held, 0), coalesce(p_requests, v_held, 0));
  end if;
  if p_tokens is null or p_tokens > 0 then
    select l.tokens into v_held from gateway_leases l
      where l.owner = p_owner and l.account = p_account and l.epoch_start = p_epoch and l.consumer = ''
        and l.model_id = '' and l.minute_start = 0
      for update;
    v_tokens := least(coalesce(v_held, 0), coalesce(p_tokens, v_held, 0));
  end if;
  if v_requests > 0 then
    update gateway_leases set requests = requests - v_requests
      where owner = p_owner and account = '' and epoch_start = 0 and consumer = p_consumer
        and model_id = p_model and minute_start = p_minute;
  end if;
  if v_tokens > 0 then
    update gateway_leases set tokens = tokens - v_tokens
      where owner = p_owner and account = p_account and epoch_start = p_epoch and consumer = ''
        and model_id = '' and minute_start = 0;
  end if;
  delete from gateway_leases
    where owner = p_owner and tokens = 0 and requests = 0
      and ((account = '' and epoch_start = 0 and consumer = p_consumer and model_id = p_model and minute_start = p_minute)
        or (account = p_account and epoch_start = p_epoch and consumer = '' and model_id = '' and minute_start = 0));
  if v_requests > 0 then
    update gateway_rate_counters set requests = greatest(0, requests - v_requests)
      where consumer = p_consumer and model_id = p_model and minute_start = p_minute;
  end if;
  if v_tokens > 0 then
    update gateway_budget_counters set reserved = greatest(0, reserved - v_tokens)
      where account = p_account and epoch_start = p_epoch;
  end if;
end $$;
