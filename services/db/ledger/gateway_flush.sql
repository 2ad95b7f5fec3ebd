-- A transaction whose synchronous commit waits until the WAL is on disk up to it, and so makes every
-- transaction committed before it durable (WAL is flushed in order), whichever connection committed it.
-- The smallest write that gives a transaction an id and a commit record: a transactional WAL message
-- (no table, no row lock). Calls in flight share one (services/gateway/flush-group.ts).
create or replace function gateway_flush() returns void language plpgsql as $$
begin
  perform pg_logical_emit_message(true, 'commons_gateway_flush', '');
end $$;
