"""The edge of the real stack, seen from the controller over the host's network address:
redirects, TLS protocol versions, security headers on every kind of response, rate limiting."""

import http.client
import json
import ssl
import time

import pytest

from conftest import https, insecure_context

testinfra_hosts = ["ansible://deployer-host"]  # the systemd host; minimal-host: test_minimal_host.py

SECURITY_HEADERS = ("strict-transport-security", "content-security-policy", "x-content-type-options",
                    "referrer-policy", "permissions-policy", "x-frame-options", "cross-origin-opener-policy")


def _handshake(ip, version):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ctx.maximum_version = version
    try:
        ctx.set_ciphers("ALL:@SECLEVEL=0")  # let the client offer old protocols; the server must refuse
    except ssl.SSLError:
        pass
    conn = http.client.HTTPSConnection(ip, 443, context=ctx, timeout=5)
    try:
        conn.connect()
        return True
    except (ssl.SSLError, OSError):
        return False
    finally:
        conn.close()


def test_http_redirects_to_https_with_308(host_ip):
    conn = http.client.HTTPConnection(host_ip, 80, timeout=5)
    conn.request("GET", "/some/page?q=1", headers={"Host": "localhost"})
    resp = conn.getresponse()
    assert resp.status == 308
    assert resp.getheader("Location") == "https://localhost/some/page?q=1"


@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version,accepted", [
    (ssl.TLSVersion.TLSv1, False), (ssl.TLSVersion.TLSv1_1, False),
    (ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_3, True)])
def test_tls_versions(host_ip, version, accepted):
    assert _handshake(host_ip, version) is accepted


@pytest.mark.parametrize("path", ["/", "/api/items", "/no/such/route"])
def test_security_headers_on_every_response(host_ip, path):
    status, headers, _ = https(host_ip, "GET", path)
    assert status == 200
    missing = [h for h in SECURITY_HEADERS if h not in headers]
    assert not missing, f"{path} lacks {missing}"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "server" not in headers or "/" not in headers["server"]  # server_tokens off


def test_api_is_never_cached_and_index_is_revalidated(host_ip):
    _, api, _ = https(host_ip, "GET", "/api/items")
    assert "no-store" in api["cache-control"]
    _, index, _ = https(host_ip, "GET", "/")
    assert "no-cache" in index["cache-control"]


def test_burst_beyond_the_api_limit_gets_429_then_recovers(host_ip):
    time.sleep(2)  # let the bucket drain after the other tests
    conn = http.client.HTTPSConnection(host_ip, 443, context=insecure_context(), timeout=10)
    statuses, limited = [], None
    try:
        for _ in range(150):  # far beyond rate + burst, back to back on one connection
            conn.request("GET", "/api/items", headers={"Host": "localhost"})
            resp = conn.getresponse()
            body = resp.read()
            statuses.append(resp.status)
            if resp.status == 429:
                limited = ({k.lower(): v for k, v in resp.getheaders()}, body)
    finally:
        conn.close()
    assert statuses.count(200) >= 20 and statuses.count(429) >= 20, statuses
    headers, body = limited
    assert json.loads(body)["error"] == "too_many_requests"
    assert headers["content-type"].startswith("application/json")
    time.sleep(3)
    assert https(host_ip, "GET", "/api/items")[0] == 200
