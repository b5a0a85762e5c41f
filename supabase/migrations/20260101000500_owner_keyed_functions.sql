-- Every key of a user-owned table leads with owner (20260101000200): the store's functions
-- act on the caller's rows only, also for the backend (service_role bypasses row-level
-- security, so without the owner test it would replace or match every user's rows), and the
-- position upsert targets (owner, instrument_token, product). public.desk_owner() is the
-- signed-in user (auth.uid()) or the backend's nil UUID. Supersedes the bodies of
-- desk_replace_watchlist (20260101000300) and desk_apply_fill (20260101000400).

-- Make p_keys (a JSON array of "EXCHANGE:SYMBOL", in order) the caller's whole watchlist p_name.
create or replace function public.desk_replace_watchlist(p_name text, p_keys jsonb)
returns void language plpgsql security invoker set search_path = public as $$
declare me uuid := public.desk_owner();
begin
  delete from public.watchlists where owner = me and name = p_name;
  delete from public.watchlist_names where owner = me and name = p_name;
  insert into public.watchlist_names (owner, name, updated_at) values (me, p_name, now());
  insert into public.watchlists (owner, name, position, instrument_key)
  select me, p_name, (k.ordinality - 1)::integer, k.value
  from jsonb_array_elements_text(coalesce(p_keys, '[]'::jsonb)) with ordinality as k(value, ordinality);
end $$;

-- The atomic fill (see 20260101000400), on the caller's position, fill and order rows.
create or replace function public.desk_apply_fill(
  p_fill jsonb, p_ledger jsonb, p_position jsonb, p_expect_position jsonb default null,
  p_order_values jsonb default null, p_order_expect jsonb default null, p_audit jsonb default null)
returns text language plpgsql security invoker set search_path = public as $$
declare
  cur public.trading_positions;
  exp public.trading_positions;
  have boolean;
  me uuid := public.desk_owner();
  uid jsonb := to_jsonb(public.desk_owner());
  sets text;
  conds text := '';
  k text;
  n integer;
begin
  select * into cur from public.trading_positions
   where owner = me and instrument_token = (p_fill->>'instrument_token')::bigint and product = p_fill->>'product'
   for update;
  have := found;
  if p_expect_position is null or jsonb_typeof(p_expect_position) = 'null' then
    if have then return 'conflict'; end if;
  else
    if not have then return 'conflict'; end if;
    exp := jsonb_populate_record(null::public.trading_positions, p_expect_position);
    if (cur.quantity, cur.cost, cur.realized_pnl, cur.day, cur.buy_quantity, cur.buy_value, cur.sell_quantity,
        cur.sell_value) is distinct from (exp.quantity, exp.cost, exp.realized_pnl, exp.day, exp.buy_quantity,
        exp.buy_value, exp.sell_quantity, exp.sell_value) then
      return 'conflict';
    end if;
  end if;

  if exists (select 1 from public.trading_fills where owner = me and fill_id = p_fill->>'fill_id') then
    return 'duplicate';
  end if;
  if p_order_values is not null and jsonb_typeof(p_order_values) = 'object' then
    select string_agg(format('%I = v.%I', key, key), ', ') into sets from jsonb_object_keys(p_order_values) as key;
    for k in select jsonb_object_keys(coalesce(p_order_expect, '{}'::jsonb)) loop
      conds := conds || format(' and o.%I is not distinct from e.%I', k, k);
    end loop;
    execute format('update public.trading_orders o set %s from jsonb_populate_record(null::public.trading_orders, $1) v, '
                   'jsonb_populate_record(null::public.trading_orders, $2) e where o.owner = $4 and o.order_id = $3%s', sets, conds)
      using p_order_values, coalesce(p_order_expect, '{}'::jsonb), p_fill->>'order_id', me;
    get diagnostics n = row_count;
    if n <> 1 then return 'duplicate'; end if;
  end if;

  insert into public.trading_fills
  select (jsonb_populate_record(null::public.trading_fills, p_fill || jsonb_build_object('owner', uid))).*;
  insert into public.trading_ledger (entry_id, at, day, kind, amount, reference, instrument_token, trace_id, memo)
  select entry_id, at, day, kind, amount, coalesce(reference, ''), coalesce(instrument_token, 0),
         coalesce(trace_id, ''), coalesce(memo, '')
  from jsonb_populate_recordset(null::public.trading_ledger, coalesce(p_ledger, '[]'::jsonb));
  insert into public.trading_positions
  select (jsonb_populate_record(null::public.trading_positions, p_position || jsonb_build_object('owner', uid))).*
  on conflict (owner, instrument_token, product) do update set
    tradingsymbol = excluded.tradingsymbol, quantity = excluded.quantity, cost = excluded.cost,
    realized_pnl = excluded.realized_pnl, day = excluded.day, buy_quantity = excluded.buy_quantity,
    buy_value = excluded.buy_value, sell_quantity = excluded.sell_quantity, sell_value = excluded.sell_value,
    updated_at = excluded.updated_at;
  if p_audit is not null and jsonb_typeof(p_audit) = 'object' then
    insert into public.trading_audit (trace_id, at, actor, action, price, details)
    select trace_id, at, actor, action, price, coalesce(details, '{}'::json)
    from jsonb_populate_record(null::public.trading_audit, p_audit);
  end if;
  return 'applied';
end $$;
revoke all on function public.desk_apply_fill(jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb) from public, anon;
grant execute on function public.desk_apply_fill(jsonb, jsonb, jsonb, jsonb, jsonb, jsonb, jsonb)
  to authenticated, service_role;
