"""The rendered compose.yaml: topology, hardening, limits and secret handling."""

import hashlib
import re
import sys
from pathlib import Path

import pytest
import yaml

from ansible_render import ROLES, play_vars, render

sys.path.insert(0, str(ROLES / "compose_stack" / "filter_plugins"))
import stack_filters  # noqa: E402

# What compose_stack's preflight decides on a host (tasks/preflight.yml).
PASSWORDS = {"postgres": "p" * 40, "redis": "r" * 40, "db_migrator": "m" * 40, "db_runtime": "u" * 40,
             "db_monitor": "d" * 40, "redis_monitor": "e" * 40}
IMAGES = {
    "edge": "deployer/nginx:1.22",
    "frontend": "demo-frontend:1.2.3",
    "backend": "demo-backend:1.2.3",
    "postgres": "deployer/postgres:15",
    "redis": "deployer/redis:7.0",
}


def _render(**extra):
    # Wired as playbooks/deploy.yml wires it, from the stack contract's defaults.
    text = render("compose_stack", "compose.yaml.j2", {**play_vars("deploy.yml"), "container_images_refs": IMAGES,
                                                        "stack_release": "1.2.3", "compose_stack__passwords": PASSWORDS,
                                                        **extra}, roles=["stack", "compose_stack"])
    return yaml.safe_load(text), text


@pytest.fixture(scope="module")
def compose():
    return _render()


def test_no_version_key_and_project_name(compose):
    doc, _ = compose
    assert "version" not in doc
    assert doc["name"] == "demo"
    assert set(doc["services"]) == {"edge", "frontend", "backend", "postgres", "redis"}


def test_only_edge_publishes_ports(compose):
    doc, _ = compose
    published = {name for name, svc in doc["services"].items() if svc.get("ports")}
    assert published == {"edge"}
    assert doc["services"]["edge"]["ports"] == ["0.0.0.0:80:8080", "0.0.0.0:443:8443"]


def test_data_services_only_on_internal_networks(compose):
    doc, _ = compose
    nets = doc["networks"]
    assert all(nets[name]["internal"] is True for name in ("web", "api", "app", "data"))
    assert not nets["edge"].get("internal")
    # ...and the internal network its exporters read them on.
    assert doc["services"]["postgres"]["networks"] == ["data", "metrics"]
    assert doc["services"]["redis"]["networks"] == ["data", "metrics"]
    assert "edge" not in doc["services"]["backend"]["networks"]


@pytest.mark.parametrize("service,uid", [("edge", "101"), ("frontend", "101"), ("backend", "10001"), ("postgres", "999"), ("redis", "999")])
def test_every_service_hardened(compose, service, uid):
    svc = compose[0]["services"][service]
    assert svc["user"] == f"{uid}:{uid}"
    assert svc["cap_drop"] == ["ALL"]
    assert "no-new-privileges:true" in svc["security_opt"]
    assert svc["read_only"] is True
    assert svc["healthcheck"]["test"]
    limits = svc["deploy"]["resources"]["limits"]
    assert limits["memory"] and limits["cpus"] and limits["pids"] > 0
    assert svc["restart"] == "unless-stopped"


@pytest.mark.parametrize("service", ["edge", "frontend", "backend", "postgres", "redis"])
def test_every_service_logs_to_the_hosts_collector_tagged_with_its_name(compose, service):
    logging = compose[0]["services"][service]["logging"]
    assert logging["driver"] == "syslog"
    assert logging["options"] == {"syslog-address": "unixgram:///var/lib/demo-logs/syslog.sock",
                                  "syslog-format": "rfc5424micro", "tag": service + "/{{.ID}}",
                                  "cache-max-size": "10m", "cache-max-file": "5"}


def test_without_a_collector_docker_keeps_json_files():
    doc, _ = _render(compose_stack_log_socket="")
    for svc in doc["services"].values():
        assert svc["logging"] == {"driver": "json-file", "options": {"max-size": "10m", "max-file": "5"}}


def test_startup_order_waits_for_health(compose):
    svcs = compose[0]["services"]
    assert svcs["edge"]["depends_on"] == {
        "frontend": {"condition": "service_healthy"},
        "backend": {"condition": "service_healthy"},
    }
    assert svcs["backend"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_no_secret_values_in_compose(compose):
    doc, text = compose
    assert "PASSWORD:" not in text.replace("PASSWORD_FILE:", "")
    for source in doc["secrets"].values():
        assert source["file"].startswith("./secrets/")
    assert doc["services"]["postgres"]["environment"]["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres_password"
    targets = {s["target"] for s in doc["services"]["backend"]["secrets"]}
    assert targets == {"spring.datasource.password", "spring.flyway.password", "spring.data.redis.password"}


def test_postgres_tuned_from_memory_limit(compose):
    pg = compose[0]["services"]["postgres"]
    settings = dict(arg.split("=", 1) for arg in pg["command"][2::2])
    assert settings["shared_buffers"] == "256MB"  # 25 % of 1g
    assert settings["effective_cache_size"] == "768MB"
    assert pg["shm_size"] == "320m"
    assert pg["volumes"] == ["pgdata:/var/lib/postgresql/data"]


def test_redis_memory_capped_below_limit(compose):
    redis = compose[0]["services"]["redis"]
    cmd = redis["command"]
    assert int(cmd[cmd.index("--maxmemory") + 1]) == int(256 * 1024**2 * 0.75)
    assert cmd[cmd.index("--maxmemory-policy") + 1] == "allkeys-lru"
    assert "/run/secrets/redis.conf" in cmd


def test_size_to_bytes():
    assert stack_filters.size_to_bytes("768m") == 768 * 1024**2
    assert stack_filters.size_to_bytes("2g") == 2 * 1024**3
    assert stack_filters.size_to_bytes("512MiB") == 512 * 1024**2
    assert stack_filters.size_to_bytes(" 1.5G ") == 1536 * 1024**2
    assert stack_filters.size_to_bytes(268435456) == 268435456  # a number from the inventory is bytes already
    with pytest.raises(ValueError, match="not a memory size"):
        stack_filters.size_to_bytes("lots")


def test_pg_tuning_rejects_tiny_limits_and_scales():
    with pytest.raises(ValueError, match="below 128m"):
        stack_filters.pg_tuning("64m")
    big = stack_filters.pg_tuning("8g", 200)["settings"]
    assert big["shared_buffers"] == "2048MB" and big["effective_cache_size"] == "6144MB"
    assert big["work_mem"] == f"{(6 * 1024**3) // 600 // 1024**2}MB"


def test_pg_tuning_small_sizes_in_kb_with_a_floor():
    """Many connections on a small limit: work_mem falls below 1 MB (kB literal), never below 64kB."""
    assert stack_filters.pg_tuning("256m", 500)["settings"]["work_mem"] == f"{(192 * 1024**2) // 1500 // 1024}kB"
    small = stack_filters.pg_tuning("128m", 1000)
    assert small["settings"]["work_mem"] == "64kB"  # 32 kB computed
    assert small["settings"]["max_connections"] == "1000"
    assert small["shm_size"] == "96m"  # shared_buffers 32m + 64m


def test_redis_maxmemory_ratio_bounds():
    with pytest.raises(ValueError):
        stack_filters.redis_maxmemory("256m", 1.5)


def test_releases_to_prune_keeps_window_and_shared_images():
    manifests = {
        "1.0.0": {"frontend": "f:1.0.0", "backend": "b:1.0.0", "postgres": "pg:15"},
        "1.0.1": {"frontend": "f:1.0.1", "backend": "b:1.0.0", "postgres": "pg:15"},
        "1.0.2": {"frontend": "f:1.0.2", "backend": "b:1.0.2", "postgres": "pg:15"},
    }
    out = stack_filters.releases_to_prune(manifests, ["1.0.1", "1.0.2"], ["frontend", "backend"])
    assert out == {"releases": ["1.0.0"], "images": ["f:1.0.0"]}


def test_health_probes_are_http_over_dev_tcp(compose):
    svcs = compose[0]["services"]
    probe = svcs["backend"]["healthcheck"]["test"]
    assert probe[:3] == ["CMD", "bash", "-c"]
    assert "printf 'GET /readyz HTTP/1.0\\r\\n" in probe[3]
    assert "grep -Eq '^HTTP/1.[01] 200'" in probe[3]
    assert "GET /healthz " in svcs["edge"]["healthcheck"]["test"][3]


def test_frontend_is_internal_only(compose):
    assert compose[0]["services"]["frontend"]["networks"] == ["web"]


def test_each_proxied_service_shares_a_network_with_the_edge_alone(compose):
    """An address the edge still holds (its servers are resolved at reload) can only be one of that service's
    containers: on `web` and `api`, no other service can be given it."""
    services = compose[0]["services"]
    members = {net: {name for name, svc in services.items() if net in svc["networks"]} for net in ("web", "api")}
    assert members == {"web": {"edge", "frontend"}, "api": {"edge", "backend"}}
    assert "app" not in services["edge"]["networks"]


INJECTIONS = ['x"\n    privileged: true\n    y: "', "a: b\nprivileged: true", "'; privileged: true", "{privileged: true}", "$HOME ${X} \\n"]


@pytest.mark.parametrize("value", INJECTIONS)
def test_inventory_strings_cannot_inject_compose_keys(value):
    """Inventory values arrive verbatim in the container and never add keys to compose.yaml."""
    doc, _ = _render(compose_stack_backend_env={"EXTRA": value}, compose_stack_backend_java_opts=value,
                     compose_stack_postgres_settings={"application_name": value})
    for svc in doc["services"].values():
        assert "privileged" not in svc
    env = doc["services"]["backend"]["environment"]
    pg_setting = next(arg for arg in doc["services"]["postgres"]["command"] if arg.startswith("application_name="))
    for rendered, wanted in [(env["EXTRA"], value), (env["JAVA_OPTS"], value), (pg_setting, f"application_name={value}")]:
        # Compose reads `$$` as `$`; a single `$` would be replaced from the host's environment.
        assert not re.search(r"(?<!\$)\$(?!\$)", rendered.replace("$$", "")), rendered
        assert rendered.replace("$$", "$") == wanted


def test_each_secret_file_sits_in_the_directory_of_the_only_service_that_reads_it(compose):
    doc, _ = compose
    readers = {}
    for name, svc in doc["services"].items():
        for secret in svc.get("secrets", []):
            readers.setdefault(secret if isinstance(secret, str) else secret["source"], set()).add(name)
    assert set(readers) == set(doc["secrets"]), "every declared secret is mounted, every mounted one declared"
    for secret, source in doc["secrets"].items():
        assert len(readers[secret]) == 1, f"{secret} is read by {readers[secret]}: each file belongs to one uid"
        assert source["file"].split("/")[2] == next(iter(readers[secret])), (secret, source)


def _seconds(duration):
    return int(re.fullmatch(r"(\d+)s", duration).group(1))


def test_api_queues_bursts_and_keeps_the_edge_pool_open_longer_than_the_edge(compose):
    """A burst overflowed Tomcat's listen queue of 100 (the SYN is retried after 1 s, past the edge's
    proxy_connect_timeout: a 504), and Tomcat closed a pooled connection every 100 requests."""
    from edge_render import blocks, directives, render_edge

    env = compose[0]["services"]["backend"]["environment"]
    assert env["SERVER_TOMCAT_ACCEPT_COUNT"] == "1024"
    assert env["SERVER_TOMCAT_MAX_KEEP_ALIVE_REQUESTS"] == "-1"
    upstream = dict(blocks(render_edge()["conf.d/00-http.conf"], "upstream"))["edge_backend"]
    (edge_idle,) = directives(upstream, "keepalive_timeout")
    assert _seconds(env["SERVER_TOMCAT_KEEP_ALIVE_TIMEOUT"]) > _seconds(edge_idle)
    assert _render(compose_stack_backend_accept_count=4096)[0]["services"]["backend"]["environment"][
        "SERVER_TOMCAT_ACCEPT_COUNT"] == "4096"


@pytest.mark.parametrize("history, release, rollback, expected", [
    ([], "1.0", False, ["1.0"]),
    (["1.0", "1.1"], "1.2", False, ["1.0", "1.1", "1.2"]),
    (["1.0", "1.1", "1.2"], "1.3", False, ["1.1", "1.2", "1.3"]),          # keep 3
    (["1.0", "1.1", "1.2"], "1.1", False, ["1.0", "1.2", "1.1"]),          # a redeploy moves to the top
    (["1.0", "1.1", "1.2"], "1.1", True, ["1.0", "1.1"]),                  # rollback pops 1.2 ...
    (["1.0", "1.1"], "1.0", True, ["1.0"]),                                # ... and a second one goes further down
    (["1.0", "1.1", "1.2"], "1.0", True, ["1.0"]),                         # rollback_to pops all above
])
def test_release_history_is_a_stack(history, release, rollback, expected):
    assert stack_filters.release_history(history, release, 3, rollback) == expected


def test_rollback_to_a_release_outside_the_history_is_refused():
    with pytest.raises(ValueError, match="not in the history"):
        stack_filters.release_history(["1.0", "1.1"], "0.9", 3, rollback=True)


def test_failed_containers_are_the_unhealthy_ones_of_another_definition():
    hashes = ["backend aaa", "frontend fff", "edge eee"]
    ps = [
        "b-old|backend|aaa|Up 5 minutes (healthy)",          # live definition: stays
        "b-new|backend|bbb|Up 40 seconds (unhealthy)",       # the failed release's: goes
        "b-boot|backend|bbb|Up 3 seconds (health: starting)",  # not healthy yet: goes
        "b-dead|backend|bbb|Exited (1) 2 seconds ago",       # crashed: goes
        "f-new|frontend|ggg|Up 1 minute (healthy)",          # already replaced, healthy: rolled back without downtime
        "e|edge|eee|Up 9 minutes (healthy)",
        "w|worker|zzz|Up 1 minute",                          # a service the live file no longer has: goes
    ]
    assert stack_filters.failed_containers(ps, hashes) == ["b-new", "b-boot", "b-dead", "w"]


def test_unready_containers_are_those_not_up_or_not_yet_healthy():
    containers = [
        {"Names": ["/demo-backend-1"], "Status": "Up 5 minutes (healthy)"},
        {"Names": ["/demo-backend-2"], "Status": "Up 41 seconds (health: starting)"},  # what compose let through
        {"Names": ["/demo-backend-3"], "Status": "Up 2 minutes (unhealthy)"},
        {"Names": ["/demo-worker-1"], "Status": "Up 1 minute"},  # no health check: up is ready
        {"Names": ["/demo-worker-2"], "Status": "Restarting (1) 2 seconds ago"},
        {"Names": ["/demo-edge-1"], "Status": "Exited (0) 3 seconds ago"},
    ]
    assert stack_filters.unready_containers(containers) == [
        "demo-backend-2: Up 41 seconds (health: starting)", "demo-backend-3: Up 2 minutes (unhealthy)",
        "demo-worker-2: Restarting (1) 2 seconds ago", "demo-edge-1: Exited (0) 3 seconds ago"]


def test_rolling_servers_are_the_containers_addresses_on_their_network_with_the_edge():
    inspected = [{"Name": "/demo-backend-2", "NetworkSettings": {"Networks": {"demo_api": {"IPAddress": "172.20.0.7"},
                                                                               "demo_app": {"IPAddress": "172.21.0.3"}}}},
                 {"Name": "/demo-backend-3", "NetworkSettings": {"Networks": {"demo_api": {"IPAddress": "172.20.0.8"}}}}]
    networks = ["demo_api", "demo_app"]
    assert stack_filters.upstream_servers(inspected, networks, 8080) == (
        "server 172.20.0.7:8080 max_fails=3 fail_timeout=10s;\n"
        "server 172.20.0.8:8080 max_fails=3 fail_timeout=10s;\n")
    assert stack_filters.upstream_networks_used(inspected, networks) == ["demo_api"]
    # A release from before the edge had a network per service runs its containers on `app` only: the first
    # deploy after the upgrade replaces them, and a rollback to such a release starts them.
    before = [{"Name": "/demo-backend-1", "NetworkSettings": {"Networks": {"demo_app": {"IPAddress": "172.21.0.9"},
                                                                              "demo_data": {"IPAddress": "172.22.0.2"}}}}]
    assert stack_filters.upstream_servers(before, networks, 8080) == "server 172.21.0.9:8080 max_fails=3 fail_timeout=10s;\n"
    assert stack_filters.upstream_networks_used(before + inspected, networks) == ["demo_api", "demo_app"]
    with pytest.raises(ValueError, match="demo-backend-1 has no address on demo_api or demo_web"):
        stack_filters.upstream_servers(before, ["demo_api", "demo_web"], 8080)


def test_the_edge_runs_nginx_under_the_address_follower(compose):
    doc, _ = compose
    edge = doc["services"]["edge"]
    assert edge["entrypoint"] == ["/bin/sh", "/usr/local/lib/edge-follow", "1"]
    assert "command" not in edge, "an entrypoint clears the image's command: the follower starts nginx itself"
    assert "./bin/edge-follow:/usr/local/lib/edge-follow:ro" in edge["volumes"]
    script = (ROLES / "compose_stack" / "files" / "edge-follow").read_bytes()
    assert edge["labels"]["io.deployer.edge-follow"] == hashlib.sha256(script).hexdigest()
    assert _render(compose_stack_edge_follow_interval=5)[0]["services"]["edge"]["entrypoint"][-1] == "5"
