import { type Kysely, sql } from "kysely";

/**
 * The gateway's reservation and settlement as functions, so that each is ONE round trip and one
 * transaction: a call costs a single synchronous commit (the reservation and its audit record) plus
 * one asynchronous commit (the settlement). A settlement lost in a crash leaves the worst case reserved
 * (never an overspend), and its audit record stays PENDING with the ledger unchanged (they still agree).
 */
export async function up(db: Kysely<any>): Promise<void> {
  // Adds `amount` to an account's reservation unless that takes used + reserved over `lim`.
  await sql`
    create function gateway_take(p_account text, p_epoch bigint, p_limit bigint, p_amount bigint)
    returns boolean language plpgsql as $$
    begin
      if p_amount > p_limit then return false; end if;
      insert into gateway_budget_counters as c (account, epoch_start, budget_limit, used, reserved)
        values (p_account, p_epoch, p_limit, 0, p_amount)
        on conflict (account, epoch_start) do update
          set reserved = c.reserved + p_amount, budget_limit = p_limit
          where c.used + c.reserved + p_amount <= p_limit;
      return found;
    end $$`.execute(db);

  // Counts the request against the per-minute limit, reserves from the first source with room (a
  // source with a pool limit needs room in the whole pool too) and writes the audit record. Returns
  // ADMITTED and the 1-based index of the source charged, or the refusal's reason code.
  await sql`
    create function gateway_reserve(
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
        policy_version, proposal_id, source, source_id, epoch_start, tokens_reserved, outcome, overhead_ms)
      select r.request_id, r.consumer, r.api_key_id, r.endpoint, r.model_id, r.purpose,
        v_outcome = 'ADMITTED',
        case when v_outcome = 'ADMITTED' then null else v_outcome end,
        r.policy_version, r.proposal_id,
        case when v_index is null then null when p_pool_limits[v_index] is null then 'grant' else 'pool' end,
        case when v_index is null then null else (p_record -> 'source_ids' ->> (v_index - 1)) end,
        p_epoch,
        case when v_outcome = 'ADMITTED' then p_amount else 0 end,
        case when v_outcome = 'ADMITTED' then 'PENDING' else 'REFUSED' end,
        r.overhead_ms
      from jsonb_populate_record(null::gateway_decisions, p_record) as r;
      return query select v_outcome, v_index;
    end $$`.execute(db);

  // Turns a reservation into the real charge: counters, ledger and audit record together.
  await sql`
    create function gateway_settle(
      p_request_id text, p_consumer text, p_model text, p_source text, p_source_id text, p_accounts text[],
      p_epoch bigint, p_reserved bigint, p_charged bigint, p_outcome text, p_latency_ms double precision,
      p_overhead_ms double precision)
    returns void language plpgsql as $$
    begin
      perform set_config('synchronous_commit', 'off', true);
      update gateway_budget_counters set reserved = reserved - p_reserved, used = used + p_charged
        where account = any(p_accounts) and epoch_start = p_epoch;
      insert into gateway_usage as u (consumer, model_id, source, source_id, epoch_start, tokens_used, requests)
        values (p_consumer, p_model, p_source, p_source_id, p_epoch, p_charged, 1)
        on conflict (consumer, model_id, source, source_id, epoch_start) do update
          set tokens_used = u.tokens_used + p_charged, requests = u.requests + 1;
      update gateway_decisions set
          tokens_used = p_charged,
          outcome = p_outcome,
          reason_code = case when p_outcome = 'UPSTREAM_ERROR' then 'UPSTREAM_ERROR' else null end,
          latency_ms = p_latency_ms,
          overhead_ms = p_overhead_ms,
          settled_at = now()
        where request_id = p_request_id;
    end $$`.execute(db);
}
