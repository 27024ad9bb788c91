"""site.yml on a minimal Debian 12 host: debootstrap minbase plus python3, no init system, no cron, no
systemd (issue 12). The roles must install and start what they schedule with; the schedules run every
minute here (molecule.yml), so a backup set and a renewal attempt must appear within 3 minutes."""

import datetime
import os
import re
import socket
import ssl
import subprocess
import time

from cryptography import x509

from conftest import https

testinfra_hosts = ["ansible://minimal-host"]

PROJECT = "demo"
NAME = "minimal.test"
BACKUP_LOG = f"/var/log/{PROJECT}-pg-backup.log"
CERTBOT_LOGS = "/var/log/letsencrypt"
RENEWAL_CONF = "/etc/letsencrypt/renewal/edge.conf"
WITHIN = 180  # seconds from the schedule being written to the first run's result


def _mtime(host, path):
    return int(host.check_output(f"stat -c %Y {path}"))


def _wait_for(probe, timeout):
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(5)


def test_host_has_no_init_system(host):
    assert host.check_output("tr '\\0' ' ' </proc/1/cmdline").strip() == "python3 /usr/local/sbin/pid1"
    assert not host.file("/run/systemd/system").exists


def test_cron_daemon_runs(host):
    assert host.run("service cron status").rc == 0
    assert host.process.filter(comm="cron")


def test_engine_runs_from_its_init_script(host):
    assert host.run("service docker status").rc == 0
    assert host.check_output("docker info --format '{{.ServerVersion}}'")


def test_https_serves_the_spa_with_the_acme_certificate(host_ip):
    status, headers, body = https(host_ip, "GET", "/", name=NAME)
    assert status == 200 and '<div id="root">' in body.decode()
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host_ip, 443), timeout=10) as raw, ctx.wrap_socket(raw, server_hostname=NAME) as tls:
        cert = x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))
    issuer = cert.issuer.rfc4514_string()
    assert "Pebble" in issuer, issuer  # issued over ACME (real HTTP-01 through the edge), not the self-signed one
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert NAME in names


def test_backup_set_from_cron_within_3_minutes(host):
    scheduled = _mtime(host, f"/etc/cron.d/{PROJECT}-pg-backup")

    def first_success():
        log = host.file(BACKUP_LOG)
        if not log.exists:
            return None
        m = re.search(r"^(\S+) \S+: backup daily/(\S+) done", log.content_string, re.M)
        return m and (m.group(1), m.group(2))

    found = _wait_for(first_success, scheduled + WITHIN + 10 - time.time())
    assert found, f"no backup from cron within {WITHIN}s: {host.run(f'tail -20 {BACKUP_LOG}').stdout}"
    done = datetime.datetime.strptime(found[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert done.timestamp() - scheduled <= WITHIN
    set_dir = f"/var/backups/{PROJECT}/postgres/daily/{found[1]}"
    assert host.file(f"{set_dir}/SHA256SUMS").exists
    assert host.run(f"cd {set_dir} && sha256sum --quiet -c SHA256SUMS").rc == 0


def test_renewal_attempt_logged_within_3_minutes(host):
    scheduled = _mtime(host, "/etc/cron.d/certbot-edge")

    # certbot writes one letsencrypt.log per run (older ones rotate to .1, .2...); only `renew`
    # processes the lineage's renewal configuration.
    def renew_runs():
        out = host.run(f"grep -l 'Processing {RENEWAL_CONF}' {CERTBOT_LOGS}/letsencrypt.log*").stdout.split()
        return [path for path in out if _mtime(host, path) >= scheduled]

    runs = _wait_for(renew_runs, scheduled + WITHIN + 10 - time.time())
    assert runs, f"no `certbot renew` logged within {WITHIN}s of the schedule"
    text = host.file(runs[0]).content_string
    assert "not yet due for renewal" in text or "renewals succeeded" in text, text[-2000:]
    cron_log = host.file(f"{CERTBOT_LOGS}/cron.log")
    assert not cron_log.exists or cron_log.content_string.strip() == "", cron_log.content_string


def test_systemd_roles_refuse_before_any_change(tmp_path):
    play = tmp_path / "hardening.yml"
    play.write_text("- hosts: minimal-host\n  become: true\n  roles: [host_hardening]\n")
    run = subprocess.run(
        ["ansible-playbook", "-i", os.environ["MOLECULE_INVENTORY_FILE"], "-e", "{\"host_hardening_enabled\": true}", str(play)],
        capture_output=True, text=True, timeout=300, cwd=os.environ["MOLECULE_PROJECT_DIRECTORY"],
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0"})
    assert run.returncode != 0
    message = " ".join((run.stdout + run.stderr).split())
    assert "host_hardening manages" in message and "needs systemd as PID 1" in message, message[-3000:]
    assert re.search(r"minimal-host\s*: ok=\d+\s+changed=0", run.stdout), run.stdout[-3000:]
