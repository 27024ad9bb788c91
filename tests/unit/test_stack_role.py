"""The stack role on this machine (it only validates, so no engine is needed): a bad contract fails
before any other role runs, naming the variable; the default contract passes."""

import json
import os
import subprocess

import pytest

from ansible_render import ROOT, role_defaults

PLAYBOOK = "- hosts: localhost\n  gather_facts: false\n  roles: [stack]\n"


def run(tmp_path, contract):
    (tmp_path / "play.yml").write_text(PLAYBOOK)
    (tmp_path / "vars.json").write_text(json.dumps(contract))
    proc = subprocess.run(
        [str(ROOT / ".venv" / "bin" / "ansible-playbook"), "-i", "localhost,", "-c", "local",
         str(tmp_path / "play.yml"), "-e", f"@{tmp_path / 'vars.json'}"],
        capture_output=True, text=True, timeout=120, cwd=ROOT,
        env={**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1"})
    return proc.returncode, " ".join((proc.stdout + proc.stderr).split())


def _services(**changes):
    services = role_defaults("stack")["stack_services"]
    return [{**svc, **changes.get(svc["name"], {})} for svc in services]


def test_default_contract_passes(tmp_path):
    rc, out = run(tmp_path, {})
    assert rc == 0, out[-2000:]


@pytest.mark.parametrize("contract, named", [
    ({"stack_project": "Shop Site"}, "stack_project"),
    ({"stack_dir": "relative/dir"}, "stack_dir"),
    ({"stack_release": "1.0 beta"}, "stack_release"),
    ({"stack_domains": ["bad name"]}, "stack_domains"),
    ({"stack_services": _services(backend={"port": 70000})}, "stack_services"),
    ({"stack_services": _services(backend={"uid": 0})}, "stack_services"),
    ({"stack_services": _services()[1:]}, "stack_services"),  # no edge
    ({"stack_services": _services() + [{"name": "worker", "image": "nope", "port": 1, "uid": 1}]}, "stack_services"),
])
def test_bad_contract_fails_naming_the_variable(tmp_path, contract, named):
    rc, out = run(tmp_path, contract)
    assert rc != 0 and "The stack contract is invalid" in out and named in out, out[-2000:]


def test_a_management_port_on_the_routed_port_fails_naming_the_service(tmp_path):
    rc, out = run(tmp_path, {"stack_services": _services(backend={"management_port": 8080})})
    assert rc != 0 and "stack_services[backend].management_port" in out, out[-2000:]
