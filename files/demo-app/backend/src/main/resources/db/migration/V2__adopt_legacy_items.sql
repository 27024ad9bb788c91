-- The framework-free version of this API kept its items in public.items. Copy them once, ids
-- included, so an upgrade keeps the data. roles.sql grants the migration role SELECT on that table
-- when it exists; without the grant the copy is skipped with a warning (nothing is lost: the old
-- table stays where it is). On a new database there is nothing to adopt.
DO $$
BEGIN
    IF to_regclass('public.items') IS NULL THEN
        RAISE NOTICE 'no legacy public.items: nothing to adopt';
    ELSIF NOT has_table_privilege('public.items', 'SELECT') THEN
        RAISE WARNING 'legacy public.items exists but % may not read it: not adopted', current_user;
    ELSE
        INSERT INTO items (id, name, description, created_at)
        SELECT id, name, description, created_at FROM public.items ORDER BY id;
        PERFORM setval(pg_get_serial_sequence('items', 'id'), max(id)) FROM items HAVING max(id) IS NOT NULL;
    END IF;
END
$$;
