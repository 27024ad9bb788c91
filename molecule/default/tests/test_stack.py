"""site.yml on a fresh host: the stack runs, serves over HTTPS and keeps its data private."""

import json
import time

from conftest import https, port_open

testinfra_hosts = ["ansible://deployer-host"]  # the systemd host; minimal-host: test_minimal_host.py

STACK = "/opt/demo"
COMPOSE = f"docker compose --project-directory {STACK}"
SERVICES = {"edge", "frontend", "backend", "postgres", "redis"}


def _containers(host):
    out = host.check_output(f"{COMPOSE} ps --format json")
    return {c["Service"]: c for c in map(json.loads, out.splitlines())}


def test_engine_and_compose_plugin(host):
    assert host.service("docker").is_running
    assert host.service("docker").is_enabled
    assert "v2." in host.check_output("docker compose version")


def test_every_service_is_healthy(host):
    containers = _containers(host)
    assert set(containers) == SERVICES
    for name, c in containers.items():
        assert c["Health"] == "healthy", f"{name}: {c['Status']}"


def test_containers_are_hardened(host):
    for name, c in _containers(host).items():
        info = json.loads(host.check_output(f"docker inspect {c['ID']}"))[0]
        cfg, hc = info["Config"], info["HostConfig"]
        assert cfg["User"] and not cfg["User"].startswith("0"), name
        assert hc["CapDrop"] == ["ALL"], name
        assert "no-new-privileges:true" in hc["SecurityOpt"], name
        assert hc["ReadonlyRootfs"] is True, name
        assert hc["Memory"] > 0 and hc["NanoCpus"] > 0 and hc["PidsLimit"] > 0, name


def test_secret_files_are_private(host):
    for path, uid in [("postgres/postgres_password", 999), ("backend/spring.datasource.password", 10001),
                      ("backend/spring.data.redis.password", 10001), ("redis/redis.conf", 999)]:
        f = host.file(f"{STACK}/secrets/{path}")
        assert f.mode == 0o600 and f.uid == uid, path
    compose_yaml = host.file(f"{STACK}/compose.yaml").content_string
    password = host.file(f"{STACK}/secrets/postgres/postgres_password").content_string.strip()
    assert password and password not in compose_yaml


def test_spa_is_served_over_https(host_ip):
    status, headers, body = https(host_ip, "GET", "/")
    assert status == 200 and '<div id="root">' in body.decode()
    assert headers["strict-transport-security"].startswith("max-age=63072000")


def test_api_answers_through_nginx_from_postgres_and_redis(host_ip):
    status, _, body = https(host_ip, "POST", "/api/items", {"name": "molecule"})
    assert status == 201, body
    status, headers, body = https(host_ip, "GET", "/api/items")
    assert status == 200 and headers["x-cache"] == "MISS"
    assert any(item["name"] == "molecule" for item in json.loads(body))
    status, headers, _ = https(host_ip, "GET", "/api/items")
    assert headers["x-cache"] == "HIT"


def test_only_http_and_https_reachable_from_outside(host_ip):
    assert port_open(host_ip, 443) and port_open(host_ip, 80)
    for port in (5432, 6379, 8080, 8443):
        assert not port_open(host_ip, port), f"{host_ip}:{port} is reachable from outside the host"


def test_data_survives_a_stack_restart(host, host_ip):
    status, _, body = https(host_ip, "POST", "/api/items", {"name": "persisted"})
    item_id = json.loads(body)["id"]
    host.check_output(f"{COMPOSE} down")
    host.check_output(f"{COMPOSE} up -d --wait")
    deadline = time.monotonic() + 60
    while True:
        try:
            status, _, body = https(host_ip, "GET", f"/api/items/{item_id}")
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(1)
    assert status == 200 and json.loads(body)["name"] == "persisted"
