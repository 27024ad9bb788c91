"""container_logs on both hosts (systemd, and none at all): the host's rsyslog keeps each service's lines in
one file across container replacements and log rotations, readable with one command."""

import re

testinfra_hosts = ["ansible://deployer-host", "ansible://minimal-host"]

COMPOSE = "docker compose --project-directory /opt/demo"
LOGS = "/var/log/demo/containers"


def _short_id(host, service):
    return host.check_output(f"{COMPOSE} ps -q {service}")[:12]


def test_the_collector_listens_where_only_root_may_write(host):
    assert host.process.filter(comm="rsyslogd")
    socket_dir = host.file("/var/lib/demo-logs")
    assert socket_dir.mode == 0o700 and socket_dir.user == "root"
    assert host.file("/var/lib/demo-logs/syslog.sock").is_socket
    assert host.file(LOGS).group == "adm" and host.file(LOGS).mode == 0o750
    for service in ("edge", "frontend", "backend", "postgres", "redis"):
        log = host.file(f"{LOGS}/{service}.log")
        assert log.exists and log.mode == 0o640, service


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
