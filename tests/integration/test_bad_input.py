"""Bad inventory values fail in the deploy's pre-flight, before any change, naming the variable.

Each case runs `playbooks/deploy.yml -i local` with one bad extra var against a project that does not
exist yet: a green play or any `changed` task is a failure of the check."""

import json
import re
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PROJECT = "badinput"
DEFAULT_SERVICES = yaml.safe_load((ROOT / "roles/stack/defaults/main.yml").read_text())["stack_services"]

CASES = [
    # (extra vars, what the message must name)
    ({"compose_stack_backend_memory": "lots"}, "compose_stack_backend_memory"),
    ({"compose_stack_postgres_cpus": "-1"}, "compose_stack_postgres_cpus"),
    ({"compose_stack_redis_memory": "256m\nprivileged: true"}, "compose_stack_redis_memory"),
    ({"compose_stack_postgres_password": "change-me"}, "compose_stack_postgres_password"),
    ({"compose_stack_redis_password": "short"}, "compose_stack_redis_password"),
    ({"compose_stack_redis_password": "has a space in the middle"}, "compose_stack_redis_password"),
    ({"compose_stack_db_runtime_password": "Password"}, "compose_stack_db_runtime_password"),
    ({"compose_stack_rotate_secrets": ["mysql"]}, "compose_stack_rotate_secrets"),
    ({"compose_stack_db_runtime_user": "app_migrator"}, "compose_stack_db_runtime_user"),
    ({"compose_stack_db_migrator_user": "app; DROP ROLE app"}, "compose_stack_db_migrator_user"),
    ({"compose_stack_keep_releases": 1}, "compose_stack_keep_releases"),
    ({"stack_project": "Bad Name"}, "stack_project"),
    ({"stack_release": "1.0/../../x"}, "stack_release"),
    ({"stack_services": DEFAULT_SERVICES + [{"name": "worker", "image": "backend", "port": 8081, "uid": 10001,
                                              "memory": "lots"}]}, "stack_services[worker].memory"),
]


def _run(extra):
    variables = {"stack_project": PROJECT, **extra}
    proc = subprocess.run(["ansible-playbook", "playbooks/deploy.yml", "-i", "local", "-e", json.dumps(variables)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    recap = dict(re.findall(r"\b(changed|failed)=(\d+)", out.split("PLAY RECAP")[-1]))
    return proc.returncode, out, recap


@pytest.fixture(scope="module")
def results(docker_available):
    # Two at a time: each run is mostly Ansible start-up and fact gathering.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda case: _run(case[0]), CASES))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[next(iter(c[0])) for c in CASES])
def test_bad_value_fails_before_any_change_naming_the_variable(results, index):
    rc, out, recap = results[index]
    flat = " ".join(out.split())
    assert rc != 0, out[-2000:]
    assert recap.get("changed") == "0", out[-3000:]
    assert CASES[index][1] in flat, out[-3000:]
    assert not Path(f"/opt/{PROJECT}").exists()
