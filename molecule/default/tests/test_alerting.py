"""Alerts that reach a person, on the systemd host: a stopped backend pages the test receiver within 2 minutes
and a resolved notice follows its restart. (A stale backup's page: test_monitoring.py, on both hosts.)"""

import time

from conftest import report, wait_until

testinfra_hosts = ["ansible://deployer-host"]

COMPOSE = "docker compose --project-directory /opt/demo"


def _backend_healthy(host):
    ids = host.check_output(f"{COMPOSE} ps -q backend").split()
    states = [host.check_output(f"docker inspect -f '{{{{.State.Health.Status}}}}' {i}") for i in ids]
    return bool(ids) and all(state == "healthy" for state in states)


def test_a_stopped_backend_pages_within_2_minutes_then_resolves(host, alert_recorder):
    def notice(status):
        return lambda: [a for a in alert_recorder() if a[1] == "BackendDown" and a[0] == status]

    assert _backend_healthy(host) and not notice("firing")()
    host.check_output(f"{COMPOSE} stop backend")
    stopped = time.monotonic()
    try:
        firing, _ = wait_until(notice("firing"), 150)
        paged_after = time.monotonic() - stopped
        assert firing[0][2]["severity"] == "critical"
        assert paged_after <= 120, f"paged {paged_after:.0f} s after the backend stopped"
    finally:
        restarted = time.monotonic()
        host.check_output(f"{COMPOSE} start backend")
        wait_until(lambda: _backend_healthy(host), 180)
    wait_until(notice("resolved"), 120)
    report("backend-down-page", {"paged_after_stop_s": round(paged_after, 1), "limit_s": 120,
                                 "resolved_after_start_s": round(time.monotonic() - restarted, 1)})
