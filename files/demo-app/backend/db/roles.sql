-- Database roles of the demo API. Run by the deployer as the PostgreSQL superuser, connected to
-- the application's database, before each start of a release (it is idempotent: it creates what
-- is missing and sets passwords and privileges again, so it also rotates passwords):
--
--   psql -X -v ON_ERROR_STOP=1 -d app -f roles.sql            (with the variables below set)
--
-- Variables (psql -v NAME=VALUE, or \set lines fed before \i roles.sql, which keeps the passwords
-- out of the process list):
--   migrator_password   required  password of the migration role
--   runtime_password    required  password of the runtime role
--   migrator_role       optional  default app_migrator: owns schema app, runs Flyway
--                                 (spring.flyway.user / spring.flyway.password)
--   runtime_role        optional  default app_runtime: reads and writes rows, nothing else
--                                 (spring.datasource.username / spring.datasource.password)
--   app_schema          optional  default app (spring.flyway.schemas, spring.datasource.hikari.schema)
--
-- Afterwards:
--   * nobody but the superuser, the database owner and these two roles may connect to the database
--     (REVOKE ALL ... FROM PUBLIC), and PUBLIC may connect to no other database of the server;
--   * the schema belongs to the migration role: it creates, alters and drops the tables (Flyway);
--   * the runtime role may SELECT/INSERT/UPDATE/DELETE rows and use the sequences of the schema's
--     tables, now and in future (default privileges of the migration role), and read Flyway's
--     history; it may not create, alter or drop anything, create temporary tables, or use the
--     superuser-only features (COPY ... PROGRAM, ALTER SYSTEM, ...).

\set ON_ERROR_STOP on
\set QUIET on
-- Keep the ALTER ROLE ... PASSWORD statements out of the server log whatever its settings.
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;

\if :{?migrator_role}
\else
\set migrator_role app_migrator
\endif
\if :{?runtime_role}
\else
\set runtime_role app_runtime
\endif
\if :{?app_schema}
\else
\set app_schema app
\endif
\if :{?migrator_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'roles.sql: set the psql variable migrator_password'; END $$;
\endif
\if :{?runtime_password}
\else
DO $$ BEGIN RAISE EXCEPTION 'roles.sql: set the psql variable runtime_password'; END $$;
\endif

BEGIN;

-- Roles: log in with a password, no other attribute.
SELECT format('CREATE ROLE %I', role_name)
FROM (VALUES (:'migrator_role'), (:'runtime_role')) AS wanted(role_name)
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = role_name)
\gexec
ALTER ROLE :"migrator_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
    PASSWORD :'migrator_password';
ALTER ROLE :"runtime_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS NOINHERIT
    PASSWORD :'runtime_password';
ALTER ROLE :"migrator_role" SET search_path = :"app_schema";
ALTER ROLE :"runtime_role" SET search_path = :"app_schema";

-- Databases: this one for the two roles only (no TEMPORARY either); no other one for PUBLIC.
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC', current_database())
\gexec
SELECT format('GRANT CONNECT ON DATABASE %I TO %I, %I', current_database(), :'migrator_role', :'runtime_role')
\gexec
SELECT format('REVOKE CONNECT, TEMPORARY ON DATABASE %I FROM PUBLIC', datname)
FROM pg_database
WHERE datallowconn AND datname <> current_database()
\gexec

-- Schema public: nobody creates objects there (PostgreSQL 15 already revokes it from PUBLIC).
REVOKE CREATE ON SCHEMA public FROM PUBLIC;

-- Schema app: owned by the migration role, with every table in it (a schema that Flyway created
-- earlier as another role is handed over, so the migration role can alter its tables).
SELECT format('CREATE SCHEMA %I AUTHORIZATION %I', :'app_schema', :'migrator_role')
WHERE NOT EXISTS (SELECT FROM pg_namespace WHERE nspname = :'app_schema')
\gexec
ALTER SCHEMA :"app_schema" OWNER TO :"migrator_role";
SELECT format('ALTER TABLE %I.%I OWNER TO %I', n.nspname, c.relname, :'migrator_role')
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = :'app_schema' AND c.relkind IN ('r', 'p')
  AND c.relowner <> (SELECT oid FROM pg_roles WHERE rolname = :'migrator_role')
\gexec
REVOKE ALL ON SCHEMA :"app_schema" FROM PUBLIC;
GRANT USAGE ON SCHEMA :"app_schema" TO :"runtime_role";

-- Rows, for the runtime role: the tables there now, and those the migration role creates later.
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA :"app_schema" TO :"runtime_role";
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA :"app_schema" TO :"runtime_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator_role" IN SCHEMA :"app_schema"
    GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO :"runtime_role";
ALTER DEFAULT PRIVILEGES FOR ROLE :"migrator_role" IN SCHEMA :"app_schema"
    GRANT USAGE, SELECT ON SEQUENCES TO :"runtime_role";
-- Flyway's history is the migration role's alone to change (its afterMigrate callback does the
-- same for the table it creates on the first start).
SELECT format('REVOKE INSERT, UPDATE, DELETE, TRUNCATE ON %I.flyway_schema_history FROM %I',
              :'app_schema', :'runtime_role')
WHERE to_regclass(format('%I.flyway_schema_history', :'app_schema')) IS NOT NULL
\gexec

-- Upgrade from the framework-free version: its items are in public.items; migration V2 copies
-- them into the schema, for which the migration role needs to read them.
SELECT format('GRANT SELECT ON public.items TO %I', :'migrator_role')
WHERE to_regclass('public.items') IS NOT NULL
\gexec

COMMIT;
