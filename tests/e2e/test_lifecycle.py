"""The demo stack deployed by `ansible-playbook site.yml -i local`: serving, idempotence,
zero-downtime releases, rollback and persistence, over real HTTPS through the edge."""

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, STACK_DIR, Load, ansible_playbook, compose, report, request

pytestmark = pytest.mark.e2e


def test_main_job_prints_the_url(deployed):
    assert "is up: https://localhost/" in deployed


def test_spa_page_and_hashed_assets_load(deployed):
    status, headers, body = request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    html = body.decode()
    assert '<div id="root">' in html
    asset = re.search(r'src="(/assets/[^"]+\.js)"', html).group(1)
    status, headers, body = request("GET", asset)
    assert status == 200 and len(body) > 1000
    assert "immutable" in headers["cache-control"]


def test_api_reads_postgres_through_redis_cache(deployed):
    status, _, body = request("POST", "/api/items", {"name": "e2e item", "description": "written by the e2e test"})
    assert status == 201, body
    created = json.loads(body)
    status, headers, body = request("GET", "/api/items")
    assert status == 200 and headers["x-cache"] == "MISS"
    assert any(item["id"] == created["id"] for item in json.loads(body))
    status, headers, _ = request("GET", "/api/items")
    assert status == 200 and headers["x-cache"] == "HIT"
    assert "no-store" in headers["cache-control"]
    status, _, body = request("GET", f"/api/items/{created['id']}")
    assert status == 200 and json.loads(body)["name"] == "e2e item"


def test_only_the_edge_publishes_ports(deployed):
    published = {}
    for line in compose("ps", "--format", "json").splitlines():
        entry = json.loads(line)
        published[entry["Service"]] = [p for p in entry.get("Publishers") or [] if p.get("PublishedPort")]
    assert set(published) == {"edge", "frontend", "backend", "postgres", "redis"}
    assert sorted(p["PublishedPort"] for p in published["edge"]) == [80, 443]
    assert all(not ports for service, ports in published.items() if service != "edge")
    for port in (5432, 6379, 8080, 8081):
        with socket.socket() as sock:
            sock.settimeout(2)
            assert sock.connect_ex(("127.0.0.1", port)) != 0, f"port {port} answers on the host"


def _inside_backend(port, path):
    """GET from within the backend's own network namespace: (status line, body)."""
    script = (f"exec 3<>/dev/tcp/127.0.0.1/{port} && printf 'GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n' >&3"
              " && cat <&3")
    out = compose("exec", "-T", "backend", "bash", "-c", script)
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")  # text mode may already have folded \r\n
    return head.splitlines()[0], body


def test_the_actuator_is_on_a_management_port_the_edge_never_routes(deployed):
    status_line, body = _inside_backend(8081, "/actuator/prometheus")
    assert " 200 " in status_line and 'http_server_requests_seconds_bucket{' in body, status_line
    assert " 404 " in _inside_backend(8080, "/actuator/prometheus")[0]  # not on the routed port
    for path in ("/actuator/prometheus", "/actuator/env", "/actuator/health/readiness", "/actuator/heapdump"):
        assert request("GET", path)[0] == 404, path
    status, _, body = request("GET", "/actuator/health")  # the public status: the backend's /readyz
    assert status == 200 and json.loads(body)["status"] == "UP"


def test_one_request_id_joins_the_edge_and_backend_log_lines(deployed):
    """The id a client sends (or the edge's own) is on the edge's access line and the backend's."""
    sent = f"e2e-{os.getpid()}-{time.time_ns()}"
    status, headers, _ = request("GET", "/api/items", headers={"X-Request-ID": sent})
    assert status == 200 and headers["x-request-id"] == sent
    status, headers, _ = request("GET", "/api/info")  # no id sent: the edge makes one
    made = headers["x-request-id"]
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", made), made
    for rid, path in ((sent, "/api/items"), (made, "/api/info")):
        lines = {}
        for _ in range(20):  # both write their line once the response is out
            lines = {svc: [line for line in compose("logs", "--no-log-prefix", svc).splitlines()
                           if f"rid={rid}" in line] for svc in ("edge", "backend")}
            if all(lines.values()):
                break
            time.sleep(0.5)
        assert all(f"GET {path} HTTP/1.1\" 200 " in found[0] for found in lines.values()), lines


def test_the_image_flavor_is_pinned(deployed):
    """No registry answers here, so `auto` chose the registry-free images; the host now keeps that choice."""
    assert Path(STACK_DIR, "image-flavor").read_text() == "registry_free\n"
    assert re.search(r"container_images flavor: registry_free \(asked for auto", deployed)


def test_second_run_changes_nothing(deployed):
    _, out, recap = ansible_playbook("site.yml", "-i", "local")
    changed = re.findall(r"TASK \[([^\]]+)\][^\n]*\n(?:[^\n]*\n){0,2}?changed:", out)
    assert recap["changed"] == 0 and recap["failed"] == 0, changed


def test_edge_reloads_under_api_traffic_drop_nothing(deployed):
    """Every configuration change and every release reloads the edge. A reload used to retire a worker in the
    middle of an API answer larger than its first proxy buffer (GET /api/items, 9.6 kB, with nginx's 4k):
    the client got no answer in 7 of 200 reloads. 100 reloads under API reads, none may fail."""
    with Load(rate=15, paths=("/api/items",)) as load:
        for _ in range(100):
            compose("exec", "-T", "edge", "nginx", "-s", "reload")
            time.sleep(0.4)
    report("edge-reloads", {"reloads": 100, "ok": load.ok, "failed": len(load.failures)})
    assert load.failures == [] and load.ok > 500


def _version():
    status, _, body = request("GET", "/api/info")
    assert status == 200
    return json.loads(body)["version"]


def _state():
    return json.loads((Path(STACK_DIR) / "releases" / "state.json").read_text())


def test_release_and_rollback_without_dropping_requests(deployed):
    """1.0.1 is released with a setting the inventory does not keep (DEMO_FLAG), then 1.0.2 without it.
    Rolling back runs 1.0.1 as recorded, DEMO_FLAG included, and a second rollback goes down to 1.0.0
    (the history is a stack), both without dropping a request."""
    assert _version() == "1.0.0"
    replaced = [cid[:12] for cid in compose("ps", "-q", "backend").split()]
    started = time.monotonic()
    with Load() as release:
        ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e", "stack_release=1.0.1",
                         "-e", json.dumps({"compose_stack_backend_env": {"DEMO_FLAG": "recorded"}}))
    release_seconds = time.monotonic() - started
    assert _version() == "1.0.1"
    # The replaced containers are gone, with Docker's logs of them; the host's collector kept their lines.
    assert replaced and not set(replaced) & {cid[:12] for cid in compose("ps", "-aq", "backend").split()}
    kept = subprocess.run(["/usr/local/bin/demo-logs", "backend"], capture_output=True, text=True, check=True).stdout
    for cid in replaced:
        assert re.search(rf"^\S+ {cid} .*Started DemoApplication", kept, re.M), f"no start-up line of {cid}"
    # 1.0.2 with the release hooks and a restore point: the pre-deploy command sees the release's secrets and
    # names, before anything is replaced; the post-deploy command runs once it is live.
    hooks = {"compose_stack_backup_before_deploy": True,
             "compose_stack_pre_deploy_command": ["sh", "-c", "test -r /run/secrets/spring.flyway.password && "
                                                  'echo "expand for $DEPLOY_RELEASE while $DEPLOY_PREVIOUS_RELEASE runs"'],
             "compose_stack_post_deploy_command": ["sh", "-c", 'echo "contract after $DEPLOY_RELEASE"']}
    _, out, _ = ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e", "stack_release=1.0.2", "-e", json.dumps(hooks))
    assert _version() == "1.0.2" and all("DEMO_FLAG=recorded" not in env for env in _backend_env())
    restore_point = re.search(r"Restore point before release 1\.0\.2: (/[^\s'\"]+)", out)
    assert restore_point and (Path(restore_point.group(1)) / "SHA256SUMS").is_file(), out[-3000:]
    assert "/pre-deploy/" in restore_point.group(1)
    pre, live = out.index("expand for 1.0.2 while 1.0.1 runs"), out.index("TASK [compose_stack : Make the release live")
    assert out.index("Restore point before release 1.0.2") < pre < out.index("TASK [compose_stack : Bring the stack to the next") < live
    assert live < out.index("contract after 1.0.2")
    assert _state() == {"current": "1.0.2", "history": ["1.0.0", "1.0.1", "1.0.2"]}

    with Load() as rollback:
        ansible_playbook("playbooks/rollback.yml", "-i", "local")
    assert _version() == "1.0.1"
    assert all("DEMO_FLAG=recorded" in env for env in _backend_env()), "the rollback re-rendered today's settings"
    assert _state() == {"current": "1.0.1", "history": ["1.0.0", "1.0.1"]}
    assert (Path(STACK_DIR) / "compose.yaml").read_text() == (Path(STACK_DIR) / "releases" / "1.0.1" / "compose.yaml").read_text()

    ansible_playbook("playbooks/rollback.yml", "-i", "local")
    assert _version() == "1.0.0"
    assert _state() == {"current": "1.0.0", "history": ["1.0.0"]}

    # Baseline: what a plain `docker compose up -d --force-recreate` of the backend costs.
    with Load() as plain:
        compose("up", "-d", "--force-recreate", "--no-deps", "backend")
        # By hand, nginx also has to be told the new address (its upstreams resolve on reload).
        compose("exec", "edge", "nginx", "-s", "reload")
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and request("GET", "/api/info")[0] != 200:
            time.sleep(0.5)

    report("zero-downtime", {
        "rolling_release": {"ok": release.ok, "failed": len(release.failures), "longest_gap_s": release.longest_gap,
                            "seconds": round(release_seconds, 1)},
        "rollback": {"ok": rollback.ok, "failed": len(rollback.failures), "longest_gap_s": rollback.longest_gap},
        "plain_compose_recreate": {"ok": plain.ok, "failed": len(plain.failures), "longest_gap_s": plain.longest_gap},
    })
    assert release.failures == [] and release.ok > 20
    assert rollback.failures == [] and rollback.ok > 20


def _backend_env():
    ids = compose("ps", "-q", "backend").split()
    out = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Env}}", *ids], capture_output=True, text=True,
                         check=True).stdout
    return [json.loads(line) for line in out.splitlines()]


# The benchmark's exception to the per-client limits: every synthetic client shares one source address.
BENCH_LIMITS = {k: v for k, v in yaml.safe_load((ROOT / "benchmarks" / "tuned-vars.yml").read_text()).items()
                if k.startswith("edge_nginx_limit_")}


SMOKE_P95_LIMIT_MS = 1000


def _smoke_hold(tmp_path):
    """The benchmark's connection hold, small (BENCH_QUICK: 2,000 connections arriving over 10 s, held
    25 s, carrying the API read mix at 500 req/s): its result as bench.py judged it. Its warm-up comes first,
    and in quick runs a minute of the API mix after it: the backend was replaced a moment ago, and a cold JVM
    put p95 at 134-305 ms.

    What it judges is what the hold is for: every connection held, no error, the rate kept. Its latency is
    reported, and bounded only against a stall (SMOKE_P95_LIMIT_MS): the benchmark's p95 < 200 ms belongs to
    `make bench`, which repeats its runs; one run of this smoke, on a CI machine, measured p95 222 ms with
    0 errors and 2,000 of 2,000 connections held."""
    out = tmp_path / "hold.json"
    subprocess.run(["bash", "-c", 'ulimit -n 4096 && exec "$@"', "hold", sys.executable,
                    str(ROOT / "benchmarks" / "bench.py"), "--name", "smoke", "--project", "demo", "--port", "8443",
                    "--phases", "warmup,hold", "--hold-rate", "500", "--p95-limit-ms", str(SMOKE_P95_LIMIT_MS),
                    "--out", str(out)],
                   env=dict(os.environ, BENCH_QUICK="1"), check=True, timeout=240)
    return json.loads(out.read_text())["hold"]


def test_a_configuration_change_rolls_without_dropping_requests(deployed, tmp_path):
    """Not only a new image: a change of the backend's environment (JVM options, limits, secrets alike)
    replaces it container by container, and one of the edge's limits reloads it. Under the benchmark's
    limits, a smoke version of its 10,000-connection hold runs, so a regression shows before `make bench`."""
    change_vars = json.dumps({"compose_stack_backend_env": {"DEMO_FLAG": "on"}, **BENCH_LIMITS})
    with Load() as change:
        ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e", change_vars)
    assert all("DEMO_FLAG=on" in env for env in _backend_env())
    hold = _smoke_hold(tmp_path)
    with Load() as back:
        ansible_playbook("playbooks/deploy.yml", "-i", "local")
    assert all("DEMO_FLAG=on" not in env for env in _backend_env())
    report("config-change", {
        "change": {"ok": change.ok, "failed": len(change.failures), "longest_gap_s": change.longest_gap},
        "back": {"ok": back.ok, "failed": len(back.failures), "longest_gap_s": back.longest_gap},
    })
    report("smoke-hold", {k: hold[k] for k in ("label", "connections", "established_min_steady", "throughput_rps",
                                               "target_rate", "latency_ms", "errors", "non_2xx", "pass")})
    assert change.failures == [] and change.ok > 20
    assert back.failures == [] and back.ok > 20
    assert hold["pass"], (f"smoke hold failed: {hold['throughput_rps']} of {hold['target_rate']} req/s, "
                          f"p95 {hold['latency_ms']['p95']} ms, errors {hold['errors']}, non-2xx {hold['status_counts']}, "
                          f"{hold['established_min_steady']} of {hold['connections']} connections held")


@pytest.mark.parametrize("target, message", [
    ("0.0.9", "is not among the kept releases"),      # never deployed (or pruned)
    ("../../etc", "must be empty (the previous release) or a release tag"),
])
def test_rollback_to_a_bad_release_fails_before_any_change(deployed, target, message):
    state = (Path(STACK_DIR) / "releases" / "state.json").read_text()
    compose_file = (Path(STACK_DIR) / "compose.yaml").read_text()
    rc, out, recap = ansible_playbook("playbooks/rollback.yml", "-i", "local", "-e", f"compose_stack_rollback_to={target}",
                                      check=False)
    assert rc != 0 and recap["changed"] == 0
    flat = " ".join(out.split())
    assert "compose_stack_rollback_to" in flat and message in flat, out[-3000:]
    assert (Path(STACK_DIR) / "releases" / "state.json").read_text() == state
    assert (Path(STACK_DIR) / "compose.yaml").read_text() == compose_file


def test_data_survives_a_stack_restart(deployed):
    status, _, body = request("POST", "/api/items", {"name": "survivor"})
    assert status == 201
    item_id = json.loads(body)["id"]
    ansible_playbook("playbooks/down.yml", "-i", "local")  # make down
    assert compose("ps", "-q").strip() == ""
    compose("up", "-d", "--wait")
    status, _, body = request("GET", f"/api/items/{item_id}")
    assert status == 200 and json.loads(body)["name"] == "survivor"
