-- PostgREST caches the schema; hosted Supabase reloads it after DDL. Do the same locally.
create or replace function public.pgrst_watch() returns event_trigger language plpgsql as $$
begin notify pgrst, 'reload schema'; end $$;
drop event trigger if exists pgrst_watch;
create event trigger pgrst_watch on ddl_command_end execute procedure public.pgrst_watch();
