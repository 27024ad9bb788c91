"""playbooks/status.yml on the deployed stack (issue 21, point 1): what it reports is what the host runs, it
changes nothing, and a host that needs attention fails the play naming why."""

import datetime
import json
import os
import subprocess
import time
import urllib.request

import pytest

from conftest import REPORTS, ROOT, STACK_DIR, compose, report

pytestmark = pytest.mark.e2e

LOCK = "/run/lock/demo-operation.lock"


def _status(*extra, env=None):
    proc = subprocess.run(["ansible-playbook", "playbooks/status.yml", "-i", "local", *extra], cwd=ROOT,
                          capture_output=True, text=True, timeout=300, env={**os.environ, **(env or {})})
    return proc.returncode, proc.stdout + proc.stderr


def _json_report():
    """The report as data: the json stdout callback gives the fact the role keeps."""
    rc, out = _status("-e", "stack_status_format=json", env={"ANSIBLE_STDOUT_CALLBACK": "ansible.posix.json"})
    play = json.loads(out[out.index("{\n"):out.rindex("}") + 1])  # profile_tasks' lines around it
    facts = [host["ansible_facts"]["stack_status_report"] for task in play["plays"][0]["tasks"]
             for host in task["hosts"].values() if "stack_status_report" in host.get("ansible_facts", {})]
    assert len(facts) == 1, out[-3000:]
    return rc, facts[0], play["stats"]["localhost"]


def _alertmanager():
    url = "http://127.0.0.1:9093/api/v2/alerts?active=true&silenced=false&inhibited=false"
    return sorted({(a["labels"]["alertname"], a["labels"].get("severity", "")) for a in json.load(urllib.request.urlopen(url))
                   if a["labels"]["alertname"] != "Watchdog"})


def test_status_reports_what_the_host_runs_and_changes_nothing(deployed):
    subprocess.run(["/usr/local/sbin/demo-pg-backup"], capture_output=True, check=True, timeout=300)
    # A container replaced by an earlier test may still be starting: the stack settles within a minute.
    # Alerts are the host's own (a nearly full disk on a test machine, say): the report must show the same ones.
    deadline = time.monotonic() + 120
    while True:
        before = _alertmanager()
        rc, data, stats = _json_report()
        after = _alertmanager()
        problems = [item for item in data["attention"] if not item.startswith("alert firing: ")]
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(10)
    assert problems == [], data["attention"]
    # What Alertmanager holds just before or just after the report (an alert may start or end in between).
    assert sorted((a["name"], a["severity"]) for a in data["alerts"]) in (before, after), (data["alerts"], before, after)
    assert rc == (2 if data["attention"] else 0), (rc, data["attention"])
    assert stats["changed"] == 0

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
    report("status-json", {k: data[k] for k in ("release", "backup", "certificate", "alerts", "attention")})

    rc, out = _status()
    assert f"release   {data['release']['current']}" in out, out[-3000:]
    assert ("needs attention" if data["attention"] else "all good") in out
    rc_checked, checked = _status("--check")
    assert rc_checked == rc and "changed=0" in checked, checked[-3000:]
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / "status.txt").write_text(out)


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
