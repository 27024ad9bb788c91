"""Bad inventory values fail in site.yml's pre-flight (playbooks/preflight.yml), before any role changes
anything, naming the variable.

Each case runs the README's main job, `site.yml -i local`, with one bad extra var (and what switches its role
on) against a project that does not exist yet: a green play, any `changed` task, or reaching the first
provisioning play is a failure of the check."""

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
# A host pinned to the official images (container_images_flavor_file), asked for the other flavor.
FLAVOR_PIN = ROOT / ".cache" / "bad-input" / "image-flavor"
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
    ({"compose_stack_backend_accept_count": 65535}, "compose_stack_backend_accept_count"),
    ({"stack_project": "Bad Name"}, "stack_project"),
    ({"stack_release": "1.0/../../x"}, "stack_release"),
    ({"stack_services": DEFAULT_SERVICES + [{"name": "worker", "image": "backend", "port": 8081, "uid": 10001,
                                              "memory": "lots"}]}, "stack_services[worker].memory"),
    ({"stack_services": [{**svc, "management_port": 8080} if svc["name"] == "backend" else svc for svc in DEFAULT_SERVICES]},
     "stack_services[backend].management_port"),
    ({"stack_domains": ["bad name"]}, "stack_domains"),
    ({"compose_stack_https_port": 80}, "compose_stack_https_port"),
    ({"compose_stack_bind_address": "localhost; true"}, "compose_stack_bind_address"),
    ({"container_images_flavor": "fast"}, "container_images_flavor"),
    ({"container_images_backend_src": "/nonexistent"}, "container_images_backend_src"),
    ({"container_images_flavor": "registry_free", "container_images_flavor_file": str(FLAVOR_PIN)},
     "container_images_flavor_change"),
    ({"edge_nginx_limit_api_rate": "20/s"}, "edge_nginx_limit_api_rate"),
    ({"edge_nginx_proxy_read_timeout": "30 seconds"}, "edge_nginx_proxy_read_timeout"),
    ({"edge_nginx_client_max_body_size": "1 MB"}, "edge_nginx_client_max_body_size"),
    ({"edge_nginx_api_docs_path": "/api/docs"}, "edge_nginx_api_docs_path"),
    ({"edge_nginx_maintenance_message": "Back at $time"}, "edge_nginx_maintenance_message"),
    ({"edge_nginx_maintenance": "yes"}, "edge_nginx_maintenance"),
    ({"pg_backup_dir": "/var"}, "pg_backup_dir"),
    ({"pg_backup_dir": "/etc/backups"}, "pg_backup_dir"),
    ({"pg_backup_keep_daily": -3}, "pg_backup_keep_daily"),
    ({"pg_backup_weekly_day": 9}, "pg_backup_weekly_day"),
    ({"pg_backup_max_age": "a day"}, "pg_backup_max_age"),
    ({"monitoring_bind_address": "0.0.0.0"}, "monitoring_bind_address"),
    ({"container_logs_forward_host": "collector; rm -rf /"}, "container_logs_forward_host"),
    ({"monitoring_retention_size": "2 gigabytes"}, "monitoring_retention_size"),
    ({"monitoring_alert_receiver": "pager"}, "monitoring_alert_receiver"),
    ({"edge_nginx_status_port": 8443}, "edge_nginx_status_port"),
    ({"monitoring_nginx_status_url": "http://edge:9145/stub_status --web.listen-address=0.0.0.0:9113"},
     "monitoring_nginx_status_url"),
    ({"tls_certbot_enabled": True, "tls_certbot_domains": ["other.example.com"]}, "tls_certbot_domains"),
    ({"tls_certbot_enabled": True, "tls_certbot_email": "not-an-address"}, "tls_certbot_email"),
    ({"host_firewall_enabled": True, "host_firewall_trusted_networks": ["0.0.0.0/0"]}, "host_firewall_trusted_networks"),
    ({"host_firewall_enabled": True, "host_firewall_ssh_ports": []}, "host_firewall_ssh_ports"),
    ({"host_hardening_enabled": True, "host_hardening_deploy_user": "root"}, "host_hardening_deploy_user"),
    ({"host_hardening_enabled": True, "host_hardening_authorized_keys": ["my laptop"]}, "host_hardening_authorized_keys"),
    ({"host_hardening_enabled": True, "host_firewall_enabled": True, "host_hardening_sshd_ports": [2222]},
     "host_hardening_sshd_ports"),
    ({"docker_engine_skip_if_present": False, "docker_engine_version": "latest; rm -rf /"}, "docker_engine_version"),
]


def _run(extra):
    variables = {"stack_project": PROJECT, **extra}
    proc = subprocess.run(["ansible-playbook", "site.yml", "-i", "local", "-e", json.dumps(variables)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = proc.stdout + proc.stderr
    recap = dict(re.findall(r"\b(changed|failed)=(\d+)", out.split("PLAY RECAP")[-1]))
    return proc.returncode, out, recap


@pytest.fixture(scope="module")
def results(docker_available):
    FLAVOR_PIN.parent.mkdir(parents=True, exist_ok=True)
    FLAVOR_PIN.write_text("official\n")
    # Two at a time: each run is mostly Ansible start-up and fact gathering.
    with ThreadPoolExecutor(max_workers=2) as pool:
        return list(pool.map(lambda case: _run(case[0]), CASES))


@pytest.mark.parametrize("index", range(len(CASES)), ids=[c[1] for c in CASES])
def test_bad_value_fails_before_any_change_naming_the_variable(results, index):
    rc, out, recap = results[index]
    flat = " ".join(out.split())
    assert rc != 0, out[-2000:]
    assert recap.get("changed") == "0", out[-3000:]
    assert CASES[index][1] in flat, out[-3000:]
    assert "PLAY [Provision the application hosts]" not in out, "failed after the pre-flight"
    assert not Path(f"/opt/{PROJECT}").exists()
