"""Conventions every role follows (issue 13), checked on the files themselves:

- every default is named <role>_..., documented in an entry point's argument spec, and used by the role;
- every option of the argument specs is a default (or a required input of that entry point);
- internal variables (vars/, set_fact, register) are named <role>__... and nothing else;
- a spec's literal default equals the value in defaults/main.yml.
"""

import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
ROLES = sorted(p.name for p in (ROOT / "roles").iterdir() if (p / "meta" / "argument_specs.yml").is_file())


def _load(path):
    return yaml.safe_load(path.read_text()) or {} if path.is_file() else {}


def _tasks(role):
    """Every task (blocks flattened) of every tasks/ and handlers/ file of the role."""
    def walk(items):
        for task in items or []:
            yield task
            for key in ("block", "rescue", "always"):
                yield from walk(task.get(key))
    for folder in ("tasks", "handlers"):
        for path in sorted((ROOT / "roles" / role / folder).glob("*.yml")):
            yield from walk(yaml.safe_load(path.read_text()))


def _role_text(role):
    """Everything the role runs: tasks, handlers, templates, vars (not defaults, meta or docs)."""
    base = ROOT / "roles" / role
    parts = []
    # The Dockerfile templates live at the top level (templates/dockerfiles), read by container_images.
    folders = [base / f for f in ("tasks", "handlers", "templates", "vars", "filter_plugins", "files")]
    for folder in folders + ([ROOT / "templates"] if role == "container_images" else []):
        for path in sorted(folder.rglob("*")) if folder.is_dir() else []:
            if path.is_file():
                parts.append(path.read_text(errors="replace"))
    return "\n".join(parts)


@pytest.mark.parametrize("role", ROLES)
def test_defaults_are_prefixed_documented_and_used(role):
    defaults = _load(ROOT / "roles" / role / "defaults" / "main.yml")
    specs = _load(ROOT / "roles" / role / "meta" / "argument_specs.yml").get("argument_specs", {})
    assert "main" in specs, f"{role}: no argument spec for the main entry point"
    documented = {name for spec in specs.values() for name in spec.get("options") or {}}
    text = _role_text(role) + "\n".join(str(v) for v in defaults.values())
    for name in defaults:
        assert name.startswith(role + "_") and not name.startswith(role + "__"), f"{role}: default {name} is not <role>_*"
        assert name in documented, f"{role}: default {name} is in no entry point of meta/argument_specs.yml"
        assert re.search(rf"\b{name}\b", text), f"{role}: default {name} is never used"


@pytest.mark.parametrize("role", ROLES)
def test_spec_options_match_defaults(role):
    defaults = _load(ROOT / "roles" / role / "defaults" / "main.yml")
    specs = _load(ROOT / "roles" / role / "meta" / "argument_specs.yml").get("argument_specs", {})
    for entry, spec in specs.items():
        for name, option in (spec.get("options") or {}).items():
            assert name.startswith(role + "_"), f"{role}.{entry}: option {name} is not <role>_*"
            assert name in defaults or option.get("required"), (
                f"{role}.{entry}: option {name} is neither a default nor required")
            literal = option.get("default")
            if literal is not None and name in defaults and "{{" not in str(defaults[name]):
                assert literal == defaults[name], f"{role}: spec default of {name} differs from defaults/main.yml"


@pytest.mark.parametrize("role", ROLES)
def test_internal_variables_use_one_style(role):
    names = set(_load(ROOT / "roles" / role / "vars" / "main.yml"))
    for task in _tasks(role):
        if "register" in task:
            names.add(task["register"])
        for module in ("ansible.builtin.set_fact", "set_fact"):
            if isinstance(task.get(module), dict):
                names.update(k for k in task[module] if k != "cacheable")
    # Outputs other roles and plays read are documented in the README as results, and named <role>_*.
    readme = (ROOT / "roles" / role / "README.md").read_text()
    for name in sorted(names):
        if name.startswith(role + "__"):
            continue
        assert name.startswith(role + "_") and f"`{name}`" in readme, (
            f"{role}: internal variable {name} must be named {role}__* (or be a documented output)")


@pytest.mark.parametrize("role", ROLES)
def test_internal_vars_are_used(role):
    internal = _load(ROOT / "roles" / role / "vars" / "main.yml")
    text = _role_text(role)
    for name in internal:
        assert len(re.findall(rf"\b{name}\b", text)) > 1, f"{role}: vars/main.yml defines {name} but nothing uses it"


def _playbook_role_uses():
    """(playbook, role, tags) for every role a playbook applies (roles: entries and include/import_role)."""
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()) or []:
            for entry in play.get("roles") or []:
                entry = {"role": entry} if isinstance(entry, str) else entry
                yield path.name, entry["role"], entry.get("tags") or []
            for section in ("pre_tasks", "tasks", "post_tasks"):
                for task in _flatten(play.get(section) or []):
                    for module in ("ansible.builtin.include_role", "ansible.builtin.import_role"):
                        if module in task:
                            yield path.name, task[module]["name"], task.get("tags") or []


def _flatten(tasks):
    """The tasks of a list, those in blocks (block, rescue, always) included."""
    for task in tasks:
        yield task
        for part in ("block", "rescue", "always"):
            yield from _flatten(task.get(part) or [])


def test_playbooks_tag_each_role_with_its_name():
    uses = list(_playbook_role_uses())
    assert {role for _, role, _ in uses} >= set(ROLES) - {"cron_daemon"}  # cron_daemon: pulled in by roles
    for playbook, role, tags in uses:
        # The contract is validated and read by every run, whatever --tags selects.
        wanted = "always" if role == "stack" else role
        assert wanted in tags, f"{playbook}: role {role} is not tagged {wanted} (ansible-playbook --tags {role})"


def test_playbooks_set_no_unprefixed_inputs():
    """Play-level knobs are role variables (validated by the role's spec), not free names such as rollback_to."""
    roles = tuple(r + "_" for r in ROLES) + ("ansible_",)  # ansible_*: connection variables, not knobs
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        text = path.read_text()
        for name in re.findall(r"\b([a-z][a-z0-9_]*)\s*\|\s*default\(", text):
            assert name.startswith(roles), f"{path.name}: reads the unprefixed variable {name}"
