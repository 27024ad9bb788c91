"""A release that fails leaves the host as it was: a backend image that never gets healthy (Redis's image in
the backend's place) after the frontend was already replaced; compose.yaml, the release state, the edge's
configuration and the definition and image of every running container are compared before and after,
under paced traffic. And one operation at a time: a second one fails at once naming the holder, a dead
holder's lock can be broken on the record, and every operation lands in the host's audit journal."""

import hashlib
import json
import subprocess
import time
from pathlib import Path

from conftest import STACK_DIR, Load, ansible_playbook, report

import pytest

pytestmark = pytest.mark.e2e

STACK = Path(STACK_DIR)


def _snapshot():
    files = [STACK / "compose.yaml", STACK / "releases" / "state.json",
             *sorted(p for p in (STACK / "nginx").rglob("*") if p.is_file() and "candidate" not in p.parts)]
    running = subprocess.run(
        ["docker", "ps", "--filter", "label=com.docker.compose.project=demo", "--format",
         '{{.Label "com.docker.compose.service"}} {{.Label "com.docker.compose.config-hash"}} {{.Image}}'],
        capture_output=True, text=True, check=True).stdout.split("\n")
    images = {}
    for line in filter(None, running):
        service, config_hash, image = line.split()
        image_id = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", image],
                                  capture_output=True, text=True, check=True).stdout.strip()
        images.setdefault(service, []).append((config_hash, image_id))
    return {"files": {str(f.relative_to(STACK)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files},
            "containers": {service: sorted(v) for service, v in images.items()}}


def test_a_release_that_never_gets_healthy_leaves_the_host_as_it_was(deployed):
    before = _snapshot()
    live = json.loads((STACK / "releases" / json.loads((STACK / "releases" / "state.json").read_text())["current"]
                       / "images.json").read_text())
    # The frontend runs the same image by ID (another definition: it is replaced first, and must come back);
    # the backend runs Redis's image, which never answers the backend's health check.
    frontend_id = subprocess.run(["docker", "image", "inspect", "-f", "{{.Id}}", live["frontend"]],
                                 capture_output=True, text=True, check=True).stdout.strip()
    broken = dict(live, frontend=frontend_id, backend=live["redis"])
    with Load() as load:
        rc, out, _ = ansible_playbook(
            "playbooks/deploy.yml", "-i", "local", "--skip-tags", "container_images,edge_nginx", "-e",
            json.dumps({"compose_stack_release": "9.9.9", "compose_stack_images": broken, "compose_stack_wait_timeout": 40}),
            check=False)
    report("failed-release", {"ok": load.ok, "failed": len(load.failures), "longest_gap_s": load.longest_gap})
    flat = " ".join(out.split())
    assert rc != 0
    assert "RELEASE 9.9.9 FAILED" in flat and "The host runs release 1.0.0 as before" in flat, out[-4000:]
    after = _snapshot()
    assert after["files"] == before["files"]
    assert after["containers"] == before["containers"]
    assert not (STACK / "releases" / "9.9.9").exists()
    assert load.failures == []


def test_a_failing_pre_deploy_command_replaces_nothing(deployed):
    before = _snapshot()
    live = json.loads((STACK / "releases" / "1.0.0" / "images.json").read_text())
    rc, out, _ = ansible_playbook(
        "playbooks/deploy.yml", "-i", "local", "--skip-tags", "container_images,edge_nginx", "-e",
        json.dumps({"compose_stack_release": "9.9.8", "compose_stack_images": live,
                    "compose_stack_pre_deploy_command": ["sh", "-c", "echo the migration failed >&2; exit 3"]}),
        check=False)
    flat = " ".join(out.split())
    assert rc != 0 and "RELEASE 9.9.8 FAILED" in flat and "the migration failed" in flat, out[-3000:]
    assert _snapshot() == before


LOCK = Path("/run/lock/demo-operation.lock")
JOURNAL = Path("/var/log/demo/audit.log")


def _journal():
    return [json.loads(line) for line in JOURNAL.read_text().splitlines()]


def test_a_second_operation_fails_at_once_naming_the_holder(deployed):
    holder = {"action": "deploy", "version": "7.7.7", "user": "alice", "controller": "laptop", "commit": "3f9c2e1a7b0d",
              "started": "2026-12-06T10:00:00Z"}
    LOCK.write_text(json.dumps(holder) + "\n")
    compose_file = (STACK / "compose.yaml").read_bytes()
    try:
        started = time.monotonic()
        rc, out, recap = ansible_playbook("playbooks/rollback.yml", "-i", "local", check=False)
        refused_in = time.monotonic() - started
        flat = " ".join(out.split())
        assert rc != 0 and recap["changed"] == 0
        assert "locked by another deploy: alice@laptop, release 7.7.7, commit 3f9c2e1a7b0d" in flat, out[-3000:]
        assert "deploy_lock_break=true" in flat
        assert refused_in < 60
        assert json.loads(LOCK.read_text()) == holder, "the refused run touched the holder's lock"
        assert (STACK / "compose.yaml").read_bytes() == compose_file
        assert _journal()[-1]["result"] == "refused (locked)" and _journal()[-1]["action"] == "rollback"

        # The holder died: break its lock, explicitly and on the record.
        _, out, recap = ansible_playbook("playbooks/deploy.yml", "-i", "local", "--tags", "edge_nginx",
                                         "-e", "deploy_lock_break=true")
        assert recap["changed"] == 0
    finally:
        LOCK.unlink(missing_ok=True)
    entries = _journal()
    broken, done = entries[-2], entries[-1]
    assert broken["result"] == "lock broken" and "alice" in broken["message"]
    assert done["action"] == "deploy" and done["result"] == "ok" and done["version"] == "1.0.0"
    assert done["commit"] and done["user"] and done["duration_s"] > 0 and done["time"].endswith("Z")
    # The earlier tests' operations are on the record too, the failed release with its reason.
    failed = [e for e in entries if e["action"] == "deploy" and e["version"] == "9.9.9"]
    assert failed and failed[-1]["result"] == "failed" and "RELEASE 9.9.9 FAILED" in failed[-1]["message"]
    assert {"rollback", "deploy"} <= {e["action"] for e in entries if e["result"] == "ok"}
    assert oct(JOURNAL.stat().st_mode & 0o777) == "0o640"
