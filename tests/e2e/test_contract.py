"""The stack contract (roles/stack) on the real engine: a second product, renamed, with its backend on
another port and one more service (a second backend instance, not routed by the edge), is one edit of
the contract each, and works end to end beside the demo stack."""

import copy
import json
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from conftest import ROOT, ansible_playbook, request

pytestmark = pytest.mark.e2e

PROJECT = "shop"
HTTPS_PORT = 8444


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    services = copy.deepcopy(yaml.safe_load((ROOT / "roles/stack/defaults/main.yml").read_text())["stack_services"])
    for svc in services:
        if svc["name"] == "backend":
            svc["port"] = 9090
    # An added service: the backend image as an internal worker, next to the database only.
    services.append({
        "name": "worker", "image": "backend", "port": 8081, "uid": 10001, "health_path": "/actuator/health",
        "rolling": True, "networks": ["data"], "memory": "512m",
        "environment": {
            "SERVER_PORT": 8081, "APP_VERSION": "worker", "JAVA_OPTS": "-XX:MaxRAMPercentage=60",
            "SPRING_DATASOURCE_URL": "jdbc:postgresql://postgres:5432/app", "SPRING_DATASOURCE_USERNAME": "app_runtime",
            # The backend migrates; the worker only reads and writes rows, as the runtime role.
            "SPRING_FLYWAY_ENABLED": "false",
            "SPRING_DATA_REDIS_HOST": "redis", "SPRING_DATA_REDIS_PORT": 6379,
            "SPRING_CONFIG_IMPORT": "configtree:/run/secrets/",
        },
        "secrets": [{"source": "backend_db_password", "target": "spring.datasource.password"},
                    {"source": "backend_redis_password", "target": "spring.data.redis.password"}],
    })
    extra = tmp_path_factory.mktemp("shop") / "vars.json"
    extra.write_text(json.dumps({
        # The contract edit under test:
        "stack_project": PROJECT, "stack_services": services,
        # Beside the demo stack on this machine: other host ports, its own generated passwords.
        "compose_stack_http_port": 8081, "compose_stack_https_port": HTTPS_PORT,
        "compose_stack_secrets_store": str(extra.parent / "secrets"),
    }))
    started = time.monotonic()
    ansible_playbook("playbooks/deploy.yml", "-i", "local", "-e", f"@{extra}")
    print(f"\n[timing] deploy of the renamed stack: {time.monotonic() - started:.0f}s")
    yield extra
    ansible_playbook("playbooks/down.yml", "-i", "local", "-e", f"@{extra}")
    subprocess.run(["docker", "volume", "rm", f"{PROJECT}_pgdata", f"{PROJECT}_redisdata"], capture_output=True)
    subprocess.run(["docker", "image", "rm", f"{PROJECT}-frontend:1.0.0", f"{PROJECT}-backend:1.0.0"], capture_output=True)
    shutil.rmtree(f"/opt/{PROJECT}", ignore_errors=True)


def test_renamed_stack_serves_the_spa_and_the_api(shop):
    status, _, body = request("GET", "/", port=HTTPS_PORT)
    assert status == 200 and '<div id="root">' in body.decode()
    status, _, body = request("POST", "/api/items", {"name": "from the shop"}, port=HTTPS_PORT)
    assert status == 201, body
    item = json.loads(body)
    status, _, body = request("GET", f"/api/items/{item['id']}", port=HTTPS_PORT)
    assert status == 200 and json.loads(body)["name"] == "from the shop"


def test_everything_follows_the_contract(shop):
    assert Path(f"/opt/{PROJECT}/compose.yaml").is_file()
    env = subprocess.run(["docker", "inspect", "-f", "{{json .Config.Env}}", f"{PROJECT}-backend-1"],
                         capture_output=True, text=True, check=True).stdout
    assert "SERVER_PORT=9090" in json.loads(env)
    edge_servers = Path(f"/opt/{PROJECT}/nginx/conf.d/upstreams/backend.conf").read_text()
    assert "server backend:9090 " in edge_servers
    images = subprocess.run(["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}", f"{PROJECT}-*"],
                            capture_output=True, text=True, check=True).stdout.split()
    assert sorted(images) == [f"{PROJECT}-backend:1.0.0", f"{PROJECT}-frontend:1.0.0"]


def test_added_service_runs_healthy_and_reaches_the_database(shop):
    state = subprocess.run(["docker", "inspect", "-f", "{{.State.Health.Status}} {{.Config.User}}", f"{PROJECT}-worker-1"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert state == ["healthy", "10001:10001"]
    # The item written through the edge and the backend is read by the worker from the same database.
    status, _, body = request("POST", "/api/items", {"name": "seen by the worker"}, port=HTTPS_PORT)
    assert status == 201, body
    item_id = json.loads(body)["id"]
    probe = (f"exec 3<>/dev/tcp/127.0.0.1/8081 && printf 'GET /api/items/{item_id} HTTP/1.0\\r\\n\\r\\n' >&3 "
             "&& cat <&3")
    out = subprocess.run(["docker", "exec", f"{PROJECT}-worker-1", "bash", "-c", probe],
                         capture_output=True, text=True, check=True).stdout
    assert " 200 " in out.splitlines()[0] and "seen by the worker" in out
