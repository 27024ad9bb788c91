"""Deploy the demo stack with the README's main job and give tests a way to reach it."""

import datetime
import http.client
import json
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
STACK_DIR = "/opt/demo"
REPORTS = ROOT / ".cache" / "reports"


def ansible_playbook(*args, check=True):
    """Run ansible-playbook from the repo root; return (returncode, output, recap dict)."""
    proc = subprocess.run(["ansible-playbook", *args], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    out = proc.stdout + proc.stderr
    recap = {k: int(v) for k, v in re.findall(r"\b(ok|changed|unreachable|failed|skipped|rescued|ignored)=(\d+)", out.split("PLAY RECAP")[-1])}
    if check and proc.returncode != 0:
        raise AssertionError(f"ansible-playbook {' '.join(args)} failed:\n{out[-6000:]}")
    return proc.returncode, out, recap


def compose(*args):
    return subprocess.run(["docker", "compose", "--project-directory", STACK_DIR, *args],
                          capture_output=True, text=True, check=True, timeout=600).stdout


def _context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the local stack uses a self-signed certificate
    return ctx


def request(method, path, body=None, headers=None, timeout=10, port=443):
    """One HTTPS request to the local edge on a fresh connection: (status, headers, body)."""
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=_context(), timeout=timeout)
    try:
        hdrs = {"Host": "localhost", **(headers or {})}
        if body is not None:
            body = json.dumps(body)
            hdrs["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=hdrs)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def _utc_now():
    """Wall-clock time to the millisecond, to find a failed request in the containers' logs."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%H:%M:%S.%f")[:-3]


@dataclass
class Load:
    """Paced background traffic (page + API reads) that counts what failed. An API path answered by anything
    but the API (not JSON: the SPA's index.html, say) reached the wrong service and counts as failed."""

    rate: float = 10.0
    paths: tuple = ("/api/items", "/", "/api/info")
    ok: int = 0
    failures: list = field(default_factory=list)
    successes: list = field(default_factory=list)  # monotonic times of answered requests
    failure_times: list = field(default_factory=list)  # monotonic times of failed ones
    _stop: threading.Event = field(default_factory=threading.Event)

    def _run(self):
        paths = self.paths
        i = 0
        deadline = time.monotonic() + 900  # hard bound, whatever happens to the test
        while not self._stop.is_set() and time.monotonic() < deadline:
            started = time.monotonic()
            path = paths[i % len(paths)]
            i += 1
            try:
                status, headers, _ = request("GET", path, timeout=10)
                if status != 200:
                    failure = f"{path}: HTTP {status}"
                elif path.startswith("/api/") and "json" not in headers.get("content-type", ""):
                    failure = f"{path}: answered by another service ({headers.get('content-type')})"
                else:
                    failure = None
                    self.ok += 1
                    self.successes.append(time.monotonic())
            except Exception as exc:  # noqa: BLE001 - every failure counts
                failure = f"{path}: {type(exc).__name__}: {exc}"
            if failure:
                self.failures.append(f"{failure} at {_utc_now()}")
                self.failure_times.append(time.monotonic())
            time.sleep(max(0.0, 1.0 / self.rate - (time.monotonic() - started)))

    @property
    def longest_gap(self):
        """Longest time between two answered requests, in seconds: the outage a user saw."""
        gaps = [b - a for a, b in zip(self.successes, self.successes[1:])]
        return round(max(gaps, default=0.0), 2)

    def __enter__(self):
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        time.sleep(1)
        return self

    def __exit__(self, *exc):
        time.sleep(1)
        self._stop.set()
        self._thread.join(timeout=30)


def prometheus(expr):
    """The result vector of `expr` from the monitoring set's Prometheus (published on loopback)."""
    url = "http://127.0.0.1:9090/api/v1/query?query=" + urllib.parse.quote(expr)
    return json.load(urllib.request.urlopen(url, timeout=10))["data"]["result"]


def report(name, data):
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.json").write_text(json.dumps(data, indent=2) + "\n")
    print(f"\n[report] {name}: {json.dumps(data)}")


@pytest.fixture(scope="session")
def deployed():
    """The README's main job: site.yml on the local inventory."""
    started = time.monotonic()
    _, out, recap = ansible_playbook("site.yml", "-i", "local")
    report("deploy-local", {"seconds": round(time.monotonic() - started, 1), "recap": recap})
    yield out
    if not os.environ.get("KEEP_STACK"):
        compose("down")  # volumes stay, as after `make down`
