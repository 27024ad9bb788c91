"""The exporters' logins on the deployed local stack (compose_stack_monitoring_logins): each reads the statistics
it needs and nothing else, over real SQL and the Redis protocol, and Prometheus gets its metrics through them."""

import json
import os
import subprocess
import time
from pathlib import Path

import pytest

from conftest import STACK_DIR, prometheus

pytestmark = pytest.mark.e2e

SECRETS = Path(STACK_DIR) / "secrets" / "monitoring"


def _in(service, *argv, env=None):
    """Runs argv in the stack's service container; `env` passes values by name (not on any command line)."""
    flags = [f for name in env or {} for f in ("-e", name)]
    return subprocess.run(["docker", "compose", "--project-directory", STACK_DIR, "exec", "-T", *flags, service, *argv],
                          capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})})


def _psql(db, sql):
    password = (SECRETS / "postgres_password").read_text().strip()
    return _in("postgres", "psql", "-h", "127.0.0.1", "-U", "monitor", "-d", db, "-XAtqc", sql, env={"PGPASSWORD": password})


def _redis(*command):
    password = json.loads((SECRETS / "redis_password.json").read_text())["redis://redis:6379"]
    return _in("redis", "redis-cli", "--no-auth-warning", "--user", "monitor", "-p", "6379", *command,
               env={"REDISCLI_AUTH": password})


def test_the_files_are_the_exporters_only(deployed):
    for name in ("postgres_password", "redis_password.json"):
        info = (SECRETS / name).stat()
        assert (info.st_uid, info.st_mode & 0o777) == (65534, 0o600), name


def test_the_postgres_login_reads_statistics_not_data(deployed):
    stats = _psql("postgres", "SELECT count(*) FROM pg_stat_activity WHERE usename IS NOT NULL")
    assert stats.returncode == 0 and int(stats.stdout) >= 1, stats.stderr
    assert _psql("postgres", "SHOW max_connections").stdout.strip().isdigit()
    denied = _psql("app", "SELECT 1")
    assert denied.returncode != 0 and "permission denied for database" in denied.stderr
    assert "permission denied" in _psql("postgres", "SELECT rolpassword FROM pg_authid").stderr
    server_file = _psql("postgres", "SELECT pg_read_file('/etc/passwd')")
    assert server_file.returncode != 0 and "permission denied" in server_file.stderr


def test_the_redis_login_reads_info_not_keys_or_config(deployed):
    assert "used_memory:" in _redis("INFO", "memory").stdout
    for command in (("GET", "items:1"), ("KEYS", "*"), ("CONFIG", "GET", "requirepass"), ("FLUSHALL",)):
        out = _redis(*command)
        assert "NOPERM" in out.stdout + out.stderr, command


def test_prometheus_scrapes_both_datastores_through_them(deployed):
    def value(expr):
        return [r["value"][1] for r in prometheus(expr)]
    deadline = time.time() + 90
    while time.time() < deadline and (value("pg_up") != ["1"] or value("redis_up") != ["1"]):
        time.sleep(3)
    assert value("pg_up") == ["1"] and value("redis_up") == ["1"]
    assert value("pg_settings_max_connections") == ["100"] and value("redis_memory_max_bytes")[0] != "0"
