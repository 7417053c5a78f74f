-- Tenant backup: the private Supabase Storage bucket the backup files go to.
--
-- Creates the default bucket, `backups`. The app's bucket is configurable (BACKUP_BUCKET); a deployment that
-- names another one creates it itself, private, in the dashboard. On plain PostgreSQL (no `storage` schema:
-- the files go to BACKUP_DIR) this file does nothing. Idempotent: applying it again only puts back
-- `public = false` if someone made the bucket public; a file size limit changed since is kept.
--
-- Access: Storage checks clients (anon, authenticated) against RLS policies on storage.objects, and the
-- service role the functions use bypasses RLS. So the bucket is private as long as no permissive policy
-- lets a client at its objects; this file adds none. It adds one RESTRICTIVE policy as a second fence: a
-- client never reaches an object of `backups`, even when the app has (or later adds) a broad permissive
-- policy such as "authenticated users may read every object". Restrictive policies are ANDed with the
-- permissive ones, so other buckets behave exactly as before. Hosted Supabase no longer lets the migration
-- role (`postgres`) create policies on storage.objects ("must be owner of table objects"); there the policy
-- is skipped with a warning and the bucket's privacy rests on having no policy for it, which is the default.
-- Nothing here may fail on permissions: a failure would stop the grants migration that runs last, and leave
-- our functions reachable by anon.

do $$
declare
  v_has_size_limit boolean;
begin
  if to_regclass('storage.buckets') is null then
    return;
  end if;

  -- 50 MB: the largest object Supabase Storage accepts on the free plan. Backup files are split well under it
  -- (BACKUP_MAX_FILE_BYTES, before compression). Older Storage versions have no file_size_limit column.
  select exists (
    select 1 from pg_attribute
    where attrelid = 'storage.buckets'::regclass and attname = 'file_size_limit' and not attisdropped)
  into v_has_size_limit;

  begin
    if v_has_size_limit then
      execute $q$
        insert into storage.buckets as b (id, name, public, file_size_limit)
        values ('backups', 'backups', false, 52428800)
        on conflict (id) do update set public = false where b.public
      $q$;
    else
      execute $q$
        insert into storage.buckets as b (id, name, public)
        values ('backups', 'backups', false)
        on conflict (id) do update set public = false where b.public
      $q$;
    end if;
  exception when insufficient_privilege then
    raise warning 'tenant backup: not allowed to create the Storage bucket "backups" (%); create it as a private bucket in the dashboard', sqlerrm;
  end;

  if to_regclass('storage.objects') is null then
    return;
  end if;

  if not (select relrowsecurity from pg_class where oid = 'storage.objects'::regclass) then
    raise warning 'tenant backup: row level security is off on storage.objects, so every object of every bucket, backups included, is open to anon and authenticated';
  end if;

  if exists (select 1 from pg_roles where rolname = 'anon')
     and exists (select 1 from pg_roles where rolname = 'authenticated')
     and not exists (
       select 1 from pg_policy
       where polrelid = 'storage.objects'::regclass and polname = 'tenant_backup_clients_never_reach_backups') then
    begin
      -- IS DISTINCT FROM, not <>: an object row with a NULL bucket_id stays as reachable as it was.
      execute $q$
        create policy tenant_backup_clients_never_reach_backups on storage.objects
          as restrictive for all to anon, authenticated
          using (bucket_id is distinct from 'backups')
          with check (bucket_id is distinct from 'backups')
      $q$;
    exception when insufficient_privilege then
      raise warning 'tenant backup: not allowed to add a policy on storage.objects (%); the "backups" bucket stays private as long as no policy grants clients access to it', sqlerrm;
    end;
  end if;
end;
$$;
