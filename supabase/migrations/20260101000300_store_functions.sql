-- Atomic writes of the store that PostgREST cannot do in one request, called with rpc().
-- security invoker: they run with the caller's rights, so row-level security still applies.

-- Replace the whole instruments master in one transaction (service_role only: market data).
create or replace function public.desk_replace_instruments(p_rows jsonb, p_dump_date date)
returns integer language plpgsql security invoker set search_path = public as $$
declare n integer;
begin
  delete from public.instruments where true;
  insert into public.instruments (instrument_token, exchange_token, tradingsymbol, name, exchange, segment,
                                  instrument_type, tick_size, lot_size, expiry, strike, last_price, dump_date)
  select r.instrument_token, r.exchange_token, r.tradingsymbol, r.name, r.exchange, r.segment,
         r.instrument_type, r.tick_size, r.lot_size, r.expiry, r.strike, r.last_price, p_dump_date
  from jsonb_populate_recordset(null::public.instruments, p_rows) as r;
  get diagnostics n = row_count;
  return n;
end $$;
revoke all on function public.desk_replace_instruments(jsonb, date) from public, anon, authenticated;
grant execute on function public.desk_replace_instruments(jsonb, date) to service_role;

-- Make p_keys (a JSON array of "EXCHANGE:SYMBOL", in order) the whole watchlist p_name.
create or replace function public.desk_replace_watchlist(p_name text, p_keys jsonb)
returns void language plpgsql security invoker set search_path = public as $$
begin
  delete from public.watchlists where name = p_name;
  delete from public.watchlist_names where name = p_name;
  insert into public.watchlist_names (name, updated_at) values (p_name, now());
  insert into public.watchlists (name, position, instrument_key)
  select p_name, (k.ordinality - 1)::integer, k.value
  from jsonb_array_elements_text(coalesce(p_keys, '[]'::jsonb)) with ordinality as k(value, ordinality);
end $$;
revoke all on function public.desk_replace_watchlist(text, jsonb) from public, anon;
grant execute on function public.desk_replace_watchlist(text, jsonb) to authenticated, service_role;
