"""Which password each server gets (compose_stack's choose_secret filter) and how a change reaches the
containers (the secrets digest label on the services that read them)."""

import json
import sys

import pytest

from ansible.template import trust_as_template

from ansible_render import ROLES, role_defaults, templar
from test_compose_stack import PASSWORDS, _render

sys.path.insert(0, str(ROLES / "compose_stack" / "filter_plugins"))
from stack_filters import choose_secret, host_passwords  # noqa: E402

FRESH = "f" * 40


@pytest.mark.parametrize("sources,rotate,expected", [
    # A new host and a new controller: a fresh value.
    ({}, False, ("fresh", FRESH, False)),
    # A controller that lost its store (fresh clone, CI runner) adopts what the host runs.
    ({"host": "h" * 40}, False, ("host", "h" * 40, False)),
    # The host wins over a store that disagrees with it: the data was created with the host's value.
    ({"host": "h" * 40, "stored": "s" * 40}, False, ("host", "h" * 40, False)),
    # A rebuilt host (no secrets yet) gets the controller's copy.
    ({"stored": "s" * 40}, False, ("stored", "s" * 40, False)),
    # An explicit (vaulted) value that differs from the host's is a rotation.
    ({"explicit": "e" * 40, "host": "h" * 40}, False, ("explicit", "e" * 40, True)),
    ({"explicit": "h" * 40, "host": "h" * 40}, False, ("explicit", "h" * 40, False)),
    # compose_stack_rotate_secrets asks for a fresh value.
    ({"host": "h" * 40, "stored": "h" * 40}, True, ("rotation", FRESH, True)),
    # ...which is no rotation on a host that has nothing yet.
    ({}, True, ("rotation", FRESH, False)),
])
def test_choose_secret(sources, rotate, expected):
    chosen = choose_secret({**sources, "fresh": FRESH}, rotate)
    assert (chosen["source"], chosen["value"], chosen["rotated"]) == expected


def test_choose_secret_ignores_surrounding_whitespace():
    assert choose_secret({"host": "h" * 40 + "\n", "fresh": FRESH})["value"] == "h" * 40


@pytest.mark.parametrize("fresh", [None, "", "  "])
def test_choose_secret_needs_a_fresh_value(fresh):
    """Without a fresh random value a new host would get no password at all: refused, whatever else is known."""
    with pytest.raises(ValueError, match="needs a fresh random value"):
        choose_secret({"host": "h" * 40, "stored": "s" * 40, "fresh": fresh})


def test_secret_consumers_are_labelled_with_a_digest_not_the_password():
    doc, text = _render()
    label = doc["services"]["backend"]["labels"]["io.deployer.secrets"]
    assert len(label) == 16 and all(p not in text for p in PASSWORDS.values())
    # PostgreSQL reads its password only at initdb: a rotation changes it live (ALTER ROLE), never restarts it.
    assert all("io.deployer.secrets" not in doc["services"][name].get("labels", {}) for name in ("postgres", "edge", "frontend"))


@pytest.mark.parametrize("changed, recreated", [("redis", True), ("postgres", False), ("db_runtime", False)])
def test_redis_is_recreated_only_when_its_own_password_changes(changed, recreated):
    # Its container keeps seeing the replaced file's old inode, where its health check reads the password.
    before = _render()[0]["services"]["redis"]["labels"]["io.deployer.secrets"]
    after = _render(compose_stack__passwords={**PASSWORDS, changed: "n" * 40})[0]["services"]["redis"]
    assert (after["labels"]["io.deployer.secrets"] != before) is recreated


@pytest.mark.parametrize("changed, replaced", [("redis", True), ("db_runtime", True), ("db_migrator", True),
                                               ("postgres", False)])
def test_a_password_change_replaces_only_the_services_that_read_it(changed, replaced):
    """The backend reads the Redis password and the two database roles', never the superuser's: rotating
    that one alone must not replace it."""
    before = _render()[0]["services"]["backend"]["labels"]["io.deployer.secrets"]
    after = _render(compose_stack__passwords={**PASSWORDS, changed: "n" * 40})[0]["services"]["backend"]
    assert (after["labels"]["io.deployer.secrets"] != before) is replaced


@pytest.mark.parametrize("changed, replaced", [("db_runtime", True), ("db_migrator", False), ("redis", False)])
def test_an_added_service_rolls_on_its_own_secrets_only(changed, replaced):
    worker = {"name": "worker", "image": "backend", "port": 8081, "uid": 10001, "rolling": True,
              "secrets": [{"source": "backend_db_password", "target": "spring.datasource.password"}]}
    services = role_defaults("stack")["stack_services"] + [worker]
    before = _render(compose_stack_services=services)[0]["services"]["worker"]["labels"]["io.deployer.secrets"]
    after = _render(compose_stack_services=services,
                    compose_stack__passwords={**PASSWORDS, changed: "n" * 40})[0]["services"]["worker"]
    assert (after["labels"]["io.deployer.secrets"] != before) is replaced


def _secret_files(logins=True):
    return templar(roles=["stack", "compose_stack"], extra_vars={"compose_stack_monitoring_logins": logins,
                                                                  "compose_stack_services": "{{ stack_services }}"}).template(
        trust_as_template("{{ compose_stack__secret_files }}"))


def test_the_host_passwords_are_read_back_from_the_files_the_role_writes():
    table = _secret_files()
    written = [entry.get("format", "%s") % PASSWORDS[entry["password"]] for entry in table]
    assert host_passwords(table, written) == PASSWORDS
    # The exporters' files: a Redis ACL line with no key and no CONFIG, and redis_exporter's JSON map.
    files = dict(zip([entry["name"] for entry in table], written))
    assert files["redis_users"] == ("user monitor on >" + "e" * 40 + " resetkeys resetchannels -@all +ping +info "
                                    "+slowlog|get +slowlog|len +latency|latest +client|list\n")
    assert json.loads(files["monitoring_redis_password"]) == {"redis://redis:6379": "e" * 40}
    assert {entry["name"]: entry.get("uid") for entry in table if entry["reader"] == "monitoring"} == {
        "monitoring_db_password": 65534, "monitoring_redis_password": 65534}
    assert [entry["password"] for entry in _secret_files(logins=False)] == ["postgres", "redis", "db_runtime", "db_migrator", "redis"]


def test_a_host_from_before_the_database_roles_gets_new_ones_not_the_superusers_password():
    # The single-role layout: the application read the superuser's password, and had no migrator file.
    table = _secret_files(logins=False)
    old = {"postgres_password": "p" * 40, "redis_conf": "requirepass " + "r" * 40 + "\n",
           "backend_db_password": "p" * 40, "backend_redis_password": "r" * 40}
    found = host_passwords(table, [old.get(entry["name"], "") for entry in table])
    assert found == {"postgres": "p" * 40, "redis": "r" * 40, "db_runtime": "", "db_migrator": ""}


def test_a_missing_or_unparsable_file_is_no_password():
    table = [{"password": "redis", "parse": "^requirepass (\\S+)$"}, {"password": "postgres"}]
    assert host_passwords(table, ["port 6379\n", ""]) == {"redis": "", "postgres": ""}


def test_what_the_running_server_reads_wins_over_a_replaced_file():
    table = _secret_files()
    files = [entry.get("format", "%s") % PASSWORDS[entry["password"]] for entry in table]
    running = {"redis_conf": "requirepass " + "o" * 40 + "\n"}
    assert host_passwords(table, files, running)["redis"] == "o" * 40
    # A running file without the password (or none at all) leaves the host's file to decide.
    assert host_passwords(table, files, {"redis_conf": "port 6379\n"})["redis"] == PASSWORDS["redis"]
    assert host_passwords(table, files, {})["redis"] == PASSWORDS["redis"]
