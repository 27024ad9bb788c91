"""The edge follows Docker's addresses (issue 16, point 3). nginx resolves its upstream names only when it
(re)loads; the edge's PID 1 (roles/compose_stack/files/edge-follow) reloads it when an address changes. Under
paced API reads that also check that the API answered (JSON, not another service's page): a backend killed
with SIGKILL and restarted by Docker serves again at once, and a backend that comes back on another address,
its old one taken by another container, is followed within seconds."""

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import STACK_DIR, Load, ansible_playbook, compose, report

pytestmark = pytest.mark.e2e

NETWORK = "demo_api"  # the edge and the backend's containers alone (compose.yaml)
RESUMES_WITHIN = 5.0  # seconds after the backend can answer again
API = ("/api/items", "/api/info")


def _docker(*args):
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True, timeout=120).stdout.strip()


def _backend():
    ids = compose("ps", "-q", "backend").split()
    assert len(ids) == 1, ids
    return ids[0]


def _address(container):
    networks = json.loads(_docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", container))
    return (networks.get(NETWORK) or {}).get("IPAddress")


def _wait_healthy(container, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _docker("inspect", "-f", "{{if .State.Health}}{{.State.Health.Status}}{{end}}", container) == "healthy":
            return time.monotonic()
        time.sleep(0.2)
    raise AssertionError(f"{container} not healthy after {timeout} s")


def _resumed(load, since):
    """Seconds from `since` to the first answered request after it, and the failures later than RESUMES_WITHIN."""
    first = next((t for t in load.successes if t >= since), None)
    late = [f for f, t in zip(load.failures, load.failure_times) if t > since + RESUMES_WITHIN]
    return (None if first is None else round(first - since, 2)), late


def test_a_backend_killed_with_sigkill_serves_again_as_soon_as_it_is_healthy(deployed):
    backend = _backend()
    before = _address(backend)
    with Load(rate=20, paths=API) as load:
        time.sleep(2)
        os.kill(int(_docker("inspect", "-f", "{{.State.Pid}}", backend)), signal.SIGKILL)  # as the OOM killer does
        time.sleep(1)
        healthy = _wait_healthy(backend)
        time.sleep(RESUMES_WITHIN + 2)
    restarts = int(_docker("inspect", "-f", "{{.RestartCount}}", backend))
    after = _address(backend)
    resumed, late = _resumed(load, healthy)
    report("backend-sigkill", {"ok": load.ok, "failed": len(load.failures), "longest_gap_s": load.longest_gap,
                               "resumed_s_after_healthy": resumed, "address": [before, after], "restarts": restarts})
    assert restarts >= 1, "Docker restarted the killed container"
    assert not [f for f in load.failures if "another service" in f], load.failures
    assert resumed is not None and resumed <= RESUMES_WITHIN and late == [], (resumed, late)


def test_the_edge_follows_a_backend_that_comes_back_on_another_address(deployed):
    backend = _backend()
    name = _docker("inspect", "-f", "{{.Name}}", backend).lstrip("/")
    old = _address(backend)
    placeholders = []
    try:
        with Load(rate=20, paths=API) as load:
            time.sleep(2)
            _docker("network", "disconnect", NETWORK, backend)
            # Containers that serve nothing take free addresses until one holds the backend's old one.
            while old not in [_address(p) for p in placeholders] and len(placeholders) < 30:
                placeholders.append(_docker("run", "-d", "--rm", "--network", NETWORK, "--entrypoint", "sleep",
                                            compose("images", "-q", "backend").split()[0], "300"))
            assert old in [_address(p) for p in placeholders], "no placeholder got the backend's old address"
            _docker("network", "connect", "--alias", "backend", "--alias", name, NETWORK, backend)
            back = time.monotonic()
            time.sleep(RESUMES_WITHIN + 3)
        new = _address(backend)
        resumed, late = _resumed(load, back)
        reloads = [line for line in compose("logs", "--since", "2m", "edge").splitlines()
                   if "edge-follow: the upstream addresses changed" in line]
        report("edge-follows-address", {"ok": load.ok, "failed": len(load.failures), "longest_gap_s": load.longest_gap,
                                        "resumed_s_after_reconnect": resumed, "address": [old, new],
                                        "reloads": len(reloads)})
        assert new and new != old
        assert not [f for f in load.failures if "another service" in f], load.failures
        assert resumed is not None and resumed <= RESUMES_WITHIN and late == [], (resumed, late, load.failures[-5:])
        assert reloads, "the edge's PID 1 reloaded nginx"
    finally:
        for placeholder in placeholders:
            subprocess.run(["docker", "rm", "-f", placeholder], capture_output=True, check=False)


def _before_the_split(compose_yaml):
    """A release's compose.yaml as this project rendered it before the edge had one network per proxied service:
    edge, frontend and backend on `app`, nginx as the edge's own entrypoint."""
    doc = yaml.safe_load(compose_yaml)
    services = doc["services"]
    edge = services["edge"]
    del edge["entrypoint"]
    edge["labels"].pop("io.deployer.edge-follow")
    edge["volumes"] = [volume for volume in edge["volumes"] if "edge-follow" not in volume]
    edge["networks"] = ["edge", "app"] + [n for n in edge["networks"] if n == "metrics"]
    services["frontend"]["networks"] = ["app"]
    services["backend"]["networks"] = [n for n in services["backend"]["networks"] if n != "api"]
    for network in ("web", "api"):
        del doc["networks"][network]
    return yaml.safe_dump(doc, sort_keys=False)


def _networks(service):
    (container,) = compose("ps", "-q", service).split()
    return sorted(json.loads(_docker("inspect", "-f", "{{json .NetworkSettings.Networks}}", container)))


def test_a_release_from_before_the_split_rolls_back_and_forward(deployed):
    """The path of every host deployed before the edge had a network per service: a rollback to a release recorded
    then (its containers on `app`), and the first deploy after the upgrade. The rolling services change without a
    failed request; the edge's definition changes, so Compose recreates it: a short outage, measured."""
    releases = Path(STACK_DIR) / "releases"
    state = json.loads((releases / "state.json").read_text())
    current, old = state["current"], "0.9.9-before-split"
    (releases / old).mkdir()
    (releases / old / "compose.yaml").write_text(_before_the_split((releases / current / "compose.yaml").read_text()))
    (releases / old / "images.json").write_text((releases / current / "images.json").read_text())
    state["history"].insert(state["history"].index(current), old)
    (releases / "state.json").write_text(json.dumps(state))

    with Load(rate=10) as back:
        ansible_playbook("playbooks/rollback.yml", "-i", "local", "-e", f"compose_stack_rollback_to={old}")
    assert _networks("frontend") == ["demo_app"] and "demo_web" not in _networks("edge")
    with Load(rate=10) as forward:
        ansible_playbook("playbooks/deploy.yml", "-i", "local")
    assert _networks("frontend") == ["demo_web"] and "demo_app" not in _networks("edge")
    assert "demo_api" in _networks("backend") and "demo_app" in _networks("backend")

    figures = {name: {"ok": load.ok, "failed": len(load.failures), "longest_gap_s": load.longest_gap,
                      "failures": load.failures[:10]} for name, load in (("rollback", back), ("upgrade", forward))}
    report("edge-networks-split", figures)
    for load in (back, forward):
        assert not [f for f in load.failures if "another service" in f], load.failures
        # Only the edge's recreation may cost requests: one short outage, no more.
        assert load.longest_gap <= 5, figures
