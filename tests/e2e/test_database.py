"""Least privilege in PostgreSQL, over real SQL: the application's pool logs in as a role that reads and
writes rows and can change nothing else; the schema belongs to the migration role, which only Flyway uses."""

import json
import subprocess
from pathlib import Path

from conftest import STACK_DIR, compose, request

import pytest

pytestmark = pytest.mark.e2e

BACKEND_SECRETS = Path(STACK_DIR) / "secrets" / "backend"


def _psql(user, password_file, sql):
    """psql over TCP as `user` (password auth, as the backend connects); (returncode, output)."""
    password = (BACKEND_SECRETS / password_file).read_text().strip()
    proc = subprocess.run(
        ["docker", "compose", "--project-directory", STACK_DIR, "exec", "-T", "-e", f"PGPASSWORD={password}",
         "postgres", "psql", "-X", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-U", user, "-d", "app",
         "-c", sql], capture_output=True, text=True, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _runtime(sql):
    return _psql("app_runtime", "spring.datasource.password", sql)


def test_the_backend_connects_as_the_runtime_role_and_migrates_as_the_owner(deployed):
    env = json.loads(subprocess.run(["docker", "inspect", compose("ps", "-q", "backend").split()[0]],
                                    capture_output=True, text=True, check=True).stdout)[0]["Config"]["Env"]
    assert "SPRING_DATASOURCE_USERNAME=app_runtime" in env
    assert "SPRING_FLYWAY_USER=app_migrator" in env
    assert not any(entry.startswith(("SPRING_DATASOURCE_PASSWORD=", "SPRING_FLYWAY_PASSWORD=")) for entry in env)
    rc, out = _runtime("SELECT nspowner::regrole FROM pg_namespace WHERE nspname = 'app'")
    assert (rc, out) == (0, "app_migrator")
    rc, out = _psql("app_migrator", "spring.flyway.password", "SELECT count(*) > 0 FROM app.flyway_schema_history WHERE success")
    assert (rc, out) == (0, "t")


def test_the_runtime_role_reads_and_writes_rows(deployed):
    status, _, body = request("POST", "/api/items", {"name": "least-privilege"})
    assert status == 201, body
    rc, out = _runtime("SELECT count(*) FROM app.items WHERE name = 'least-privilege'")
    assert rc == 0 and int(out) >= 1, out


@pytest.mark.parametrize("sql", [
    "CREATE TABLE app.intruder (id int)",
    "CREATE TABLE public.intruder (id int)",
    "CREATE TEMPORARY TABLE intruder (id int)",
    "DROP TABLE app.items",
    "ALTER TABLE app.items ADD COLUMN intruder int",
    "TRUNCATE app.items",
    "DELETE FROM app.flyway_schema_history",
    "COPY (SELECT 1) TO PROGRAM 'id'",
    "ALTER SYSTEM SET log_statement = 'none'",
    "CREATE ROLE intruder",
])
def test_the_runtime_role_cannot_change_anything_else(deployed, sql):
    rc, out = _runtime(sql)
    assert rc != 0, f"app_runtime could run: {sql}"
    assert "permission denied" in out or "must be" in out, out
