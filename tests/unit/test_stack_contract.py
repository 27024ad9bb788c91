"""The stack contract (roles/stack) wired into the roles as the playbooks wire it: one edit of the
contract changes every place that depends on it (compose file, edge config, images, backups, TLS)."""

import copy
import re
import sys

import pytest
import yaml

from ansible.template import trust_as_template

from ansible_render import ROLES, ROOT, play_vars, render, role_defaults, templar
from edge_render import directives, render_edge

sys.path.insert(0, str(ROLES / "compose_stack" / "filter_plugins"))
import stack_filters  # noqa: E402

IMAGES = {"edge": "e:1", "frontend": "f:1", "backend": "b:1", "postgres": "p:1", "redis": "r:1"}


def _services(**ports):
    services = copy.deepcopy(role_defaults("stack")["stack_services"])
    for svc in services:
        svc["port"] = ports.get(svc["name"], svc["port"])
    return services


def _wired(playbook, **contract):
    return {**play_vars(playbook), "container_images_refs": IMAGES,
            "compose_stack__passwords": {"postgres": "p" * 40, "redis": "r" * 40, "db_migrator": "m" * 40, "db_runtime": "u" * 40,
                                        "db_monitor": "d" * 40, "redis_monitor": "e" * 40}, **contract}


def _compose(**contract):
    text = render("compose_stack", "compose.yaml.j2", _wired("deploy.yml", **contract), roles=["stack", "compose_stack"])
    return yaml.safe_load(text)


def _edge(**contract):
    return render_edge(roles=["stack", "compose_stack", "edge_nginx"], **_wired("deploy.yml", **contract))


def test_defaults_render_the_documented_stack():
    doc = _compose()
    assert doc["name"] == "demo"
    assert doc["services"]["backend"]["environment"]["SERVER_PORT"] == "8080"
    assert doc["services"]["backend"]["user"] == "10001:10001"


def test_project_name_is_one_edit():
    contract = {"stack_project": "shop"}
    assert _compose(**contract)["name"] == "shop"
    assert wired("deploy.yml", "compose_stack_dir", contract) == "/opt/shop"
    assert wired("deploy.yml", "container_images_app_name", contract) == "shop"
    assert wired("deploy.yml", "container_images_build_dir", contract) == "/opt/shop/build"
    assert wired("deploy.yml", "edge_nginx_compose_dir", contract) == "/opt/shop"
    assert wired("backups.yml", "pg_backup_project", contract) == "shop"
    assert wired("backups.yml", "pg_backup_compose_dir", contract) == "/opt/shop"
    assert wired("restore.yml", "pg_backup_project", contract) == "shop"
    assert wired("rollback.yml", "compose_stack_dir", contract) == "/opt/shop"
    assert wired("down.yml", "compose_stack_project", contract) == "shop"
    assert wired("tls.yml", "tls_certbot_compose_dir", contract) == "/opt/shop"


def test_backend_port_is_one_edit():
    contract = {"stack_services": _services(backend=9090)}
    backend = _compose(**contract)["services"]["backend"]
    assert backend["environment"]["SERVER_PORT"] == "9090"
    assert "/dev/tcp/127.0.0.1/9090" in " ".join(backend["healthcheck"]["test"])
    edge = _edge(**contract)
    servers = directives(edge["conf.d/upstreams/backend.conf"], "server")
    assert any(s.startswith("backend:9090 ") for s in servers), servers
    assert wired("images.yml", "container_images_backend_port", contract) == 9090


def test_the_management_port_and_health_path_are_one_edit_each():
    contract = {"stack_services": [{**svc, **({"management_port": 9091, "health_path": "/livez"} if svc["name"] == "backend" else {})}
                                   for svc in _services()]}
    backend = _compose(**contract)["services"]["backend"]
    assert backend["environment"]["MANAGEMENT_SERVER_PORT"] == "9091"
    assert "GET /livez HTTP" in " ".join(backend["healthcheck"]["test"])
    locations = _edge(**contract)["conf.d/10-edge.conf"]
    assert "proxy_pass http://edge_backend/livez;" in locations
    assert "9091" not in locations  # the edge never routes to the management port
    assert wired("images.yml", "container_images_backend_health_path", contract) == "/livez"


def test_domains_are_one_edit():
    contract = {"stack_domains": ["shop.example.com", "www.shop.example.com"]}
    edge = _edge(**contract)
    assert "shop.example.com www.shop.example.com" in " ".join(directives(edge["conf.d/10-edge.conf"], "server_name"))
    assert wired("tls.yml", "tls_certbot_domains", contract) == ["shop.example.com", "www.shop.example.com"]


def test_uids_come_from_the_contract():
    services = _services()
    for svc in services:
        svc["uid"] = {"backend": 20002, "edge": 102}.get(svc["name"], svc["uid"])
    doc = _compose(stack_services=services)
    assert doc["services"]["backend"]["user"] == "20002:20002"
    assert doc["services"]["edge"]["user"] == "102:102"
    assert any("uid=20002" in t for t in doc["services"]["backend"]["tmpfs"])
    assert wired("tls.yml", "tls_certbot_tls_uid", {"stack_services": services}) == 102


def test_rolling_services_come_from_the_contract():
    services = _services()
    services[1]["rolling"] = False  # frontend
    t = templar(["stack", "compose_stack"], {"compose_stack_services": services})
    assert t.template(trust_as_template("{{ compose_stack__rolling }}")) == ["backend"]


def wired(playbook, name, contract):
    """The value the playbook's wiring gives role variable `name` for this contract."""
    return templar(["stack"], contract).template(trust_as_template(play_vars(playbook)[name]))


@pytest.mark.parametrize("playbook", sorted(p.name for p in (ROOT / "playbooks").glob("*.yml")))
def test_every_stack_play_validates_the_contract_first(playbook):
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    for play in plays:
        text = yaml.safe_dump(play)
        if "stack_" in text and "stack_by_name" in text or "stack_dir" in text or "stack_project" in text:
            first = [task["ansible.builtin.import_role"]["name"] for task in play.get("pre_tasks") or []
                     if "ansible.builtin.import_role" in task]
            roles = first + [r if isinstance(r, str) else r["role"] for r in play.get("roles") or []]
            assert roles[:1] == ["stack"], f"{playbook}: reads the contract but does not apply roles/stack first"


WORKER = {
    "name": "worker", "image": "backend", "port": 8081, "uid": 10001, "health_path": "/actuator/health",
    "rolling": True, "networks": ["data"], "environment": {"SERVER_PORT": 8081, "APP_ROLE": "worker"},
    "secrets": [{"source": "backend_db_password", "target": "spring.datasource.password"}],
}


def test_an_added_service_is_one_entry():
    doc = _compose(stack_services=_services() + [WORKER])
    worker = doc["services"]["worker"]
    assert worker["image"] == IMAGES["backend"]
    assert worker["user"] == "10001:10001"
    assert worker["environment"] == {"APP_ROLE": "worker", "SERVER_PORT": "8081"}
    assert worker["secrets"] == [{"source": "backend_db_password", "target": "spring.datasource.password"}]
    assert worker["networks"] == ["data"]
    assert set(worker["depends_on"]) == {"postgres", "redis"}
    assert "/dev/tcp/127.0.0.1/8081" in " ".join(worker["healthcheck"]["test"])
    # hardened like every other service
    assert worker["cap_drop"] == ["ALL"] and worker["read_only"] is True
    assert worker["security_opt"] == ["no-new-privileges:true"]
    assert worker["deploy"]["resources"]["limits"]["memory"] == "256m"
    # released with the backend image, replaced without downtime, never given a port on the host
    t = templar(["stack", "compose_stack"], {"compose_stack_services": _services() + [WORKER]})
    assert t.template(trust_as_template("{{ compose_stack__rolling }}")) == ["frontend", "backend", "worker"]
    assert t.template(trust_as_template("{{ compose_stack__image_of.worker }}")) == "backend"
    assert "ports" not in worker


@pytest.mark.parametrize("limits", [{}, {"memory": "1g", "cpus": 2}])
def test_preflight_checks_the_limits_an_added_service_gets(limits):
    """compose_stack's preflight validates added services through the added_service_limits filter: its
    defaults must be the ones compose.yaml applies, or the check would pass values the stack never uses."""
    worker = {**WORKER, **limits}
    checked = stack_filters.added_service_limits(worker)
    rendered = _compose(stack_services=_services() + [worker])["services"]["worker"]["deploy"]["resources"]["limits"]
    assert checked["where"] == "stack_services[worker]."
    assert (str(checked["memory"]), str(checked["cpus"])) == (str(rendered["memory"]), str(rendered["cpus"]))


def test_without_added_services_the_stack_has_the_five():
    assert set(_compose()["services"]) == {"edge", "frontend", "backend", "postgres", "redis"}


def test_compose_stack_accepts_every_field_of_the_contract():
    """The services list passes from roles/stack to compose_stack unchanged: both argument specs take the
    same fields (a field missing in one fails the deploy's argument validation)."""
    specs = {role: yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())["argument_specs"]
             for role in ("stack", "compose_stack")}
    stack = specs["stack"]["main"]["options"]["stack_services"]["options"]
    compose = specs["compose_stack"]["main"]["options"]["compose_stack_services"]["options"]
    assert stack == compose
    used = {key for svc in role_defaults("stack")["stack_services"] + [WORKER] for key in svc}
    assert used <= set(stack)


def test_every_playbook_takes_its_wiring_from_one_file():
    for path in sorted((ROOT / "playbooks").glob("*.yml")):
        for play in yaml.safe_load(path.read_text()):
            if "hosts" not in play:
                continue
            own = {k: v for k, v in (play.get("vars") or {}).items() if "stack_" in str(v)}
            assert not own, f"{path.name} wires {sorted(own)} itself: derive them in playbooks/vars/wiring.yml"
            applies_stack = "stack" in str(play.get("roles", [])) + str(play.get("pre_tasks", []))
            if applies_stack:
                assert play.get("vars_files") == ["vars/wiring.yml"], path.name


def test_a_restore_empties_the_caches_the_contract_names():
    caches = wired("restore.yml", "pg_backup_restore_redis_caches", {})
    assert [(c["name"], c["port"], c["cache_keys"]) for c in caches] == [("redis", 6379, "demo:*")]
    services = yaml.safe_load((ROLES / "stack" / "defaults" / "main.yml").read_text())["stack_services"]
    services = [dict(s, port=6390) if s["name"] == "redis" else s for s in services]
    assert wired("restore.yml", "pg_backup_restore_redis_caches", {"stack_services": services})[0]["port"] == 6390


def test_the_cache_keys_of_the_contract_are_the_backends():
    java = (ROOT / "files/demo-app/backend/src/main/java/io/deployer/demo/cache/CacheConfig.java").read_text()
    prefix = re.search(r'KEY_PREFIX = "([^"]+)"', java).group(1)
    services = yaml.safe_load((ROLES / "stack" / "defaults" / "main.yml").read_text())["stack_services"]
    assert [s["cache_keys"] for s in services if "cache_keys" in s] == [prefix + "*"]
