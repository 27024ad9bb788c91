"""Per-container metrics on the deployed local stack: cAdvisor names every container of the stack with its
Compose service, its memory limit is the one Docker enforces, a restart shows as a new start time (what
ContainerRestarting counts), and the Docker API it reads through lets nothing but those reads pass."""

import json
import subprocess
import time

import pytest

from conftest import compose, prometheus

pytestmark = pytest.mark.e2e

NETWORK = "demo-monitoring_docker-api"  # cAdvisor's and the proxy's network (internal)
# Each request through the proxy, from a container on its network: method, path, status expected.
PROBE = """
const http = require('http');
const checks = JSON.parse(process.argv[1]);
(async () => {
  for (const [method, path] of checks) {
    const status = await new Promise((done) => {
      const req = http.request({host: 'docker-api', port: 2375, method, path, timeout: 5000}, (res) => {
        res.resume(); done(res.statusCode); });
      req.on('error', (e) => done(String(e)));
      req.end(method === 'POST' ? '{}' : undefined);
    });
    console.log(JSON.stringify([method, path, status]));
  }
})();
"""


def _eventually(read, seconds=90):
    deadline, last = time.time() + seconds, None
    while time.time() < deadline:
        last = read()
        if last:
            return last
        time.sleep(3)
    raise AssertionError(f"not within {seconds} s: {last!r}")


def _inspect(name, template):
    return subprocess.check_output(["docker", "inspect", "-f", template, name], text=True).strip()


def test_every_service_of_the_stack_is_measured_under_its_compose_name(deployed):
    stack = {"edge", "frontend", "backend", "postgres", "redis"}

    def measured():
        series = prometheus('container_memory_working_set_bytes{container_label_com_docker_compose_project="demo"}')
        return {r["metric"]["container_label_com_docker_compose_service"] for r in series} >= stack
    _eventually(measured)
    cpu = _eventually(lambda: prometheus(
        'rate(container_cpu_usage_seconds_total{container_label_com_docker_compose_project="demo",container_label_com_docker_compose_service="backend"}[1m]) > 0'))
    assert all(float(r["value"][1]) < 2 for r in cpu)  # cores, on a 2-core machine
    # The limit cAdvisor reports is the one Docker enforces on the backend.
    backend = compose("ps", "-q", "backend").split()[0]
    name = _inspect(backend, "{{.Name}}").lstrip("/")
    limit = prometheus(f'container_spec_memory_limit_bytes{{name="{name}"}}')
    assert [float(r["value"][1]) for r in limit] == [float(_inspect(backend, "{{.HostConfig.Memory}}"))]


def test_a_restart_shows_as_a_new_start_time(deployed):
    name = "demo-monitoring-nginx-exporter-1"  # harmless to restart: nothing depends on it
    before = _eventually(lambda: prometheus(f'container_start_time_seconds{{name="{name}"}}'))[0]["value"][1]
    subprocess.run(["docker", "restart", name], check=True, capture_output=True, timeout=60)
    started = _inspect(name, "{{.State.StartedAt}}")
    after = _eventually(lambda: [r for r in prometheus(f'container_start_time_seconds{{name="{name}"}}')
                                 if r["value"][1] != before])
    assert float(after[0]["value"][1]) > float(before)
    changes = _eventually(lambda: prometheus(f'changes(container_start_time_seconds{{name="{name}"}}[10m]) >= 1'))
    assert changes, started


def test_the_docker_api_proxy_passes_only_what_cadvisor_reads(deployed):
    backend = compose("ps", "-q", "--no-trunc", "backend").split()[0]
    checks = {("GET", "/_ping"): 200, ("GET", "/v1.41/version"): 200, ("GET", "/info"): 200,
              ("GET", f"/containers/{backend}/json"): 200,
              ("GET", f"/containers/{backend}/json?size=1"): 403, ("GET", "/containers/json"): 403,
              ("GET", "/images/json"): 403, ("POST", "/containers/create"): 403,
              ("POST", f"/containers/{backend}/exec"): 403, ("GET", f"/containers/{backend}/logs?stdout=1"): 403,
              ("POST", f"/containers/{backend}/stop"): 403, ("DELETE", f"/containers/{backend}"): 403,
              ("GET", "/containers/demo-backend-1/json"): 403, ("GET", f"/containers/{backend}/../../images/json"): 403}
    node = subprocess.check_output("docker images --format '{{.Repository}}:{{.Tag}}' | grep -E '^(deployer/)?node:' "
                                   "| head -n1", shell=True, text=True).strip()
    out = subprocess.run(["docker", "run", "--rm", "--network", NETWORK, "--user", "65534:65534", "--memory", "64m", node,
                          "node", "-e", PROBE, json.dumps([list(k) for k in checks])],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    got = {tuple(json.loads(line)[:2]): json.loads(line)[2] for line in out.stdout.splitlines()}
    assert got == checks
