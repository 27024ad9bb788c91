"""Helpers for checking the Molecule host from the controller, over its real network address."""

import http.client
import json
import socket
import ssl
import subprocess

import pytest


@pytest.fixture(scope="module")
def host_ip(host):
    """The test host's address on the scenario network (what 'outside the host' sees)."""
    # Asked from the controller: a minimal host has no `ip`, and its nested engine adds more addresses.
    name = host.backend.get_hostname()
    return subprocess.check_output(
        ["docker", "inspect", "-f", '{{(index .NetworkSettings.Networks "deployer-molecule").IPAddress}}', name],
        text=True).strip()


def insecure_context():
    """TLS client context that accepts the stack's self-signed certificate (no ACME in tests)."""
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def https(ip, method, path, body=None, timeout=10, name="localhost", headers=None):
    """One request to ip:443 with Host: `name` (no SNI: the client connects by address)."""
    conn = http.client.HTTPSConnection(ip, 443, context=insecure_context(), timeout=timeout)
    try:
        headers = {"Host": name, **(headers or {})}
        if body is not None:
            body = json.dumps(body)
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=body, headers=headers)
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def port_open(ip, port, timeout=3):
    with socket.socket() as sock:
        sock.settimeout(timeout)
        return sock.connect_ex((ip, port)) == 0
