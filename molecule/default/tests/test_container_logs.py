"""container_logs on both hosts (systemd, and none at all): the host's rsyslog keeps each service's lines in
one file across container replacements and log rotations, readable with one command."""

import re
import time

from conftest import https

testinfra_hosts = ["ansible://deployer-host", "ansible://minimal-host"]

COMPOSE = "docker compose --project-directory /opt/demo"
LOGS = "/var/log/demo/containers"
DOMAINS = {"deployer-host": "localhost", "minimal-host": "minimal.test"}  # stack_domains in molecule.yml


def _short_id(host, service):
    return host.check_output(f"{COMPOSE} ps -q {service}")[:12]


def test_the_collector_listens_where_only_root_may_write(host):
    assert host.process.filter(comm="rsyslogd")
    socket_dir = host.file("/var/lib/demo-logs")
    assert socket_dir.mode == 0o700 and socket_dir.user == "root"
    assert host.file("/var/lib/demo-logs/syslog.sock").is_socket
    assert host.file(LOGS).group == "adm" and host.file(LOGS).mode == 0o750


def test_one_request_is_found_in_the_edges_and_the_backends_files(host, host_ip):
    rid = f"molecule-{host.backend.get_hostname()}-{time.time_ns()}"
    name = DOMAINS[host.backend.get_hostname()]
    status, headers, _ = https(host_ip, "GET", "/api/items", name=name, headers={"X-Request-ID": rid})
    assert status == 200 and headers["x-request-id"] == rid
    for service in ("edge", "backend"):
        path, found = f"{LOGS}/{service}.log", ""
        for _ in range(20):  # the lines travel container -> Docker -> rsyslog -> file
            found = host.run(f"grep -F 'rid={rid}' {path}").stdout
            if found:
                break
            time.sleep(0.5)
        assert '"GET /api/items HTTP/1.1" 200 ' in found, service
        assert host.file(path).mode == 0o640 and host.file(path).group == "adm"


def test_a_replaced_containers_lines_outlive_it_and_a_rotation(host):
    old = _short_id(host, "redis")
    # Rotate first: rsyslog must reopen its files (HUP) or the new container's lines go to redis.log.1.
    host.check_output("logrotate -f /etc/logrotate.d/demo-containers")
    host.check_output(f"{COMPOSE} up -d --wait --force-recreate --no-deps redis")
    new = _short_id(host, "redis")
    assert new != old and host.run(f"docker inspect {old}").rc != 0  # Docker's own log of it is gone
    assert re.search(rf"^\S+ {new} .*Ready to accept connections", host.file(f"{LOGS}/redis.log").content_string, re.M)
    kept = host.check_output("/usr/local/bin/demo-logs redis")
    first_old = re.search(rf"^\S+ {old} .*Ready to accept connections", kept, re.M)
    first_new = re.search(rf"^\S+ {new} .*Ready to accept connections", kept, re.M)
    assert first_old and first_new and first_old.start() < first_new.start(), kept[-2000:]
