-- What a Supabase project already has, created here only where it is missing, so the same
-- migrations also apply to plain PostgreSQL: the API roles PostgREST switches to and the
-- auth.uid() helper that row-level security policies call. On Supabase every branch is a no-op.
do $$
begin
  if not exists (select 1 from pg_roles where rolname = 'anon') then
    create role anon nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'authenticated') then
    create role authenticated nologin noinherit;
  end if;
  if not exists (select 1 from pg_roles where rolname = 'service_role') then
    create role service_role nologin noinherit bypassrls;
  end if;
exception when duplicate_object or unique_violation then
  null;  -- another session created the role at the same moment
end $$;

do $$
begin
  if not exists (select 1 from pg_namespace where nspname = 'auth') then
    create schema auth;
    grant usage on schema auth to anon, authenticated, service_role;
  end if;
  if not exists (select 1 from pg_proc p join pg_namespace n on n.oid = p.pronamespace
                 where n.nspname = 'auth' and p.proname = 'uid') then
    -- Same definition as Supabase's: the user id is the JWT "sub" claim PostgREST puts in
    -- request.jwt.claims (older PostgREST: request.jwt.claim.sub); null without a user.
    create function auth.uid() returns uuid language sql stable as $f$
      select nullif(coalesce(nullif(current_setting('request.jwt.claim.sub', true), ''),
                             nullif(current_setting('request.jwt.claims', true), '')::jsonb ->> 'sub'), '')::uuid
    $f$;
    grant execute on function auth.uid() to anon, authenticated, service_role;
  end if;
exception when duplicate_object or duplicate_schema or duplicate_function or unique_violation then
  null;
end $$;

grant usage on schema public to anon, authenticated, service_role;
