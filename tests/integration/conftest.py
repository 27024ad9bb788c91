"""Fixtures for the image build tests: a temporary inventory for this machine's engine, copies of
the demo application and a runner."""

import getpass
import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = ROOT / ".venv" / "bin"
DEMO = ROOT / "files" / "demo-app"
EXTRA_CA = "/etc/ssl/certs/ca-certificates.crt"

# ansible_user: Mitogen skips `become` only when it is told the connection already runs as the target user
# (Ansible's own strategy finds out by itself); root on a machine without sudo would fail otherwise.
INVENTORY = f"""\
all:
  children:
    app_servers:
      hosts:
        localhost:
          ansible_connection: local
          ansible_user: {getpass.getuser()}
          ansible_python_interpreter: "{{{{ ansible_playbook_python }}}}"
"""


@pytest.fixture(scope="session")
def docker_available():
    if shutil.which("docker") is None or subprocess.run(["docker", "info"], capture_output=True).returncode != 0:
        pytest.skip("no Docker engine")


@pytest.fixture(scope="session")
def workspace(tmp_path_factory, docker_available):
    """Inventory, source copies and build dir in one temp directory."""
    base = tmp_path_factory.mktemp("images")
    (base / "inventory.yml").write_text(INVENTORY)
    frontend, backend = base / "src" / "frontend", base / "src" / "backend"
    ignore = shutil.ignore_patterns("node_modules", "dist", "target")
    shutil.copytree(DEMO / "frontend", frontend, ignore=ignore)
    shutil.copytree(DEMO / "backend", backend, ignore=ignore)
    return {"base": base, "frontend": frontend, "backend": backend, "build": base / "build"}


@pytest.fixture(scope="session")
def run_images(workspace):
    """Run playbooks/images.yml; returns (returncode, output, seconds)."""
    app_name = os.environ.get("IMAGES_TEST_APP_NAME", "itest")
    extra = {
        "container_images_app_name": app_name,
        "container_images_app_version": "1.0.0",
        "container_images_flavor": os.environ.get("IMAGES_TEST_FLAVOR", "auto"),
        "container_images_frontend_src": str(workspace["frontend"]),
        "container_images_backend_src": str(workspace["backend"]),
        "container_images_build_dir": str(workspace["build"]),
        "container_images_extra_ca_bundle": EXTRA_CA if Path(EXTRA_CA).is_file() else "",
    }

    def run(*args):
        cmd = [str(VENV_BIN / "ansible-playbook"), "playbooks/images.yml", "-i", str(workspace["base"] / "inventory.yml"),
               "-e", __import__("json").dumps(extra), *args]
        env = {**os.environ, "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_NOCOLOR": "1",
               "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}"}
        started = time.monotonic()
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
        return proc.returncode, proc.stdout + proc.stderr, time.monotonic() - started

    run.app_name = app_name
    return run
