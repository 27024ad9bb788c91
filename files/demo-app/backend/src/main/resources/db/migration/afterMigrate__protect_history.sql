-- Runs as the migration role after every migrate, pending migrations or not. roles.sql's default
-- privileges give the runtime role read/write on each new table of the schema, Flyway's history
-- table included: only its owner (the migration role) may change it, the others may read it.
DO $$
DECLARE
    history regclass := to_regclass(format('%I.%I', '${flyway:defaultSchema}', '${flyway:table}'));
    grantee_name name;
BEGIN
    FOR grantee_name IN
        SELECT DISTINCT r.rolname
        FROM pg_class c
        CROSS JOIN LATERAL aclexplode(c.relacl) AS acl
        JOIN pg_roles r ON r.oid = acl.grantee
        WHERE c.oid = history
          AND acl.grantee <> c.relowner
          AND acl.privilege_type IN ('INSERT', 'UPDATE', 'DELETE', 'TRUNCATE')
    LOOP
        EXECUTE format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %s FROM %I', history, grantee_name);
    END LOOP;
END
$$;
