"""playbooks/status.yml on the deployed stack (issue 21, point 1): what it reports is what the host runs, it
changes nothing, and a host that needs attention fails the play naming why."""

import datetime
import json
import os
import subprocess
import time

import pytest

from conftest import ROOT, STACK_DIR, compose, report

pytestmark = pytest.mark.e2e

LOCK = "/run/lock/demo-operation.lock"


def _status(*extra, env=None):
    proc = subprocess.run(["ansible-playbook", "playbooks/status.yml", "-i", "local", *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr


def _json_report():
    """The report as data: the json stdout callback gives the fact the role keeps."""
    rc, out = _status("-e", "stack_status_format=json",
                      env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json", "ANSIBLE_CALLBACKS_ENABLED": ""})
    play = json.loads(out[out.index("{"):])
    facts = [host["ansible_facts"]["stack_status_report"] for task in play["plays"][0]["tasks"]
             for host in task["hosts"].values() if "stack_status_report" in host.get("ansible_facts", {})]
    assert len(facts) == 1, out[-3000:]
    return rc, facts[0], play["stats"]["localhost"]


def test_status_reports_what_the_host_runs_and_changes_nothing(deployed):
    subprocess.run(["/usr/local/sbin/demo-pg-backup"], capture_output=True, check=True, timeout=300)
    # Alerts from earlier tests (a killed backend, say) resolve within a few evaluations.
    deadline = time.monotonic() + 240
    while True:
        rc, data, stats = _json_report()
        if rc == 0 or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert rc == 0 and data["attention"] == [], data["attention"]
    assert stats["changed"] == 0 and stats["failures"] == 0

    with open(f"{STACK_DIR}/releases/state.json") as f:
        assert data["release"]["current"] == json.load(f)["current"]
    for service, svc in data["services"].items():
        ids = compose("ps", "-q", service).split()
        assert svc["healthy"] == len(svc["containers"]) == len(ids) > 0, (service, svc)
        running = {json.loads(subprocess.check_output(["docker", "inspect", "-f", "{{json .Image}}", cid]))
                   for cid in ids}
        assert set(svc["images"].values()) == running, service
    assert {"prometheus", "alertmanager"} <= set(data["monitoring"])
    assert data["backup"]["age_seconds"] < 600 and data["backup"]["size_bytes"] > 0
    assert data["certificate"]["server_name"] == "localhost" and data["certificate"]["days_left"] > 14
    assert data["journal"] and data["journal"][-1]["result"] == "ok"
    assert data["alerts"] == []
    report("status-json", {k: data[k] for k in ("release", "backup", "certificate", "attention")})

    rc, out = _status()
    assert rc == 0, out[-3000:]
    assert f"release   {data['release']['current']}" in out and "all good" in out
    rc, checked = _status("--check")
    assert rc == 0 and "changed=0" in checked, checked[-3000:]
    (ROOT / ".cache" / "reports").mkdir(parents=True, exist_ok=True)
    (ROOT / ".cache" / "reports" / "status.txt").write_text(out)


def test_a_stale_operation_lock_fails_the_play_naming_its_holder(deployed):
    started = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    holder = {"action": "deploy", "version": "9.9.9", "user": "tester", "controller": "e2e", "started": started}
    with open(LOCK, "x") as f:
        json.dump(holder, f)
    try:
        rc, out = _status()
    finally:
        os.unlink(LOCK)
    assert rc != 0, out[-3000:]
    assert f"localhost needs attention: the operation lock is held since {started} by tester@e2e (deploy)" in out
    assert "lock      deploy 9.9.9 by tester@e2e" in out
