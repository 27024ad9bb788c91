"""Render role templates with Ansible's own templating engine, without running a play.

Role defaults are loaded and trusted like Ansible does, so `{{ ... }}` inside defaults
resolve lazily; role filter plugins are registered so templates using them render.
"""

from pathlib import Path

import yaml
from ansible.parsing.dataloader import DataLoader
from ansible.plugins.loader import filter_loader, init_plugin_loader
from ansible.template import Templar, trust_as_template

# Collections (ansible.builtin included) become importable, so templates may use lookups as in a play.
init_plugin_loader()

ROOT = Path(__file__).resolve().parents[2]
ROLES = ROOT / "roles"


def _trust(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trust(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trust(v) for v in value]
    return value


def role_defaults(role):
    """defaults/main.yml, then vars/main.yml on top (as Ansible's precedence has it)."""
    merged = {}
    for part in ("defaults", "vars"):
        path = ROLES / role / part / "main.yml"
        if path.exists():
            merged.update(yaml.safe_load(path.read_text()) or {})
    return merged


def templar(roles, extra_vars=None):
    """A Templar over the defaults of `roles` (later roles win) plus `extra_vars`."""
    variables = {
        "ansible_managed": "Ansible managed",
        "inventory_hostname": "testhost",
        "inventory_dir": "/srv/inventory",
        "playbook_dir": str(ROOT / "playbooks"),
    }
    for role in roles:
        plugins = ROLES / role / "filter_plugins"
        if plugins.is_dir():
            filter_loader.add_directory(str(plugins))
        variables.update(role_defaults(role))
        variables["role_path"] = str(ROLES / role)
    variables.update(extra_vars or {})
    return Templar(loader=DataLoader(), variables=_trust(variables))


def render(role, template, extra_vars=None, roles=None):
    """Render roles/<role>/templates/<template> and return the text."""
    text = (ROLES / role / "templates" / template).read_text()
    return templar(roles or [role], extra_vars).template(trust_as_template(text))


def play_vars(playbook):
    """The `vars_files:` and `vars:` of the first play of playbooks/<playbook>: the wiring between the roles."""
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    variables = {}
    for name in plays[0].get("vars_files") or []:
        variables.update(yaml.safe_load((ROOT / "playbooks" / name).read_text()))
    variables.update(plays[0].get("vars") or {})
    return variables
