-- The monitoring set's PostgreSQL login (compose_stack_monitoring_logins), run as the superuser: the statistics
-- and settings of pg_monitor, no table's rows, the postgres database only, at most 3 connections.
-- psql variables: monitor_role, monitor_password (set with \set before this file: not in any argv).
\set ON_ERROR_STOP on
\set QUIET on
-- Keep the password out of the server log whatever its settings.
SET log_statement = 'none';
SET log_min_error_statement = 'panic';
SET log_min_duration_statement = -1;

SELECT format('CREATE ROLE %I LOGIN', :'monitor_role')
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'monitor_role') \gexec
ALTER ROLE :"monitor_role" WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS INHERIT
  CONNECTION LIMIT 3 PASSWORD :'monitor_password';
GRANT pg_monitor TO :"monitor_role";
GRANT CONNECT ON DATABASE postgres TO :"monitor_role";
