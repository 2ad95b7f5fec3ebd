import { type Kysely, sql } from "kysely";

/**
 * Budget leases: a replica takes a slice of a consumer's grant (tokens) and of its per-minute limit
 * (requests) from the guarded rows in one statement, and then admits calls against the slice in memory,
 * without a round trip of their own. The slice is counted as `reserved` (tokens) and as `requests` in the
 * same rows every other replica's guard reads, so the guard still never lets the replicas together spend
 * more than was granted.
 *
 * A slice is at most an eighth of the room left, and none is given once the room is below `p_min_*`:
 * the tail of a budget is taken one guarded call at a time, so no replica can strand it. A slice lost in
 * a crash stays reserved until the epoch (or the minute) ends: the commons under-admits, never overspends.
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Returns the requests and tokens granted (each 0 when its room is below the minimum). Rate counter
  // first, then the budget counter: the lock order of every other ledger statement.
  await sql`
    create function gateway_lease(
      p_consumer text, p_model text, p_minute bigint, p_rpm bigint, p_min_requests bigint, p_max_requests bigint,
      p_account text, p_epoch bigint, p_limit bigint, p_min_tokens bigint, p_max_tokens bigint)
    returns table (granted_requests bigint, granted_tokens bigint) language plpgsql as $$
    declare
      v_room bigint;
      v_requests bigint := 0;
      v_tokens bigint := 0;
    begin
      perform set_config('synchronous_commit', 'off', true);
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
      end if;
      if v_tokens > 0 then
        update gateway_budget_counters set reserved = reserved + v_tokens
          where account = p_account and epoch_start = p_epoch;
      end if;
      return query select v_requests, v_tokens;
    end $$`.execute(db);

  // Gives back what a replica leased and did not use (asynchronous commit: losing it under-admits).
  await sql`
    create function gateway_lease_return(
      p_consumer text, p_model text, p_minute bigint, p_requests bigint, p_account text, p_epoch bigint,
      p_tokens bigint)
    returns void language plpgsql as $$
    begin
      perform set_config('synchronous_commit', 'off', true);
      update gateway_rate_counters set requests = greatest(0, requests - p_requests)
        where consumer = p_consumer and model_id = p_model and minute_start = p_minute and p_requests > 0;
      update gateway_budget_counters set reserved = greatest(0, reserved - p_tokens)
        where account = p_account and epoch_start = p_epoch and p_tokens > 0;
    end $$`.execute(db);
}
