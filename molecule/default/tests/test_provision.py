"""The provisioning half of site.yml (playbooks/provision.yml) on the systemd host: engine, hardening,
firewall (checked from the controller, outside the host), tuning."""

import json
import time

import pytest

from conftest import https, port_open

testinfra_hosts = ["ansible://deployer-host"]

STACK = "/opt/demo"
TEST_KEY = "AAAAC3NzaC1lZDI1NTE5AAAAIM8WKhefgWzcMX+JqlOjK2pvrj5nOzCfXTMlPym+EdyT"

# Parameters the scenario can apply inside the container's own network namespace (see molecule.yml).
APPLIED_SYSCTLS = {
    "net.core.somaxconn": "65535",
    "net.ipv4.tcp_max_syn_backlog": "65535",
    "net.ipv4.ip_local_port_range": "1024 65535",
    "net.ipv4.tcp_fin_timeout": "15",
    "net.ipv4.tcp_tw_reuse": "1",
    "net.ipv4.tcp_max_tw_buckets": "1440000",
    "net.ipv4.tcp_keepalive_time": "300",
    "net.ipv4.tcp_syncookies": "1",
    "net.ipv4.tcp_slow_start_after_idle": "0",
    "net.ipv4.tcp_rmem": "4096 87380 16777216",
}
# Host-wide or initial-namespace-only parameters: in the file, not applied in a container.
FILE_ONLY_SYSCTLS = {
    "fs.file-max": "2097152",
    "fs.nr_open": "2097152",
    "vm.max_map_count": "262144",
    "net.core.netdev_max_backlog": "65536",
}


def connect_local(host, ip, port, timeout=3):
    code = f"import socket,sys; s=socket.socket(); s.settimeout({timeout}); sys.exit(s.connect_ex(('{ip}', {port})))"
    return host.run(f'python3 -c "{code}"').rc == 0


def wait_for(predicate, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return True
        time.sleep(0.5)
    return predicate()


@pytest.fixture(scope="module")
def image(host):
    """An image the host already has (the frontend's nginx, listening on 8080): the test host may not pull."""
    container = host.check_output(f"docker compose --project-directory {STACK} ps -q frontend")
    return host.check_output(f"docker inspect -f '{{{{.Config.Image}}}}' {container}")


@pytest.fixture(scope="module")
def listeners(host, host_ip, image):
    """Besides the edge's 80/443: 8082 published on 0.0.0.0 by a container, 8081 by a process on the host."""
    host.run("docker rm -f prov-hidden")
    host.check_output(f"docker run -d --name prov-hidden -p 0.0.0.0:8082:8080 {image}")
    host.run("systemctl stop prov-listen-8081; systemctl reset-failed prov-listen-8081")
    host.check_output("systemd-run --unit prov-listen-8081 python3 -m http.server 8081")
    for port in (80, 443, 8081, 8082):
        assert wait_for(lambda p=port: connect_local(host, host_ip, p)), f"nothing listens on {port} on the host"
    yield host_ip
    host.run("docker rm -f prov-hidden; systemctl stop prov-listen-8081")


# --- docker_engine ---------------------------------------------------------------------------


def test_engine_running_and_enabled(host):
    docker = host.service("docker")
    assert docker.is_running
    assert docker.is_enabled
    assert host.package("docker.io").is_installed
    assert host.run("python3 -c 'import docker'").rc == 0, "python3-docker for community.docker"


def test_compose_v2_plugin(host):
    plugin = host.file("/usr/local/lib/docker/cli-plugins/docker-compose")
    assert plugin.is_file and plugin.mode == 0o755
    assert host.check_output("docker compose version --short").lstrip("v").startswith("2.")


def test_daemon_json(host):
    cfg = json.loads(host.file("/etc/docker/daemon.json").content_string)
    assert cfg["log-driver"] == "json-file"
    assert set(cfg["log-opts"]) == {"max-size", "max-file"}
    assert cfg["live-restore"] is True
    assert cfg["no-new-privileges"] is True
    assert cfg["userland-proxy"] is False
    assert cfg["default-address-pools"]
    info = json.loads(host.check_output("docker info --format '{{json .}}'"))
    assert info["LoggingDriver"] == "json-file"
    assert info["LiveRestoreEnabled"] is True


def test_the_engine_starts_after_the_firewall_and_the_log_collector(host):
    """At boot Docker starts the stack at once: its containers need rsyslog's socket (the syslog log driver
    does not start a container without it) and must not be published before the firewall's policy is in place."""
    after = host.check_output("systemctl show docker -p After --value").split()
    assert {"nftables.service", "rsyslog.service"} <= set(after), after


def test_docker_run_local_image(host, image):
    assert host.check_output(f"docker run --rm --entrypoint echo {image} ran-in-container") == "ran-in-container"


# --- host_hardening -------------------------------------------------------------------------


def test_deploy_user(host):
    user = host.user("deploy")
    assert user.exists
    assert {"docker", "ssh-users"} <= set(user.groups)
    keys = host.file("/home/deploy/.ssh/authorized_keys")
    assert keys.user == "deploy" and keys.mode == 0o600
    assert TEST_KEY in keys.content_string
    assert host.run("visudo -cf /etc/sudoers.d/90-deploy").rc == 0
    assert host.run("runuser -u deploy -- docker info --format '{{.ServerVersion}}'").rc == 0


def test_sshd_effective_settings(host):
    effective = dict(line.split(" ", 1) for line in host.check_output("sshd -T").splitlines() if " " in line)
    assert effective["permitrootlogin"] == "no"
    assert effective["passwordauthentication"] == "no"
    assert effective["kbdinteractiveauthentication"] == "no"
    assert effective["permitemptypasswords"] == "no"
    assert effective["maxauthtries"] == "3"
    assert effective["allowgroups"] == "ssh-users"
    assert effective["x11forwarding"] == "no"
    assert effective["compression"] == "no" and effective["tcpkeepalive"] == "no"
    for weak in ("cbc", "3des", "arcfour"):
        assert weak not in effective["ciphers"]
    assert all(mac.endswith("-etm@openssh.com") for mac in effective["macs"].split(","))
    assert "sha1" not in effective["kexalgorithms"]
    assert host.service("ssh").is_running


def test_unattended_upgrades(host):
    assert host.package("unattended-upgrades").is_installed
    dump = host.check_output("apt-config dump Unattended-Upgrade::Origins-Pattern")
    assert "label=Debian-Security" in dump
    assert "label=Debian\"" not in dump and "-updates" not in dump, "security updates only"
    periodic = host.check_output("apt-config dump APT::Periodic")
    assert 'APT::Periodic::Unattended-Upgrade "1";' in periodic
    assert host.service("apt-daily-upgrade.timer").is_enabled


def test_time_sync(host):
    chrony = host.service("chrony")
    assert chrony.is_running and chrony.is_enabled
    assert host.run("chronyc -n sources").rc == 0


# --- host_firewall --------------------------------------------------------------------------


def test_nftables_ruleset(host):
    assert host.service("nftables").is_enabled
    assert "flush ruleset" not in host.file("/etc/nftables.conf").content_string
    table = host.check_output("nft list table inet host_firewall")
    assert "hook input priority filter; policy drop;" in table
    assert "hook forward priority filter - 10; policy accept;" in table
    assert "elements = { 80, 443 }" in table
    assert "elements = { 22 }" in table
    assert "ct original proto-dst @tcp_ports accept" in table
    assert "limit rate 10/second" in table
    tables = host.check_output("nft list tables")
    assert "table ip nat" in tables and "table ip filter" in tables, "Docker's iptables-nft tables are kept"
    assert "After=nftables.service" in host.check_output("systemctl cat docker")


def test_fail2ban_sshd_jail_bans_with_nftables(host):
    assert host.service("fail2ban").is_running
    assert "sshd" in host.check_output("fail2ban-client status")
    host.check_output("fail2ban-client set sshd banip 192.0.2.77")
    try:
        assert wait_for(lambda: "192.0.2.77" in host.run("nft list table inet f2b-table").stdout, 10)
    finally:
        host.run("fail2ban-client set sshd unbanip 192.0.2.77")


def test_only_ssh_80_443_reachable_from_outside(host, listeners):
    ip = listeners
    for port in (22, 80, 443):
        assert port_open(ip, port), f"{port} must be reachable from outside"
    assert not port_open(ip, 8081), "host listener on 8081 must be filtered"
    assert not port_open(ip, 8082), "container port published on 0.0.0.0:8082 must be filtered"
    # Both really listen: the refusals above are the firewall's.
    assert connect_local(host, ip, 8081) and connect_local(host, ip, 8082)


# --- host_tuning ----------------------------------------------------------------------------


def test_sysctls(host):
    conf = host.file("/etc/sysctl.d/60-host-tuning.conf").content_string
    for key, value in {**APPLIED_SYSCTLS, **FILE_ONLY_SYSCTLS}.items():
        assert f"{key}={value}" in conf
    for key, value in APPLIED_SYSCTLS.items():
        assert host.sysctl(key) == value or " ".join(str(host.sysctl(key)).split()) == value, key


def test_file_descriptor_limits(host):
    limits = host.file("/etc/security/limits.d/60-host-tuning.conf").content_string
    assert "*     soft nofile 65536" in limits and "*     hard nofile 1048576" in limits
    manager = host.check_output("systemctl show -p DefaultLimitNOFILE -p DefaultLimitNOFILESoft")
    assert "DefaultLimitNOFILE=1048576" in manager and "DefaultLimitNOFILESoft=65536" in manager
    assert host.check_output("systemctl show docker -p LimitNOFILE") == "LimitNOFILE=1048576"
    # The effective limit is capped by what this container's PID 1 has (20000 on the CI machine).
    cap = int(host.check_output("awk '/^Max open files/ {print $5}' /proc/1/limits"))
    pid = host.check_output("systemctl show docker -p MainPID --value")
    soft = int(host.check_output(f"awk '/^Max open files/ {{print $4}}' /proc/{pid}/limits"))
    assert soft == min(cap, 1048576)


# --- the policy survives docker and nftables restarts (last: restarts the engine) -------------


def test_firewall_survives_restarts(host, listeners):
    ip = listeners
    host.check_output("systemctl restart docker")
    assert wait_for(lambda: port_open(ip, 443, timeout=1)), "live-restore keeps the edge published"
    assert https(ip, "GET", "/")[0] == 200, "the stack serves through an engine restart"
    assert "hook input" in host.check_output("nft list table inet host_firewall")
    assert not port_open(ip, 8082)

    host.check_output("systemctl restart nftables")
    assert "table ip nat" in host.check_output("nft list tables"), "restarting nftables keeps Docker's rules"
    assert https(ip, "GET", "/")[0] == 200
    assert not port_open(ip, 8082)
    assert not port_open(ip, 8081)
