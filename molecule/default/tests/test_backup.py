"""pg_backup on the Molecule host (systemd as PID 1, the real stack at /opt/demo, project `demo`)."""

import json

import pytest

testinfra_hosts = ["ansible://deployer-host"]  # the systemd host; minimal-host: test_minimal_host.py

PROJECT = "demo"
BACKUP_DIR = f"/var/backups/{PROJECT}/postgres"
BACKUP = f"/usr/local/sbin/{PROJECT}-pg-backup"
DRILL = f"/usr/local/sbin/{PROJECT}-pg-restore-drill"
TEXTFILE = f"/var/lib/prometheus/node-exporter/{PROJECT}_pg_backup.prom"


def test_scripts_are_root_only(host):
    for path in (BACKUP, DRILL, f"/usr/local/sbin/{PROJECT}-pg-restore"):
        f = host.file(path)
        assert f.exists and f.user == "root" and f.mode == 0o700, path


@pytest.mark.parametrize("unit", [f"{PROJECT}-pg-backup.timer", f"{PROJECT}-pg-restore-drill.timer"])
def test_timers_enabled_and_active(host, unit):
    svc = host.service(unit)
    assert svc.is_enabled
    assert svc.is_running  # an active timer
    props = host.check_output(f"systemctl show -p Persistent -p RandomizedDelayUSec {unit}")
    if "backup" in unit:
        assert "Persistent=yes" in props


def test_no_cron_fallback_when_systemd_runs(host):
    assert not host.file(f"/etc/cron.d/{PROJECT}-pg-backup").exists


def test_service_is_hardened(host):
    props = host.check_output(f"systemctl show -p ProtectSystem -p PrivateTmp -p NoNewPrivileges {PROJECT}-pg-backup.service")
    assert "ProtectSystem=full" in props and "PrivateTmp=yes" in props and "NoNewPrivileges=yes" in props


def test_backup_service_run_succeeds(host):
    host.run_expect([0], f"systemctl start {PROJECT}-pg-backup.service")  # oneshot: returns when done
    result = host.check_output(f"systemctl show -p Result --value {PROJECT}-pg-backup.service")
    assert result == "success"
    status = json.loads(host.file(f"{BACKUP_DIR}/last-success.json").content_string)
    assert status["status"] == "success"
    assert "app" in {d["name"] for d in status["databases"]}
    set_dir = status["path"]
    d = host.file(set_dir)
    assert d.is_directory and d.user == "root" and d.mode == 0o700
    files = host.check_output(f"find {set_dir} -type f -printf '%m %u %f\\n'").splitlines()
    assert any(line.endswith(" app.dump") or line.endswith(" app.dump.age") for line in files), files
    for line in files:
        mode, user, _ = line.split(" ", 2)
        assert mode == "600" and user == "root", line
    host.run_expect([0], f"cd {set_dir} && sha256sum --quiet -c SHA256SUMS")
    prom = host.file(TEXTFILE).content_string
    assert f'pg_backup_last_status{{project="{PROJECT}"}} 1' in prom
    assert "pg_backup_last_success_timestamp_seconds" in prom and "pg_backup_last_size_bytes" in prom


def test_backup_is_fresh(host):
    out = host.run_expect([0], f"{BACKUP} --check-freshness 1h")
    assert out.stdout.startswith("OK")


def test_restore_drill_passes(host):
    host.run_expect([0], f"systemctl start {PROJECT}-pg-restore-drill.service")
    drill = json.loads(host.file(f"{BACKUP_DIR}/last-restore-drill.json").content_string)
    assert drill["status"] == "success"
    assert all(d["result"] == "ok" for d in drill["databases"])
    dbs = host.check_output(
        f"docker compose --project-directory /opt/{PROJECT} exec -T postgres psql -U app -d postgres -Atc 'SELECT datname FROM pg_database'")
    assert "_restore_check" not in dbs


def test_stack_still_healthy_after_backup_and_drill(host):
    out = host.check_output(f"docker compose --project-directory /opt/{PROJECT} ps --format json")
    health = {c["Service"]: c["Health"] for c in map(json.loads, out.splitlines())}
    assert health.get("postgres") == "healthy" and health.get("backend") == "healthy"
