"""roles/stack_status/files/stack-status against a host made of parts that answer for real: a TLS server with a
certificate made by openssl, an HTTP server in Alertmanager's place, and the files the other roles write; only
`docker` is a stand-in (a script printing recorded `docker ps`/`docker inspect` answers)."""

import datetime
import http.server
import json
import os
import socket
import ssl
import subprocess
import threading
import time

import pytest

from script_loader import load_script

status = load_script("roles/stack_status/files/stack-status", "stack_status")
NOW = float(int(time.time()))  # whole seconds, as the metrics files hold them


def _cert(tmp_path, days):
    key, crt = tmp_path / f"{days}.key", tmp_path / f"{days}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=shop.example",
                    "-days", str(days), "-keyout", key, "-out", crt], check=True, capture_output=True)
    enddate = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in", crt], check=True, capture_output=True,
                             text=True).stdout.strip().split("=", 1)[1]
    expected = datetime.datetime.strptime(enddate, "%b %d %H:%M:%S %Y %Z").replace(tzinfo=datetime.timezone.utc)
    return key, crt, expected


@pytest.mark.parametrize("days", [10, 30000])  # UTCTime, and GeneralizedTime past 2049
def test_not_after_reads_the_certificates_expiry(tmp_path, days):
    _, crt, expected = _cert(tmp_path, days)
    der = ssl.PEM_cert_to_DER_cert(crt.read_text())
    assert status.not_after(der) == expected


def _container(name, service, state="running", health="healthy", image="demo-backend:1.0.0", project="demo"):
    return {"Name": "/" + name, "Image": "sha256:" + "ab" * 32, "RestartCount": 0,
            "Config": {"Image": image, "Labels": {"com.docker.compose.project": project,
                                                  "com.docker.compose.service": service,
                                                  "com.docker.compose.oneoff": "False"}},
            "State": {"Status": state, "StartedAt": "2026-12-07T10:00:00Z",
                      **({"Health": {"Status": health}} if health else {})}}


@pytest.fixture
def host(tmp_path, monkeypatch):
    """A host as the roles leave it after a deploy: every file in place, the edge serving a 60-day certificate."""
    key, crt, _ = _cert(tmp_path, 60)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(crt, key)
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except socket.timeout:
                continue
            try:
                with context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (ssl.SSLError, OSError):
                pass

    alerts = []

    class Alertmanager(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            assert self.path == "/api/v2/alerts?active=true&silenced=false&inhibited=false"
            body = json.dumps(alerts).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    am = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Alertmanager)
    threads = [threading.Thread(target=serve, daemon=True), threading.Thread(target=am.serve_forever, daemon=True)]
    for thread in threads:
        thread.start()

    stack = tmp_path / "opt" / "demo"
    (stack / "releases" / "1.1.0").mkdir(parents=True)
    (stack / "releases" / "state.json").write_text(json.dumps({"current": "1.1.0", "history": ["1.0.0", "1.1.0"]}))
    (stack / "releases" / "1.1.0" / "images.json").write_text(json.dumps({"backend": "demo-backend:1.1.0",
                                                                          "postgres": "deployer/postgres:15"}))
    textfiles = tmp_path / "textfile"
    textfiles.mkdir()
    (textfiles / "demo_pg_backup.prom").write_text(
        '# HELP pg_backup_last_success_timestamp_seconds x\n'
        f'pg_backup_last_success_timestamp_seconds{{project="demo"}} {NOW - 3600:.0f}\n'
        'pg_backup_last_size_bytes{project="demo"} 123456\n'
        'pg_backup_last_failure_timestamp_seconds{project="demo"} 0\n')
    (textfiles / "demo_pg_restore_drill.prom").write_text(
        'pg_backup_restore_drill_last_status{project="demo"} 1\n'
        'pg_backup_restore_drill_duration_seconds{project="demo"} 2.5\n'
        f'pg_backup_restore_drill_last_run_timestamp_seconds{{project="demo"}} {NOW - 7200:.0f}\n')
    audit = tmp_path / "audit.log"
    audit.write_text("".join(json.dumps({"action": "deploy", "version": v, "result": "ok", "time": "2026-12-07T10:00:00Z",
                                         "user": "ops", "controller": "laptop", "duration_s": 50}) + "\n"
                             for v in ("1.0.0", "1.1.0")))
    containers = {"demo": [_container("demo-backend-1", "backend", image="demo-backend:1.1.0"),
                           _container("demo-postgres-1", "postgres", image="deployer/postgres:15"),
                           _container("demo-backend-run-x", "backend")],
                  "demo-monitoring": [_container("demo-monitoring-prometheus-1", "prometheus", health="",
                                                 image="prom/prometheus", project="demo-monitoring")]}
    containers["demo"][2]["Config"]["Labels"]["com.docker.compose.oneoff"] = "True"
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    answers = tmp_path / "docker.json"
    (bin_dir / "docker").write_text(f"""#!/usr/bin/env python3
import json, sys
answers = json.load(open({str(answers)!r}))
args = sys.argv[1:]
if args[:2] == ["ps", "-aq"]:
    project = args[3].rsplit("=", 1)[1]
    print("\\n".join(c["Name"] for c in answers.get(project, [])))
elif args[0] == "inspect":
    every = {{c["Name"]: c for cs in answers.values() for c in cs}}
    print(json.dumps([every[name] for name in args[1:]]))
else:
    sys.exit("unexpected: " + " ".join(args))
""")
    (bin_dir / "docker").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    class Host:
        cfg = {"project": "demo", "dir": str(stack), "https_host": "127.0.0.1",
               "https_port": listener.getsockname()[1], "server_name": "shop.example",
               "textfile_dir": str(textfiles), "lock_file": str(tmp_path / "lock"), "audit_log": str(audit),
               "audit_entries": 5, "backup_max_age_hours": 26, "cert_min_days": 14, "lock_max_age_minutes": 60,
               "alertmanager_url": f"http://127.0.0.1:{am.server_address[1]}"}

        def write_containers(self):
            answers.write_text(json.dumps(containers))

    host_ = Host()
    host_.containers, host_.alerts, host_.textfiles, host_.audit = containers, alerts, textfiles, audit
    host_.write_containers()
    yield host_
    stop.set()
    am.shutdown()
    listener.close()


def test_a_healthy_host_needs_no_attention(host):
    with open(host.audit, "a") as f:  # a run refused while another held the lock changed nothing
        f.write(json.dumps({"action": "deploy", "version": "1.2.0", "result": "refused (locked)"}) + "\n")
    report = status.collect(host.cfg, now=NOW)
    assert report["attention"] == []
    assert report["release"]["current"] == "1.1.0" and report["release"]["history"] == ["1.0.0", "1.1.0"]
    assert report["services"]["backend"]["healthy"] == 1
    assert len(report["services"]["backend"]["containers"]) == 1, "the one-off container is not a replica"
    assert report["services"]["backend"]["images"] == {"demo-backend:1.1.0": "sha256:" + "ab" * 32}
    assert report["monitoring"]["prometheus"]["healthy"] == 1, "no health check: running is healthy"
    assert report["backup"]["size_bytes"] == 123456 and 3590 < report["backup"]["age_seconds"] < 3610
    assert report["restore_drill"]["passed"] is True
    assert 59 < report["certificate"]["days_left"] <= 60.1
    assert report["alerts"] == [] and report["lock"] is None
    text = status.text(report)
    assert text.splitlines()[-1] == "all good" and "backend" in text and "1.1.0" in text


def test_each_problem_is_named_and_makes_the_exit_status_1(host, capsys):
    host.containers["demo"][0]["State"]["Health"]["Status"] = "unhealthy"
    del host.containers["demo"][1]  # postgres gone
    host.write_containers()
    (host.textfiles / "demo_pg_backup.prom").write_text(
        f'pg_backup_last_success_timestamp_seconds{{project="demo"}} {NOW - 30 * 3600:.0f}\n'
        f'pg_backup_last_failure_timestamp_seconds{{project="demo"}} {NOW - 60:.0f}\n')
    (host.textfiles / "demo_pg_restore_drill.prom").write_text(
        f'pg_backup_restore_drill_last_status{{project="demo"}} 0\n'
        f'pg_backup_restore_drill_last_run_timestamp_seconds{{project="demo"}} {NOW:.0f}\n')
    started = datetime.datetime.fromtimestamp(NOW - 7200, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    with open(host.cfg["lock_file"], "w") as f:
        json.dump({"action": "deploy", "version": "1.2.0", "user": "ops", "controller": "laptop", "started": started}, f)
    with open(host.audit, "a") as f:
        f.write(json.dumps({"action": "rollback", "version": "1.0.0", "result": "failed", "message": "boom",
                            "time": "2026-12-07T11:00:00Z"}) + "\n")
    host.alerts.extend([{"labels": {"alertname": "Watchdog", "severity": "none"}},
                        {"labels": {"alertname": "BackendDown", "severity": "critical"}}])
    cfg = dict(host.cfg, cert_min_days=90)
    attention = status.collect(cfg, now=NOW)["attention"]
    assert attention == [
        "demo-backend-1 is running (unhealthy)",
        "postgres has no container",
        "last good backup: 1.2 d ago (more than 26 h)",
        f"the last backup run failed ({status._iso(NOW - 60)})",
        f"the last restore drill failed ({status._iso(NOW)})",
        attention[5],
        f"the operation lock is held since {started} by ops@laptop (deploy)",
        "the last operation (rollback 1.0.0, 2026-12-07T11:00:00Z) ended failed: boom",
        "alert firing: BackendDown (critical)",
    ]
    prefix = "the certificate served for shop.example expires in "
    assert attention[5].startswith(prefix) and 59 < float(attention[5][len(prefix):].split()[0]) <= 60.1
    assert status.main(["stack-status", json.dumps(cfg), "json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["summary"][-1] == "needs attention" and "ATTENTION postgres has no container" in report["summary"]


def test_what_cannot_be_read_needs_attention(host):
    (host.textfiles / "demo_pg_backup.prom").unlink()
    (host.textfiles / "demo_pg_restore_drill.prom").unlink()
    cfg = dict(host.cfg, https_port=1, alertmanager_url="http://127.0.0.1:1", dir=host.cfg["dir"] + "-gone")
    report = status.collect(cfg, now=NOW)
    assert report["restore_drill"] is None, "a drill that never ran is shown, not an alarm"
    assert [item.split(":")[0] for item in report["attention"]] == [
        f"no release recorded in {cfg['dir']}/releases/state.json (never deployed?)",
        "no backup has run (no pg_backup metrics)",
        "no certificate read from 127.0.0.1",
        "Alertmanager did not answer at http"]


def test_bad_input_is_refused_with_exit_2(capsys):
    assert status.main(["stack-status", "{}"]) == 2
    assert "missing settings ['project'" in capsys.readouterr().err
    assert status.main(["stack-status", json.dumps({k: 1 for k in status.SETTINGS}), "yaml"]) == 2
    assert status.main(["stack-status"]) == 2
