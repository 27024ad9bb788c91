"""The monitoring set's files, rendered as playbooks/monitoring.yml wires them and checked by the programs'
own tools: `promtool check config` (with the alert rules it loads) and `amtool check-config`; its compose
file's exposure, hardening and limits; and the stack's side of the network they share."""

import shutil
import subprocess

import pytest
import yaml

from ansible_render import play_vars, render

IMAGES = {"prometheus": "deployer/prometheus:2.42", "alertmanager": "deployer/alertmanager:0.25",
          "node_exporter": "deployer/node_exporter:1.5", "blackbox_exporter": "deployer/blackbox_exporter:0.23",
          "postgres_exporter": "deployer/postgres_exporter:0.11", "redis_exporter": "deployer/redis_exporter:1.45",
          "nginx_exporter": "deployer/nginx_exporter:0.11", "cadvisor": "deployer/cadvisor:0.61",
          "haproxy": "deployer/haproxy:2.6"}
# What the role looks up on the host: the engine (docker_host_info) and the socket (stat).
HOST = {"monitoring__engine": {"host_info": {"DockerRootDir": "/var/lib/docker", "Driver": "overlay2"}},
        "monitoring__socket": {"stat": {"gid": 105}}}
WEBHOOK = {"name": "ops", "webhook_configs": [{"url": "https://hooks.example.com/alert", "send_resolved": True}]}


def _render(template, **extra):
    variables = {**play_vars("monitoring.yml"), "container_images_monitoring_refs": IMAGES, **HOST, **extra}
    return render("monitoring", template, variables, roles=["stack", "container_logs", "monitoring"])


def _tool(name):
    path = shutil.which(name)
    if path is None:  # not a skip: CI must not pass these tests without running them
        pytest.fail(f"{name} missing: make setup puts Debian's into .venv/bin")
    return path


@pytest.fixture(scope="module")
def compose():
    return yaml.safe_load(_render("compose.yaml.j2"))


def test_prometheus_config_and_its_rules_pass_promtool(tmp_path):
    (tmp_path / "rules").mkdir()
    (tmp_path / "rules" / "alerts.yml").write_text(_render("alert-rules.yml.j2"))
    config = _render("prometheus.yml.j2").replace("/etc/prometheus/rules/", f"{tmp_path}/rules/")
    (tmp_path / "prometheus.yml").write_text(config)
    proc = subprocess.run([_tool("promtool"), "check", "config", str(tmp_path / "prometheus.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "SUCCESS: 1 rule files found" in proc.stdout + proc.stderr


def test_prometheus_scrapes_every_program_and_the_stack():
    config = yaml.safe_load(_render("prometheus.yml.j2"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    assert set(jobs) == {"prometheus", "alertmanager", "node", "blackbox_exporter", "backend", "blackbox", "postgres", "redis",
                         "nginx", "cadvisor"}
    # Every backend container (rolling releases run two), on the management port the contract names.
    assert jobs["backend"]["dns_sd_configs"] == [{"names": ["backend"], "type": "A", "port": 8081, "refresh_interval": "15s"}]
    assert jobs["backend"]["metrics_path"] == "/actuator/prometheus"
    # The probe goes to the edge's TLS port on the shared network, as the public name.
    assert jobs["blackbox"]["static_configs"] == [{"targets": ["https://edge:8443/"]}]
    # The edge's counters: the wired status port of the edge, on the shared network.
    compose = yaml.safe_load(_render("compose.yaml.j2"))
    assert compose["services"]["nginx-exporter"]["command"][0] == "--nginx.scrape-uri=http://edge:9145/stub_status"
    assert play_vars("deploy.yml")["edge_nginx_status_port"].startswith("{{")  # the same wiring gives the edge its port
    assert config["alerting"]["alertmanagers"][0]["static_configs"][0]["targets"] == ["alertmanager:9093"]
    probe = yaml.safe_load(_render("blackbox.yml.j2", stack_domains=["shop.example.com"]))["modules"]["https_public"]
    assert probe["http"]["headers"]["Host"] == "shop.example.com"
    assert probe["http"]["tls_config"] == {"server_name": "shop.example.com", "insecure_skip_verify": False}
    assert probe["http"]["fail_if_not_ssl"] is True


@pytest.mark.parametrize("receivers,receiver", [([], "null"), ([WEBHOOK], "ops")])
def test_alertmanager_config_passes_amtool(tmp_path, receivers, receiver):
    text = _render("alertmanager.yml.j2", monitoring_alert_receivers=receivers, monitoring_alert_receiver=receiver)
    (tmp_path / "alertmanager.yml").write_text(text)
    proc = subprocess.run([_tool("amtool"), "check-config", str(tmp_path / "alertmanager.yml")],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    config = yaml.safe_load(text)
    assert config["route"]["receiver"] == receiver
    assert [r["name"] for r in config["receivers"]] == ["null"] + [r["name"] for r in receivers]
    assert config["inhibit_rules"][0]["source_matchers"] == ['severity="critical"']


def test_only_the_two_uis_are_published_and_only_on_loopback(compose):
    published = {name: svc["ports"] for name, svc in compose["services"].items() if svc.get("ports")}
    assert published == {"prometheus": ["127.0.0.1:9090:9090"], "alertmanager": ["127.0.0.1:9093:9093"]}


def test_every_program_is_hardened_and_limited_within_512_mb(compose):
    total = 0
    for name, svc in compose["services"].items():
        assert svc["cap_drop"] == ["ALL"] and svc["read_only"] is True, name
        assert svc["security_opt"] == ["no-new-privileges:true"] and svc["user"] == "65534:65534", name
        limits = svc["deploy"]["resources"]["limits"]
        assert limits["memory"].endswith("m") and limits["pids"] == 256, name
        total += int(limits["memory"][:-1])
        # Go collects garbage before the kernel kills it (haproxy is C, with a fixed maxconn).
        if name != "docker-api":
            assert int(svc["environment"]["GOMEMLIMIT"][:-3]) == int(int(limits["memory"][:-1]) * 0.8), name
    assert total <= 512


def test_networks_keep_the_exporters_and_the_stack_internal(compose):
    nets = compose["networks"]
    assert nets["monitoring"] == {"internal": True}
    assert nets["metrics"] == {"external": True, "name": "demo_metrics"}
    services = compose["services"]
    # Only the published UIs and Alertmanager's receivers have a route out.
    assert {name for name, svc in services.items() if "egress" in svc["networks"]} == {"prometheus", "alertmanager"}
    assert {name for name, svc in services.items() if "metrics" in svc["networks"]} == {
        "prometheus", "blackbox-exporter", "postgres-exporter", "redis-exporter", "nginx-exporter"}
    # The Docker socket is only the proxy's, on a network only cAdvisor shares.
    assert nets["docker-api"] == {"internal": True}
    assert {name for name, svc in services.items() if "docker-api" in svc["networks"]} == {"cadvisor", "docker-api"}
    assert [name for name, svc in services.items() if any("docker.sock" in v for v in svc.get("volumes", []))] == [
        "docker-api"]
    assert services["docker-api"]["group_add"] == ["105"]
    assert services["cadvisor"]["volumes"] == [
        "/sys/fs/cgroup:/sys/fs/cgroup:ro",
        "/var/lib/docker/image/overlay2/layerdb/mounts:/var/lib/docker/image/overlay2/layerdb/mounts:ro"]
    assert "--docker=tcp://docker-api:2375" in services["cadvisor"]["command"]
    node = services["node-exporter"]
    assert node["volumes"] == ["/proc:/host/proc:ro", "/sys:/host/sys:ro", "/:/host/root:ro",
                               "/var/lib/prometheus/node-exporter:/textfile:ro"]


def test_the_set_logs_to_the_collector_like_the_stack(compose):
    for name, svc in compose["services"].items():
        assert svc["logging"]["driver"] == "syslog", name
        assert svc["logging"]["options"]["syslog-address"] == "unixgram:///var/lib/demo-logs/syslog.sock"
        assert svc["logging"]["options"]["tag"] == name + "/{{.ID}}"
    alone = yaml.safe_load(_render("compose.yaml.j2", monitoring_log_socket=""))
    assert {svc["logging"]["driver"] for svc in alone["services"].values()} == {"json-file"}


def test_the_stack_joins_the_metrics_network_only_where_it_is_watched():
    wired = play_vars("deploy.yml")
    assert wired["compose_stack_metrics_network"].startswith("{{")  # derived in the wiring, not hard-coded
    from test_compose_stack import _render as stack

    doc, _ = stack()
    watched = {name for name, svc in doc["services"].items() if "metrics" in svc["networks"]}
    assert watched == {"edge", "backend", "postgres", "redis"}
    assert doc["networks"]["metrics"] == {"external": True, "name": "demo_metrics"}
    off, _ = stack(monitoring_enabled=False)
    assert "metrics" not in off["networks"]
    assert not any("metrics" in svc["networks"] for svc in off["services"].values())


def test_the_exporters_log_in_with_their_own_least_privileged_logins(compose):
    pg, redis = compose["services"]["postgres-exporter"], compose["services"]["redis-exporter"]
    # Passwords from the files compose_stack writes, never in the environment or the command line.
    assert pg["environment"]["DATA_SOURCE_URI"] == "postgres:5432/postgres?sslmode=disable"
    assert pg["environment"]["DATA_SOURCE_USER"] == "monitor"
    assert pg["environment"]["DATA_SOURCE_PASS_FILE"] == "/run/secrets/postgres_password"
    assert "-redis.password-file=/run/secrets/redis_password.json" in redis["command"]
    assert "-config-command=-" in redis["command"] and "-set-client-name=false" in redis["command"]
    assert compose["secrets"] == {"postgres_password": {"file": "/opt/demo/secrets/monitoring/postgres_password"},
                                  "redis_password.json": {"file": "/opt/demo/secrets/monitoring/redis_password.json"}}
    # The redis_exporter address names the same key as compose_stack's JSON file.
    assert "-redis.addr=redis://redis:6379" in redis["command"]


def test_the_node_exporter_reads_where_pg_backup_writes():
    from ansible.template import trust_as_template
    from ansible_render import role_defaults, templar

    wired = trust_as_template(play_vars("monitoring.yml")["monitoring_textfile_dir"])
    default = role_defaults("pg_backup")["pg_backup_textfile_dir"]
    assert templar(["stack"], play_vars("monitoring.yml")).template(wired) == default
    assert templar(["stack"], {**play_vars("monitoring.yml"), "pg_backup_textfile_dir": "/srv/metrics"}).template(wired) == "/srv/metrics"


def test_the_docker_api_proxy_passes_only_reads_cadvisor_needs():
    text = _render("docker-api.cfg.j2")
    rules = [line.strip() for line in text.splitlines() if line.strip().startswith(("acl", "http-request"))]
    assert rules == [
        "acl read_method method GET HEAD",
        r"acl allowed_path path_reg ^(/v1\.[0-9]{1,3})?/(_ping|version|info|containers/[0-9a-f]{64}/json)$",
        "acl has_query query -m found",
        "http-request deny deny_status 403 unless read_method allowed_path !has_query"]
    assert "server dockerd /var/run/docker.sock" in text
