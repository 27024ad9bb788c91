"""The host's secrets are the source of truth (compose_stack/tasks/preflight.yml): a controller without
the generated passwords adopts the host's, a host whose database password nobody knows stops the deploy
before any change, and a rotation changes the running servers' passwords without failed requests."""

import hashlib
import json
import shutil
from pathlib import Path

from conftest import STACK_DIR, Load, ansible_playbook, compose, report, request

import pytest

pytestmark = pytest.mark.e2e

SECRETS = Path(STACK_DIR) / "secrets"
FILES = ["postgres/postgres_password", "backend/spring.datasource.password", "backend/spring.flyway.password",
         "backend/spring.data.redis.password", "redis/redis.conf"]


def _digests():
    return {name: hashlib.sha256((SECRETS / name).read_bytes()).hexdigest() for name in FILES}


def _restart_everything():
    """As after a reboot: every service reads its secret files again (the edge its upstreams' addresses)."""
    compose("restart")
    compose("up", "-d", "--wait")


def _api_round_trip(name):
    status, _, body = request("POST", "/api/items", {"name": name})
    assert status == 201, body
    status, _, body = request("GET", f"/api/items/{json.loads(body)['id']}")
    assert status == 200 and json.loads(body)["name"] == name


def test_a_new_controller_adopts_the_hosts_passwords(deployed, tmp_path):
    before = _digests()
    store = tmp_path / "store"  # a fresh clone or a CI runner: no .secrets/ at all
    ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e", f"compose_stack_secrets_store={store}")
    assert _digests() == before
    # The new controller now keeps the host's values.
    assert (store / "postgres_password").read_text().strip() == (SECRETS / "postgres/postgres_password").read_text()
    _restart_everything()
    _api_round_trip("after a new controller")


def test_a_database_without_a_known_password_stops_before_any_change(deployed, tmp_path):
    kept = tmp_path / "postgres_password"
    shutil.copy2(SECRETS / "postgres/postgres_password", kept)
    (SECRETS / "postgres/postgres_password").unlink()
    try:
        rc, out, recap = ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e",
                                          f"compose_stack_secrets_store={tmp_path / 'empty'}", check=False)
    finally:
        shutil.copy2(kept, SECRETS / "postgres/postgres_password")
    flat = " ".join(out.split())
    assert rc != 0 and recap["changed"] == 0, out[-3000:]
    assert "compose_stack_postgres_password" in flat and "demo_pgdata" in flat, out[-3000:]


def test_rotation_changes_the_running_passwords_without_failed_requests(deployed):
    before = _digests()
    with Load() as load:
        ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e",
                         '{"compose_stack_rotate_secrets": ["postgres", "redis", "db_migrator", "db_runtime"]}')
    after = _digests()
    report("secret-rotation", {"ok": load.ok, "failed": len(load.failures), "longest_gap_s": load.longest_gap})
    assert all(after[name] != before[name] for name in FILES)
    assert load.failures == [] and load.ok > 20
    # What the running servers read is what the host's files say (a replaced file stays bind-mounted by
    # its old inode): the health checks pass and the next deploy adopts the new values.
    assert compose("exec", "-T", "redis", "cat", "/run/secrets/redis.conf") == (SECRETS / "redis/redis.conf").read_text()
    _api_round_trip("right after a rotation")
    _, _, recap = ansible_playbook("playbooks/deploy.yml", "-i", "local")
    assert recap["changed"] == 0 and _digests() == after
    _restart_everything()
    _api_round_trip("after a rotation")
