"""scripts/check-collections.py: `make setup` installs collections from Galaxy only when this script says a
pinned one is missing. ansible-galaxy is replaced by a recorded `collection list --format json` answer."""

import json
import runpy
import subprocess

import pytest
import yaml

from script_loader import ROOT

SCRIPT = ROOT / "scripts" / "check-collections.py"
BUNDLED = "/venv/lib/python3.11/site-packages/ansible_collections"
PROJECT = "/project/collections/ansible_collections"


def _run(monkeypatch, cwd, listing):
    """Run the script in `cwd` with ansible-galaxy answering `listing`; returns the calls it made."""
    calls = []

    def fake_run(cmd, **kwargs):
        calls.append((cmd, kwargs))
        return subprocess.CompletedProcess(cmd, 0, stdout=json.dumps(listing), stderr="")

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(subprocess, "run", fake_run)
    runpy.run_path(str(SCRIPT), run_name="__main__")
    return calls


def _requirements(tmp_path, pins):
    (tmp_path / "requirements.yml").write_text(yaml.safe_dump(
        {"collections": [{"name": name, "version": version} for name, version in pins.items()]}))
    return tmp_path


def test_the_pinned_collections_of_the_project_are_found(monkeypatch, capsys):
    """The project's own requirements.yml, every pin installed (the bundled set plus unrelated ones)."""
    pins = {c["name"]: c["version"] for c in yaml.safe_load((ROOT / "requirements.yml").read_text())["collections"]}
    listing = {BUNDLED: {"amazon.aws": {"version": "10.1.2"}, **{n: {"version": v} for n, v in pins.items()}}}
    calls = _run(monkeypatch, ROOT, listing)
    assert [cmd for cmd, _ in calls] == [["ansible-galaxy", "collection", "list", "--format", "json"]]
    assert calls[0][1]["check"] is True
    out = capsys.readouterr().out
    assert out == "collections ok: " + ", ".join(f"{n} {v}" for n, v in pins.items()) + "\n"


@pytest.mark.parametrize("paths", [(BUNDLED, PROJECT), (PROJECT, BUNDLED)])
def test_a_pin_installed_in_any_collections_path_counts(tmp_path, monkeypatch, capsys, paths):
    """ansible-galaxy lists each path; the bundled 4.0.0 does not hide 4.8.5 installed into collections/,
    whichever path comes first."""
    cwd = _requirements(tmp_path, {"community.docker": "4.8.5"})
    versions = {BUNDLED: "4.0.0", PROJECT: "4.8.5"}
    _run(monkeypatch, cwd, {path: {"community.docker": {"version": versions[path]}} for path in paths})
    assert capsys.readouterr().out == "collections ok: community.docker 4.8.5\n"


def test_missing_or_other_versions_fail_and_are_named(tmp_path, monkeypatch, capsys):
    cwd = _requirements(tmp_path, {"community.docker": "4.8.5", "ansible.posix": "2.1.0", "community.crypto": "3.0.5"})
    with pytest.raises(SystemExit) as exit_info:
        _run(monkeypatch, cwd, {BUNDLED: {"community.docker": {"version": "4.0.0"}, "ansible.posix": {"version": "2.1.0"}}})
    assert exit_info.value.code == 1
    assert capsys.readouterr().out == "missing collections: community.docker:4.8.5 community.crypto:3.0.5\n"


def test_a_failing_listing_is_not_taken_for_success(tmp_path, monkeypatch):
    """When ansible-galaxy itself fails the script must exit non-zero (setup then tries Galaxy)."""
    cwd = _requirements(tmp_path, {"community.docker": "4.8.5"})

    def failing(cmd, **kwargs):
        assert kwargs.get("check") is True
        raise subprocess.CalledProcessError(1, cmd)

    monkeypatch.chdir(cwd)
    monkeypatch.setattr(subprocess, "run", failing)
    with pytest.raises(subprocess.CalledProcessError):
        runpy.run_path(str(SCRIPT), run_name="__main__")
