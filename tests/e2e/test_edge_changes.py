"""Edge configuration changes on the running stack, under paced traffic: a value nginx refuses never goes live
(the play fails quoting nginx, the live files and the running edge are untouched); a valid change, nginx.conf
included, is applied by reload, never by restarting the edge. No request may fail in either case."""

import hashlib
import json
import subprocess
import time
from pathlib import Path

from conftest import STACK_DIR, Load, ansible_playbook, compose, report, request

import pytest

pytestmark = pytest.mark.e2e

LIVE = Path(STACK_DIR) / "nginx"


def _live_files():
    return {str(p.relative_to(LIVE)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(LIVE.rglob("*")) if p.is_file() and "candidate" not in p.relative_to(LIVE).parts}


def _edge_container():
    return compose("ps", "-q", "edge").strip()


def _started(container):
    return subprocess.run(["docker", "inspect", "-f", "{{.State.StartedAt}} restarts={{.RestartCount}}", container],
                          capture_output=True, text=True, check=True).stdout.strip()


def _workers(container):
    """nginx worker processes serving new connections (not those finishing after a reload)."""
    top = subprocess.run(["docker", "top", container, "-o", "pid,args"], capture_output=True, text=True, check=True).stdout
    return sum(1 for line in top.splitlines()[1:] if line.split(None, 1)[-1].strip() == "nginx: worker process")


def _edge_play(*extra, check=True):
    return ansible_playbook("playbooks/deploy.yml", "-i", "local", "--tags", "edge_nginx", *extra, check=check)


def test_a_value_nginx_refuses_never_goes_live(deployed):
    live, edge = _live_files(), _edge_container()
    started = _started(edge)
    with Load() as load:
        # Debian's nginx has no brotli module: nginx.conf would load a file that does not exist.
        rc, out, _ = _edge_play("-e", "edge_nginx_brotli=true", check=False)
        time.sleep(3)  # a restart or a failed reload would show within this
    report("edge-refused-change", {"ok": load.ok, "failed": len(load.failures)})
    assert rc != 0
    assert "nginx -t rejected the new edge configuration" in out and "ngx_http_brotli_filter_module.so" in out, out[-3000:]
    assert _live_files() == live
    assert _edge_container() == edge and _started(edge) == started
    assert load.failures == []


def test_a_valid_change_is_applied_by_reload_without_a_restart(deployed):
    edge = _edge_container()
    started = _started(edge)
    before = _workers(edge)
    assert before >= 1
    change = {"edge_nginx_worker_processes": 3, "edge_nginx_extra_headers": {"X-Edge-Change": "applied"}}
    try:
        with Load() as load:
            _edge_play("-e", json.dumps(change))
            deadline = time.monotonic() + 30
            while _workers(edge) != 3 and time.monotonic() < deadline:
                time.sleep(0.5)
        report("edge-valid-change", {"ok": load.ok, "failed": len(load.failures), "longest_gap_s": load.longest_gap})
        assert _workers(edge) == 3, "nginx.conf's change did not reach the running edge"
        assert request("GET", "/")[1].get("x-edge-change") == "applied"
        assert _started(edge) == started, "the edge was restarted"
        assert load.failures == []
    finally:
        with Load() as back:
            _edge_play()
    assert "x-edge-change" not in request("GET", "/")[1]
    deadline = time.monotonic() + 30
    while _workers(edge) != before and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _workers(edge) == before
    assert back.failures == [] and _started(edge) == started


def _maintenance(state):
    return ansible_playbook("playbooks/maintenance.yml", "-i", "local", "-e", f"edge_nginx_maintenance={state}")


def test_maintenance_mode_answers_503_but_health_and_survives_a_redeploy(deployed):
    edge = _edge_container()
    started = _started(edge)
    _maintenance("on")
    try:
        status, headers, body = request("GET", "/")
        assert status == 503 and headers["retry-after"] == "300", (status, headers)
        assert headers["content-type"].startswith("text/html") and b"Back soon" in body
        assert "content-security-policy" in headers and headers["cache-control"] == "no-store"
        status, headers, body = request("GET", "/api/items")
        assert status == 503 and headers["retry-after"] == "300"
        assert headers["content-type"].startswith("application/json") and json.loads(body)["error"] == "maintenance"
        assert request("GET", "/healthz")[0] == 200
        assert request("GET", "/actuator/health")[0] == 200  # the backend itself is up
        # The state is kept on the host: the main job's deploy does not end maintenance (its edge part, which
        # renders the configuration; the rest of the deploy does not touch it).
        _, _, recap = ansible_playbook("playbooks/deploy.yml", "-i", "local", "--tags", "edge_nginx")
        assert recap["changed"] == 0
        assert request("GET", "/api/items")[0] == 503
    finally:
        _maintenance("off")
    assert request("GET", "/")[0] == 200 and request("GET", "/api/items")[0] == 200
    assert _started(edge) == started, "maintenance restarted the edge"
    journal = [json.loads(line) for line in Path("/var/log/demo/audit.log").read_text().splitlines()]
    assert [e["version"] for e in journal if e["action"] == "maintenance"][-2:] == ["maintenance on", "maintenance off"]
