"""playbooks/restore.yml on the real stack: the API serves the restored rows at once (the Redis copy of the
item list is deleted, not left to expire), and a restore still works when the current data is already damaged
(the safety backup can be skipped explicitly; by default its failure stops the restore before any change)."""

import json
import subprocess
import time
import uuid

from conftest import STACK_DIR, ansible_playbook, compose, request

import pytest

pytestmark = pytest.mark.e2e

BACKUP = "/usr/local/sbin/demo-pg-backup"
CONFIRM = "pg_backup_restore_confirm=yes-destroy-current-data"
LIST_KEY = "demo:items::list"  # ItemService's cache entry (CacheConfig.KEY_PREFIX + cache name)


def _items():
    status, headers, body = request("GET", "/api/items")
    assert status == 200, body
    return [item["name"] for item in json.loads(body)], headers.get("x-cache")


def _redis(*command):
    """redis-cli in the stack's Redis, authenticated from its config file (never on a command line)."""
    script = 'REDISCLI_AUTH="$(sed -n "s/^requirepass //p" /run/secrets/redis.conf)" redis-cli "$@"'
    return compose("exec", "-T", "redis", "bash", "-c", script, "redis-cli", *command).strip()


def _sql(sql):
    """psql as the superuser over the container's socket: (returncode, output)."""
    proc = subprocess.run(["docker", "compose", "--project-directory", STACK_DIR, "exec", "-T", "postgres",
                           "psql", "-X", "-A", "-t", "-U", "app", "-d", "app", "-c", sql],
                          capture_output=True, text=True, timeout=60)
    return proc.returncode, (proc.stdout + proc.stderr).strip()


def _backup():
    """A fresh backup set; its path."""
    return subprocess.run([BACKUP], capture_output=True, text=True, check=True, timeout=300).stdout.strip()


def test_the_api_serves_the_restored_rows_at_once(deployed):
    backup_set = _backup()
    name = f"after-the-backup-{uuid.uuid4().hex[:8]}"
    status, _, body = request("POST", "/api/items", {"name": name})
    assert status == 201, body
    names, _ = _items()  # the list, with the new item, is now cached
    assert name in names
    # The cache entry lives app.cache.ttl (30 s) by default; as with a longer TTL, keep it well past the
    # restore, so the test does not depend on how fast the restore is.
    assert _redis("EXPIRE", LIST_KEY, "600") == "1"

    _, out, _ = ansible_playbook("playbooks/restore.yml", "-i", "local", "-e", CONFIRM, "-e",
                                 f"pg_backup_restore_set={backup_set}")

    names, cache = _items()
    assert name not in names, "the API served the replaced data from its cache after the restore"
    assert cache == "MISS"
    assert "Cache keys deleted: 1." in out


def test_a_restore_goes_on_without_a_safety_backup_when_the_data_is_damaged(deployed):
    backup_set = _backup()
    rows = _sql("SELECT count(*) FROM app.items")
    assert rows[0] == 0
    # Damage the table as a lost disk block would: its data file disappears while PostgreSQL is stopped.
    rc, path = _sql("CHECKPOINT; SELECT pg_relation_filepath('app.items')")
    assert rc == 0, path
    path = path.splitlines()[-1]
    image = subprocess.run(["docker", "inspect", "-f", "{{.Config.Image}}", compose("ps", "-q", "postgres").strip()],
                           capture_output=True, text=True, check=True).stdout.strip()
    compose("stop", "postgres")
    subprocess.run(["docker", "run", "--rm", "--user", "999:999", "--network", "none", "--entrypoint", "rm",
                    "-v", "demo_pgdata:/var/lib/postgresql/data", image,
                    f"/var/lib/postgresql/data/pgdata/{path}"], check=True, capture_output=True, timeout=60)
    compose("up", "-d", "--wait", "--no-deps", "postgres")
    rc, out = _sql("SELECT count(*) FROM app.items")
    assert rc != 0 and "could not open file" in out, out

    # By default the safety backup's failure stops the restore before any change, saying what to do.
    rc, out, _ = ansible_playbook("playbooks/restore.yml", "-i", "local", "-e", CONFIRM, "-e",
                                  f"pg_backup_restore_set={backup_set}", check=False)
    assert rc != 0
    assert "NOTHING RESTORED" in out and "pg_backup_restore_safety_backup=false" in out, out[-3000:]
    assert compose("ps", "-q", "backend").strip(), "the failed restore stopped the backend"

    started = time.monotonic()
    ansible_playbook("playbooks/restore.yml", "-i", "local", "-e", CONFIRM, "-e",
                     f"pg_backup_restore_set={backup_set}", "-e", "pg_backup_restore_safety_backup=false")
    print(f"\n[restore without safety backup] {time.monotonic() - started:.1f} s")
    assert _sql("SELECT count(*) FROM app.items") == rows
    status, _, body = request("POST", "/api/items", {"name": "written-after-the-repair"})
    assert status == 201, body
