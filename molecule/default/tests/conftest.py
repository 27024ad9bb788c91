"""Helpers for checking the Molecule host from the controller, over its real network address."""

import http.client
import json
import socket
import ssl
import subprocess
from pathlib import Path

import pytest

# Measured figures, next to e2e's (testinfra's -v output does not show prints).
REPORTS = Path(__file__).resolve().parents[3] / ".cache" / "reports"


@pytest.fixture(scope="module")
def host_ip(host):
    """The test host's address on the scenario network (what 'outside the host' sees)."""
    # Asked from the controller: a minimal host has no `ip`, and its nested engine adds more addresses.
    name = host.backend.get_hostname()
    return subprocess.check_output(
        ["docker", "inspect", "-f", '{{(index .NetworkSettings.Networks "deployer-molecule").IPAddress}}', name],
        text=True).strip()


def insecure_context():
    """TLS client context that accepts the stack's self-signed certificate (no ACME in tests)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def https(ip, method, path, body=None, timeout=10, name="localhost", headers=None):
    """One request to ip:443 with Host: `name` (no SNI: the client connects by address)."""
    conn = http.client.HTTPSConnection(ip, 443, context=insecure_context(), timeout=timeout)
    try:
        headers = {"Host": name, **(headers or {})}
        if body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


# Python, not curl: the minimal host has no curl.
GET = 'python3 -c "import sys, urllib.request; sys.stdout.write(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())"'


def local_json(host, path, port=9090):
    """GET http://127.0.0.1:<port><path> on the host (the monitoring set listens on its loopback only), as JSON."""
    return json.loads(host.check_output(f"{GET} http://127.0.0.1:{port}{path}"))


def port_open(ip, port, timeout=3):
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((ip, port)) == 0


# A webhook receiver for Alertmanager (molecule.yml routes every alert to it): Node.js from the image set the host
# already has, printing each notification's JSON on one line of its log.
RECORDER = ("require('http').createServer((q, s) => { let b = ''; q.on('data', c => b += c); "
            "q.on('end', () => { console.log(b.replace(/\\n/g, ' ')); s.end(); }); }).listen(8080)")


@pytest.fixture(scope="module")
def alert_recorder(host):
    """Starts the recorder as `alert-recorder` on the monitoring set's egress network; yields a function that
    returns the notifications received so far: [(status, alertname, labels)], one per alert per notification."""
    image = host.check_output("docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(deployer/)?node:' | head -n1")
    host.run("docker rm -f alert-recorder")
    host.check_output(f"docker run -d --name alert-recorder --network demo-monitoring_egress --read-only --cap-drop ALL "
                      f"--user 65534:65534 --memory 64m {image} node -e \"{RECORDER}\"")

    def received():
        out = host.check_output("docker logs alert-recorder 2>/dev/null")
        return [(alert["status"], alert["labels"].get("alertname"), alert["labels"])
                for line in out.splitlines() if line.startswith("{")
                for alert in json.loads(line)["alerts"]]
    yield received
    host.run("docker rm -f alert-recorder")


def report(name, data):
    """Writes a measured figure to .cache/reports/molecule-<name>.json (and prints it)."""
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"molecule-{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"\n[report] {name}: {json.dumps(data)}")


def wait_until(check, seconds, step=2):
    """Polls check() until it returns something true; returns (value, seconds waited) or fails with the last value."""
    import time

    start = time.monotonic()
    while True:
        value = check()
        if value:
            return value, time.monotonic() - start
        if time.monotonic() - start > seconds:
            raise AssertionError(f"not within {seconds} s")
        time.sleep(step)
