"""Forwarding to a central collector: deployer-host sends its containers' lines to minimal-host's rsyslog
(molecule.yml: container_logs_forward_host there, container_logs_receive_port here), which keeps them per
sending host and service."""

import time

from conftest import https

testinfra_hosts = ["ansible://deployer-host"]


def test_a_request_reaches_the_central_collector_on_the_other_host(host, host_ip):
    collector = host.get_host("ansible://minimal-host", ansible_inventory=host.backend.ansible_inventory)
    sender = host.check_output("hostname")
    rid = f"forwarded-{time.time_ns()}"
    status, _, _ = https(host_ip, "GET", "/api/items", headers={"X-Request-ID": rid})
    assert status == 200
    for service in ("edge", "backend"):
        path, found = f"/var/log/demo/remote/{sender}/{service}.log", ""
        for _ in range(40):
            found = collector.run(f"grep -F 'rid={rid}' {path}").stdout
            if found:
                break
            time.sleep(0.5)
        assert f"rid={rid}" in found, f"{service}: not on the collector"
        assert collector.file(path).mode == 0o640 and collector.file(path).group == "adm"
    # Only forwarded: the collector's own containers are not in remote/ (they keep their local files).
    assert collector.check_output("ls /var/log/demo/remote").split() == [sender]
