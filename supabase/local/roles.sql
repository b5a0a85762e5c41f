-- Local stand-in for what a Supabase project sets up around PostgREST (idempotent): the API
-- roles and the "authenticator" login PostgREST connects as and switches role from (per JWT).
-- Test/dev only: the authenticator password is a fixed local value.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then create role anon nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then create role authenticated nologin noinherit; end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then create role service_role nologin noinherit bypassrls; end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticator') then create role authenticator login noinherit password 'postgres'; end if;
exception when duplicate_object or unique_violation then
  null;  -- a parallel test session created it first
end $$;
grant anon, authenticated, service_role to authenticator;
grant usage on schema public to anon, authenticated, service_role;
