"""The monitoring set on both fresh hosts (systemd, and none at all): every scrape target up, the rules
loaded and their alerts delivered to Alertmanager, the probe reading the certificate the edge serves,
pg_backup's metrics through the node exporter, and no monitoring port reachable from the other host."""

import shlex
import subprocess
import time
from datetime import datetime, timezone

from conftest import local_json as _get, port_open, report, wait_until

testinfra_hosts = ["ansible://deployer-host", "ansible://minimal-host"]

OTHER = {"deployer-host": "minimal-host", "minimal-host": "deployer-host"}
DOMAINS = {"deployer-host": "localhost", "minimal-host": "minimal.test"}  # stack_domains in molecule.yml
JOBS = {"prometheus", "alertmanager", "node", "blackbox_exporter", "backend", "blackbox", "postgres", "redis",
        "nginx", "cadvisor"}
# Prometheus and Alertmanager (published on loopback), the exporters, cAdvisor, the Docker API proxy and the
# edge's status port (not published).
PORTS = (9090, 9093, 9100, 9115, 9187, 9121, 9113, 8080, 2375, 9145)


def _query(host, expr):
    from urllib.parse import quote

    return _get(host, f"/api/v1/query?query={quote(expr)}")["data"]["result"]


def _eventually(check, seconds=90):
    deadline, last = time.time() + seconds, None
    while time.time() < deadline:
        last = check()
        if last is True:
            return
        time.sleep(3)
    raise AssertionError(last)


def _address(name):
    return subprocess.check_output(
        ["docker", "inspect", "-f", '{{(index .NetworkSettings.Networks "deployer-molecule").IPAddress}}', name],
        text=True).strip()


def test_every_target_is_up(host):
    def check():
        targets = _get(host, "/api/v1/targets")["data"]["activeTargets"]
        health = {(t["labels"]["job"], t["health"], t["lastError"]) for t in targets}
        return True if {t["labels"]["job"] for t in targets} == JOBS and all(t["health"] == "up" for t in targets) else health
    _eventually(check)


def test_the_edge_counters_come_from_its_stub_status(host):
    # up only says the exporter answered; nginx_up says it read the edge's stub_status.
    def read():
        up, accepted = _query(host, "nginx_up"), _query(host, "nginx_connections_accepted")
        return True if [r["value"][1] for r in up] == ["1"] and accepted and float(accepted[0]["value"][1]) > 0 \
            else (up, accepted)
    _eventually(read)


def test_every_container_of_the_stack_is_measured(host):
    # cAdvisor on a fresh host's engine: the stack's containers by Compose service, with the limit Docker enforces.
    def measured():
        series = _query(host, 'container_spec_memory_limit_bytes{container_label_com_docker_compose_project="demo"}')
        limits = {r["metric"]["container_label_com_docker_compose_service"]: float(r["value"][1]) for r in series}
        return True if {"edge", "backend", "postgres", "redis"} <= set(limits) else limits
    _eventually(measured)
    backend = host.check_output("docker compose --project-directory /opt/demo ps -q backend").split()[0]
    limit = _query(host, 'container_spec_memory_limit_bytes{container_label_com_docker_compose_project="demo",'
                   'container_label_com_docker_compose_service="backend"}')
    assert float(limit[0]["value"][1]) == float(host.check_output(f"docker inspect -f '{{{{.HostConfig.Memory}}}}' {backend}"))


def _served_chain_expiry(address, name):
    """The earliest notAfter of the chain the edge serves for `name` (what the probe's metric is)."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"{address}:443", "-servername", name, "-showcerts"],
                         input="", capture_output=True, text=True, timeout=20).stdout
    ends = []
    for block in out.split("-----BEGIN CERTIFICATE-----")[1:]:
        pem = "-----BEGIN CERTIFICATE-----" + block.split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n"
        end = subprocess.run(["openssl", "x509", "-noout", "-enddate"], input=pem, capture_output=True, text=True,
                             check=True).stdout.strip().split("=", 1)[1]
        ends.append(datetime.strptime(end, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=timezone.utc).timestamp())
    assert ends, out[-2000:]
    return min(ends)


def test_the_probe_reads_the_certificate_the_edge_serves(host):
    name = host.backend.get_hostname()
    served = _served_chain_expiry(_address(name), DOMAINS[name])

    def probed():
        success = _query(host, "probe_success")
        return True if [r["value"][1] for r in success] == ["1"] else success
    _eventually(probed)
    expiry = _query(host, "probe_ssl_earliest_cert_expiry")
    assert len(expiry) == 1 and float(expiry[0]["value"][1]) == served


def test_the_rules_are_loaded_and_their_alerts_reach_alertmanager(host):
    groups = _get(host, "/api/v1/rules")["data"]["groups"]
    alerts = {rule["name"] for group in groups for rule in group["rules"] if rule["type"] == "alerting"}
    assert {"TargetDown", "EndpointDown", "BackupStale", "Watchdog"} <= alerts and len(alerts) >= 20

    def watchdog_delivered():
        names = {a["labels"]["alertname"] for a in _get(host, "/api/v2/alerts", port=9093)}
        return True if "Watchdog" in names else names
    _eventually(watchdog_delivered)


def test_backup_metrics_reach_prometheus_through_the_node_exporter(host):
    # test_backup.py ran a backup on the systemd host; the minimal host backs up every minute (cron).
    _eventually(lambda: True if _query(host, 'pg_backup_last_success_timestamp_seconds{project="demo"}')
                else "no pg_backup_last_success_timestamp_seconds")


def test_a_stale_backup_pages(host, alert_recorder):
    # A project of its own in the textfile directory: the host's real backup metrics stay as they are.
    path = "/var/lib/prometheus/node-exporter/stale-drill_pg_backup.prom"
    # HELP and TYPE as pg-backup writes them: the node exporter refuses a family described two ways.
    lines = ["# HELP pg_backup_last_success_timestamp_seconds Unix time of the last fully successful backup.",
             "# TYPE pg_backup_last_success_timestamp_seconds gauge",
             f'pg_backup_last_success_timestamp_seconds{{project="stale-drill"}} {int(time.time()) - 27 * 3600}']
    host.check_output(f"printf '%s\\n' {' '.join(shlex.quote(line) for line in lines)} > {path}.tmp && mv {path}.tmp {path}")
    try:
        paged, waited = wait_until(lambda: [a for a in alert_recorder() if a[1] == "BackupStale" and a[0] == "firing"
                                            and a[2].get("project") == "stale-drill"], 120)
        assert paged[0][2]["severity"] == "critical"
    finally:
        host.run(f"rm -f {path}")
    report(f"backup-stale-page-{host.backend.get_hostname()}", {"paged_after_metric_s": round(waited, 1), "limit_s": 120})


def test_no_monitoring_port_is_reachable_from_the_other_host(host):
    name = host.backend.get_hostname()
    other = host.get_host(f"ansible://{OTHER[name]}", ansible_inventory=host.backend.ansible_inventory)
    address = _address(name)
    probe = "import socket, sys; s = socket.socket(); s.settimeout(3); sys.exit(s.connect_ex((sys.argv[1], int(sys.argv[2]))))"
    for port in PORTS:
        assert other.run(f'python3 -c "{probe}" {address} {port}').rc != 0, f"{port} reachable from {OTHER[name]}"
        assert not port_open(address, port), f"{port} reachable from the controller"
    # They do answer on the host itself (the refusals above are not a dead set).
    for port in (9090, 9093):
        assert host.run(f'python3 -c "{probe}" 127.0.0.1 {port}').rc == 0
    assert other.run(f'python3 -c "{probe}" {address} 443').rc == 0  # the other host does reach this one
