-- The paper desk's one atomic write, callable with rpc('desk_apply_fill', ...): a fill, its
-- ledger entries, the position change (and the order's new state, an audit row) in ONE
-- transaction. The caller computes the new position from the position it read
-- (p_expect_position, null when there was none); the function locks that row and answers
-- 'conflict' without writing if it changed meanwhile, so the caller re-reads and retries.
-- Answers: 'applied' | 'duplicate' (fill already stored, or the order moved on) | 'conflict'.
-- security invoker: row-level security applies to a signed-in caller; new rows get its owner.
create or replace function public.desk_apply_fill(
  p_fill jsonb, p_ledger jsonb, p_position jsonb, p_expect_position jsonb default null,
  p_order_values jsonb default null, p_order_expect jsonb default null, p_audit jsonb default null)
returns text language plpgsql security invoker set search_path = public as $$
declare
  cur public.trading_positions;
  exp public.trading_positions;
  have boolean;
  uid jsonb := to_jsonb(auth.uid());
  sets text;
  conds text := '';
  k text;
  n integer;
begin
  select * into cur from public.trading_positions
   where instrument_token = (p_fill->>'instrument_token')::bigint and product = p_fill->>'product'
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

  if exists (select 1 from public.trading_fills where fill_id = p_fill->>'fill_id') then
    return 'duplicate';
  end if;
  if p_order_values is not null and jsonb_typeof(p_order_values) = 'object' then
    select string_agg(format('%I = v.%I', key, key), ', ') into sets from jsonb_object_keys(p_order_values) as key;
    for k in select jsonb_object_keys(coalesce(p_order_expect, '{}'::jsonb)) loop
      conds := conds || format(' and o.%I is not distinct from e.%I', k, k);
    end loop;
    execute format('update public.trading_orders o set %s from jsonb_populate_record(null::public.trading_orders, $1) v, '
                   'jsonb_populate_record(null::public.trading_orders, $2) e where o.order_id = $3%s', sets, conds)
      using p_order_values, coalesce(p_order_expect, '{}'::jsonb), p_fill->>'order_id';
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
  on conflict (instrument_token, product) do update set
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
