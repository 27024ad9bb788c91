"""The edge_nginx role's configuration in a real nginx container (uid 101, read-only root, no
capabilities) in front of a stand-in backend/frontend, checked over HTTP/HTTPS on 127.0.0.1;
then certbot (the tls_certbot role) against Debian's pebble on loopback through that nginx.

Traffic goes only to 127.0.0.1 and to containers this module creates (all named edge-test-*).
"""

import datetime
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit"))
from edge_render import CONFUSING_PATHS, PLAIN_PATHS  # noqa: E402  (shared with the unit tests)

ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK_BIN = ROOT / ".venv" / "bin" / "ansible-playbook"
DOMAIN = "edge.example.test"
IMAGE = "edge-test-nginx"

DOCKERFILE = """\
FROM deployer/debian:bookworm
RUN groupadd --system --gid 101 nginx \\
 && useradd --system --uid 101 --gid nginx --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin nginx \\
 && apt-get update && apt-get install -y --no-install-recommends nginx-core python3 \\
 && rm -rf /var/lib/apt/lists/* /etc/nginx/sites-enabled /etc/nginx/modules-enabled \\
 && mkdir -p /usr/share/nginx/html/assets /var/cache/nginx \\
 && printf '<!doctype html><title>edge test</title>\\n' > /usr/share/nginx/html/index.html \\
 && printf 'console.log(1)\\n' > /usr/share/nginx/html/assets/x.js
CMD ["nginx", "-g", "daemon off;"]
"""

# Stand-in for both `backend` (API + actuator) and `frontend` (SPA) on port 8080.
STANDIN = r'''
import json
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        p = self.path.split("?")[0]
        if p.startswith("/api/") or p == "/readyz":
            body, ctype = json.dumps({"path": p, "rid": self.headers.get("X-Request-ID"),
                                      "xff": self.headers.get("X-Forwarded-For"),
                                      "proto": self.headers.get("X-Forwarded-Proto"),
                                      "pad": "x" * 600}), "application/json"  # worth compressing
        elif p.startswith("/actuator/"):
            body, ctype = '{"secret":"leaked"}', "application/json"
        elif p.startswith("/assets/"):
            body, ctype = "console.log(1)\n", "text/javascript"
        else:
            body, ctype = "<!doctype html><title>spa</title>", "text/html"
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "max-age=600")
        self.end_headers()
        self.wfile.write(data)
    def log_message(self, *a):
        pass
    def log_request(self, *a):
        print("REQUEST", self.path, flush=True)  # what reached the backend: `docker logs`

ThreadingHTTPServer(("0.0.0.0", 8080), H).serve_forever()
'''

SECURITY_HEADERS = {
    "content-security-policy": "default-src 'self'",
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "strict-origin-when-cross-origin",
    "permissions-policy": "camera=()",
    "cross-origin-opener-policy": "same-origin",
    "cross-origin-resource-policy": "same-origin",
}
HSTS = "max-age=63072000; includeSubDomains"


def run(cmd, timeout=300, check=True, **kw):
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False, **kw)
    if check and proc.returncode != 0:
        raise AssertionError(f"{cmd} failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}")
    return proc


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def playbook(tmp, name, role, variables, check=False):
    """Run `role` against localhost with `variables`; returns the PLAY RECAP's counters."""
    book = tmp / f"{name}.yml"
    book.write_text(f"---\n- name: {name}\n  hosts: localhost\n  connection: local\n  gather_facts: false\n"
                    f"  roles:\n    - role: {role}\n")
    extra = tmp / f"{name}-vars.json"
    extra.write_text(json.dumps({**variables, "ansible_python_interpreter": sys.executable}))
    cmd = [str(PLAYBOOK_BIN), "-i", "localhost,", str(book), "-e", f"@{extra}"] + (["--check"] if check else [])
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), "ANSIBLE_ROLES_PATH": str(ROOT / "roles")}
    proc = run(cmd, env=env, cwd=ROOT, timeout=600)
    recap = [line for line in proc.stdout.splitlines() if line.startswith("localhost") and "ok=" in line][-1]
    return {k: int(v) for k, v in (item.split("=") for item in recap.split(":", 1)[1].split())}


@pytest.fixture(scope="module")
def docker():
    if not shutil.which("docker") or run(["docker", "info"], check=False, timeout=30).returncode != 0:
        pytest.skip("no Docker engine reachable")
    if run(["docker", "image", "inspect", "deployer/debian:bookworm"], check=False).returncode != 0:
        pytest.skip("base image deployer/debian:bookworm missing (scripts/base-image.sh builds it)")
    return "docker"


@pytest.fixture(scope="module")
def image(docker, tmp_path_factory):
    ctx = tmp_path_factory.mktemp("edge-image")
    (ctx / "Dockerfile").write_text(DOCKERFILE)
    run([docker, "build", "-q", "-t", IMAGE, str(ctx)], timeout=600)
    return IMAGE


@pytest.fixture(scope="module")
def edge_dirs(tmp_path_factory):
    base = tmp_path_factory.mktemp("edge")
    return {
        "base": base,
        "edge_nginx_conf_dir": str(base / "nginx"),
        "edge_nginx_tls_dir": str(base / "tls"),
        "edge_nginx_acme_webroot": str(base / "acme-webroot"),
        "edge_nginx_compose_dir": str(base),
    }


@pytest.fixture(scope="module")
def rendered(edge_dirs, image):
    """The role rendered (first run changes, second run and check mode change nothing)."""
    variables = {k: v for k, v in edge_dirs.items() if k.startswith("edge_nginx")}
    variables.update({
        # Tests the configuration with nginx -t before it goes live (no edge runs yet).
        "edge_nginx_image": image,
        "edge_nginx_server_names": ["localhost", DOMAIN],
        # Small limits so the test stays short and deterministic.
        "edge_nginx_limit_api_rate": "10r/s",
        "edge_nginx_limit_api_burst": 10,
    })
    started = time.monotonic()
    first = playbook(edge_dirs["base"], "render-edge", "edge_nginx", variables)
    second = playbook(edge_dirs["base"], "render-edge", "edge_nginx", variables)
    check = playbook(edge_dirs["base"], "render-edge", "edge_nginx", variables, check=True)
    return {"first": first, "second": second, "check": check, "vars": variables, "seconds": time.monotonic() - started}


@pytest.fixture(scope="module")
def stack(docker, image, rendered, edge_dirs):
    tag = uuid.uuid4().hex[:8]
    net, backend, edge = f"edge-test-net-{tag}", f"edge-test-backend-{tag}", f"edge-test-edge-{tag}"
    base = edge_dirs["base"]
    (base / "standin.py").write_text(STANDIN)
    try:
        run([docker, "network", "create", net])
        run([docker, "run", "-d", "--name", backend, "--network", net, "--network-alias", "backend",
             "--network-alias", "frontend", "--read-only", "--user", "101:101", "--cap-drop", "ALL",
             "-v", f"{base / 'standin.py'}:/standin.py:ro", image, "python3", "/standin.py"])
        run([docker, "run", "-d", "--name", edge, "--network", net, "--read-only", "--user", "101:101",
             "--cap-drop", "ALL", "--security-opt", "no-new-privileges:true",
             "--tmpfs", "/tmp:size=64m,uid=101,gid=101,mode=0700",
             "--tmpfs", "/var/cache/nginx:size=64m,uid=101,gid=101,mode=0700",
             "-v", f"{edge_dirs['edge_nginx_conf_dir']}/nginx.conf:/etc/nginx/nginx.conf:ro",
             "-v", f"{edge_dirs['edge_nginx_conf_dir']}/conf.d:/etc/nginx/conf.d:ro",
             "-v", f"{edge_dirs['edge_nginx_tls_dir']}/live:/etc/nginx/tls:ro",
             "-v", f"{edge_dirs['edge_nginx_acme_webroot']}:/var/www/acme:ro",
             "-p", "127.0.0.1::8080", "-p", "127.0.0.1::8443", image])
        ports = {}
        for inner in (8080, 8443):
            out = run([docker, "port", edge, f"{inner}/tcp"]).stdout.split()[0]
            ports[inner] = int(out.rsplit(":", 1)[1])
        deadline = time.monotonic() + 30
        while True:
            try:
                status, _, _ = http_get(ports[8080], "/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                logs = run([docker, "logs", edge], check=False)
                raise AssertionError(f"edge did not come up:\n{logs.stdout}\n{logs.stderr}")
            time.sleep(0.3)
        yield {"edge": edge, "backend": backend, "http": ports[8080], "https": ports[8443], **edge_dirs}
    finally:
        if os.environ.get("EDGE_TEST_KEEP") != "1":
            run([docker, "rm", "-f", edge, backend], check=False)
            run([docker, "network", "rm", net], check=False)


def http_get(port, path, host="localhost"):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request("GET", path, headers={"Host": host})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def insecure_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    return ctx


def https_conn(port, host="localhost"):
    return http.client.HTTPSConnection("127.0.0.1", port, timeout=10, context=insecure_context(), server_hostname=host) \
        if sys.version_info >= (3, 12) else _https_conn_311(port, host)


def _https_conn_311(port, host):
    conn = http.client.HTTPSConnection(host, port, timeout=10, context=insecure_context())
    conn._create_connection = lambda address, *a, **k: socket.create_connection(("127.0.0.1", port), *a, **k)
    return conn


def https_get(port, path, conn=None, headers=None):
    own = conn is None
    conn = conn or https_conn(port)
    try:
        conn.request("GET", path, headers={"Host": "localhost", **(headers or {})})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        if own:
            conn.close()


def assert_security_headers(headers, https=True):
    for name, value in SECURITY_HEADERS.items():
        assert name in headers, f"{name} missing: {headers}"
        assert value in headers[name], (name, headers[name])
    if https:
        assert headers.get("strict-transport-security") == HSTS
    assert "server" not in headers or headers["server"] == "nginx", headers.get("server")


def served_certificate(port, server_name):
    from cryptography import x509
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        with insecure_context().wrap_socket(sock, server_hostname=server_name) as tls:
            return x509.load_der_x509_certificate(tls.getpeercert(binary_form=True))


# --- the role itself ----------------------------------------------------------------------------

def test_role_idempotent_and_check_mode_safe(rendered, edge_dirs):
    assert rendered["first"]["failed"] == 0 and rendered["first"]["changed"] > 0
    assert rendered["second"]["changed"] == 0, rendered["second"]
    assert rendered["check"]["changed"] == 0, rendered["check"]
    key = Path(edge_dirs["edge_nginx_tls_dir"]) / "live" / "privkey.pem"
    assert key.stat().st_uid == 101 and oct(key.stat().st_mode & 0o777) == "0o600"


def test_selfsigned_bootstrap_certificate(stack):
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    cert = served_certificate(stack["https"], "localhost")
    assert isinstance(cert.public_key(), ec.EllipticCurvePublicKey) and cert.public_key().curve.name == "secp256r1"
    sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName)
    assert sans == ["localhost", DOMAIN]


def test_runs_as_uid_101_readonly(stack):
    out = run(["docker", "exec", stack["edge"], "sh", "-c", "ps -o uid= -C nginx 2>/dev/null || id -u"]).stdout
    assert set(out.split()) <= {"101"}
    assert run(["docker", "exec", stack["edge"], "touch", "/etc/x"], check=False).returncode != 0
    assert run(["docker", "exec", stack["edge"], "nginx", "-t", "-q"], check=False).returncode == 0


# --- HTTP ---------------------------------------------------------------------------------------

def test_http_redirects_with_308(stack):
    status, headers, _ = http_get(stack["http"], "/some/page?x=1")
    assert status == 308
    assert headers["location"] == "https://localhost/some/page?x=1"
    assert_security_headers(headers, https=False)
    assert "strict-transport-security" not in headers


def test_acme_challenge_served_over_http(stack):
    token_dir = Path(stack["edge_nginx_acme_webroot"]) / ".well-known" / "acme-challenge"
    (token_dir / "edge-test-token").write_text("token-content.thumbprint")
    status, headers, body = http_get(stack["http"], "/.well-known/acme-challenge/edge-test-token")
    assert (status, body) == (200, b"token-content.thumbprint")
    assert_security_headers(headers, https=False)
    status, _, _ = http_get(stack["http"], "/.well-known/acme-challenge/missing")
    assert status == 404


# --- TLS ----------------------------------------------------------------------------------------

@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.parametrize("version,accepted", [
    (ssl.TLSVersion.TLSv1, False), (ssl.TLSVersion.TLSv1_1, False),
    (ssl.TLSVersion.TLSv1_2, True), (ssl.TLSVersion.TLSv1_3, True)])
def test_tls_versions(stack, version, accepted):
    ctx = insecure_context()
    ctx.set_ciphers("DEFAULT:@SECLEVEL=0")  # let the client offer old versions: the server must refuse
    ctx.minimum_version = version
    ctx.maximum_version = version
    with socket.create_connection(("127.0.0.1", stack["https"]), timeout=10) as sock:
        if accepted:
            with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
                assert tls.version() == {ssl.TLSVersion.TLSv1_2: "TLSv1.2", ssl.TLSVersion.TLSv1_3: "TLSv1.3"}[version]
                if version == ssl.TLSVersion.TLSv1_2:
                    assert tls.cipher()[0].startswith("ECDHE-ECDSA-")
        else:
            with pytest.raises(ssl.SSLError) as err:
                ctx.wrap_socket(sock, server_hostname="localhost")
            assert "NO_PROTOCOLS_AVAILABLE" not in str(err.value).upper(), "refused by the client, not the server"


def test_tls12_refuses_dhe_and_cbc(stack):
    for ciphers in ("DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384", "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA384"):
        ctx = insecure_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers(ciphers + ":@SECLEVEL=0")
        with socket.create_connection(("127.0.0.1", stack["https"]), timeout=10) as sock:
            with pytest.raises(ssl.SSLError):
                ctx.wrap_socket(sock, server_hostname="localhost")


def test_http2_negotiated(stack):
    ctx = insecure_context()
    ctx.set_alpn_protocols(["h2", "http/1.1"])
    with socket.create_connection(("127.0.0.1", stack["https"]), timeout=10) as sock:
        with ctx.wrap_socket(sock, server_hostname="localhost") as tls:
            assert tls.selected_alpn_protocol() == "h2"


# --- HTTPS routing, headers, caching -------------------------------------------------------------

def test_spa_page(stack):
    status, headers, body = https_get(stack["https"], "/")
    assert status == 200 and b"<title>spa</title>" in body
    assert_security_headers(headers)
    assert headers["cache-control"] == "no-cache"
    assert headers.get("x-request-id")


def test_assets_immutable(stack):
    status, headers, _ = https_get(stack["https"], "/assets/x.js")
    assert status == 200
    assert_security_headers(headers)
    assert headers["cache-control"] == "public, max-age=31536000, immutable"


def test_api_proxied_no_store(stack):
    status, headers, body = https_get(stack["https"], "/api/items?q=1", headers={"X-Request-ID": "abc-123"})
    assert status == 200
    assert_security_headers(headers)
    assert "no-store" in headers["cache-control"]
    seen = json.loads(body)
    assert seen["path"] == "/api/items" and seen["rid"] == "abc-123" and seen["proto"] == "https"
    assert seen["xff"].startswith("172.") or seen["xff"].count(".") == 3
    assert headers["x-request-id"] == "abc-123"


def test_forwarded_for_is_not_what_the_client_wrote(stack):
    status, _, body = https_get(stack["https"], "/api/items", headers={"X-Forwarded-For": "6.6.6.6"})
    assert status == 200
    seen = json.loads(body)["xff"]
    assert "6.6.6.6" not in seen and seen.count(".") == 3 and "," not in seen, seen


def test_confusing_paths_refused_before_the_backend(stack):
    marker = uuid.uuid4().hex[:8]
    answers = {}
    for path in CONFUSING_PATHS:
        path = path.replace("actuator", f"actuator{marker}") if "actuator" in path else path + ("&" if "?" in path else "?") + marker
        status, headers, body = https_get(stack["https"], path)
        answers[path] = status
        assert status in (400, 404) and b"leaked" not in body, (path, status, body)
        assert_security_headers(headers)
    for path in PLAIN_PATHS:
        status, _, _ = https_get(stack["https"], path)
        assert status == 200, (path, status)
    # The backend saw none of them (the plain ones, yes).
    reached = run(["docker", "logs", stack["backend"]]).stdout
    assert marker not in reached, [line for line in reached.splitlines() if marker in line]
    assert "REQUEST /api/items/12" in reached
    print(f"\n[edge] {len(answers)} confusing paths: " + ", ".join(f"{s}" for s in sorted(set(answers.values()))))


def test_api_responses_not_compressed(stack):
    """BREACH: no compression of API bodies (edge_nginx_api_gzip); the SPA's assets still are."""
    status, headers, _ = https_get(stack["https"], "/api/items", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and "content-encoding" not in headers
    # The same JSON from the backend under the documentation's location (compressed like static files).
    status, headers, _ = https_get(stack["https"], "/api/docs/openapi.json", headers={"Accept-Encoding": "gzip"})
    assert status == 200 and headers.get("content-encoding") == "gzip"


def test_actuator_only_health(stack):
    status, headers, body = https_get(stack["https"], "/actuator/health")
    assert status == 200 and json.loads(body)["path"] == "/readyz"  # the backend's, on its routed port
    assert "no-store" in headers["cache-control"]
    status, headers, body = https_get(stack["https"], "/actuator/env")
    assert status == 404 and b"leaked" not in body
    assert_security_headers(headers)


def test_rate_limit_429_json_with_headers(stack):
    port = stack["https"]
    time.sleep(1.5)  # let the bucket drain after the other tests
    # Within the limit (10r/s): 8 requests at 4 per second all pass.
    conn = https_conn(port)
    try:
        for _ in range(8):
            status, _, _ = https_get(port, "/api/ping", conn=conn)
            assert status == 200
            time.sleep(0.25)
        # A burst far beyond rate + burst (10r/s, burst 10): bounded to 60 requests / 10 s.
        statuses, limited, deadline = [], None, time.monotonic() + 10
        for _ in range(60):
            status, headers, body = https_get(port, "/api/ping", conn=conn)
            statuses.append(status)
            if status == 429:
                limited = (headers, body)
            if time.monotonic() > deadline:
                break
    finally:
        conn.close()
    assert statuses.count(200) >= 10 and statuses.count(429) >= 20, statuses
    headers, body = limited
    assert json.loads(body) == {"error": "too_many_requests"}
    assert headers["content-type"].startswith("application/json")
    assert "no-store" in headers["cache-control"]
    assert_security_headers(headers)
    time.sleep(1.2)
    assert https_get(port, "/api/ping")[0] == 200


# --- ACME: certbot (tls_certbot role) against pebble through this nginx ---------------------------

@pytest.fixture(scope="module")
def pebble(stack, tmp_path_factory):
    for binary in ("pebble", "pebble-challtestsrv", "certbot"):
        if not shutil.which(binary):
            pytest.skip(f"{binary} missing: apt-get install pebble certbot")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    import ipaddress

    work = tmp_path_factory.mktemp("pebble")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "pebble test listener")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                                                        x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (work / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (work / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                     serialization.NoEncryption()))
    acme_port, mgmt_port, dns_port, chall_port = free_port(), free_port(), free_port(), free_port()
    (work / "pebble.json").write_text(json.dumps({"pebble": {
        "listenAddress": f"127.0.0.1:{acme_port}", "managementListenAddress": f"127.0.0.1:{mgmt_port}",
        "certificate": str(work / "cert.pem"), "privateKey": str(work / "key.pem"),
        # HTTP-01 validation goes to the edge container's published HTTP port.
        "httpPort": stack["http"], "tlsPort": free_port(), "ocspResponderURL": "",
        "externalAccountBindingRequired": False}}))
    env = {**os.environ, "PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0"}
    logs = [open(work / "challtestsrv.log", "w"), open(work / "pebble.log", "w")]
    # Fake DNS: every name resolves to 127.0.0.1 (no /etc/hosts change).
    dns = subprocess.Popen(["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
                            "-tlsalpn01", "", "-doh", "", "-management", f"127.0.0.1:{chall_port}",
                            "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], stdout=logs[0], stderr=subprocess.STDOUT)
    if dns.poll() is None:
        time.sleep(0.3)
    if dns.poll() is not None:  # older challtestsrv without -doh
        dns = subprocess.Popen(["pebble-challtestsrv", "-dns01", f"127.0.0.1:{dns_port}", "-http01", "", "-https01", "",
                                "-tlsalpn01", "", "-management", f"127.0.0.1:{chall_port}",
                                "-defaultIPv4", "127.0.0.1", "-defaultIPv6", ""], stdout=logs[0], stderr=subprocess.STDOUT)
    acme = subprocess.Popen(["pebble", "-config", str(work / "pebble.json"), "-dnsserver", f"127.0.0.1:{dns_port}"],
                            env=env, stdout=logs[1], stderr=subprocess.STDOUT)
    try:
        ctx = ssl.create_default_context(cafile=str(work / "cert.pem"))
        deadline = time.monotonic() + 20
        while True:
            try:
                conn = http.client.HTTPSConnection("127.0.0.1", acme_port, timeout=3, context=ctx)
                conn.request("GET", "/dir")
                if conn.getresponse().status == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or acme.poll() is not None:
                raise AssertionError("pebble did not start: " + (work / "pebble.log").read_text())
            time.sleep(0.3)
        yield {"dir": f"https://127.0.0.1:{acme_port}/dir", "ca": str(work / "cert.pem"), "work": work}
    finally:
        for proc in (acme, dns):
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
        for log in logs:
            log.close()


@pytest.fixture(scope="module")
def certbot_vars(stack, pebble):
    le = pebble["work"] / "letsencrypt"
    return {
        "tls_certbot_install": False,  # installed by the test run's setup; no apt from tests
        "tls_certbot_domains": [DOMAIN],
        "tls_certbot_acme_server": pebble["dir"],
        "tls_certbot_ca_bundle": pebble["ca"],
        "tls_certbot_webroot": stack["edge_nginx_acme_webroot"],
        "tls_certbot_tls_dir": stack["edge_nginx_tls_dir"],
        "tls_certbot_config_dir": str(le / "config"),
        "tls_certbot_work_dir": str(le / "work"),
        "tls_certbot_logs_dir": str(le / "logs"),
        "tls_certbot_renewal": "none",
        # No compose project here: reload the test's edge container directly.
        "tls_certbot_reload_command": f"docker exec {stack['edge']} nginx -t -q && docker exec {stack['edge']} nginx -s reload",
    }


def test_certbot_issues_through_nginx_and_renews(stack, pebble, certbot_vars):
    from cryptography import x509
    before = served_certificate(stack["https"], DOMAIN)
    assert "Pebble" not in before.issuer.rfc4514_string()

    started = time.monotonic()
    first = playbook(pebble["work"], "tls-certbot", "tls_certbot", certbot_vars)
    assert first["failed"] == 0 and first["changed"] >= 2, first
    issued = wait_for_new_cert(stack["https"], before.serial_number)
    assert "Pebble" in issued.issuer.rfc4514_string(), issued.issuer
    assert issued.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(
        x509.DNSName) == [DOMAIN]
    key = Path(stack["edge_nginx_tls_dir"]) / "live" / "privkey.pem"
    assert key.stat().st_uid == 101 and oct(key.stat().st_mode & 0o777) == "0o600"
    hook = Path(certbot_vars["tls_certbot_config_dir"]) / "renewal-hooks" / "deploy" / "50-edge-nginx.sh"
    assert os.access(hook, os.X_OK)

    second = playbook(pebble["work"], "tls-certbot", "tls_certbot", certbot_vars)
    assert second["changed"] == 0, second

    env = {**os.environ, "REQUESTS_CA_BUNDLE": pebble["ca"]}
    # --no-random-sleep-on-renew: without a TTY certbot otherwise sleeps up to 8 minutes first.
    run(["certbot", "renew", "--force-renewal", "--no-random-sleep-on-renew", "--non-interactive", "--config-dir", certbot_vars["tls_certbot_config_dir"],
         "--work-dir", certbot_vars["tls_certbot_work_dir"], "--logs-dir", certbot_vars["tls_certbot_logs_dir"]],
        env=env, timeout=180)
    renewed = wait_for_new_cert(stack["https"], issued.serial_number)
    assert "Pebble" in renewed.issuer.rfc4514_string()
    assert renewed.serial_number != issued.serial_number
    print(f"ACME issue + idempotent rerun + forced renewal: {time.monotonic() - started:.1f}s")


def wait_for_new_cert(port, old_serial, timeout=15):
    deadline = time.monotonic() + timeout
    while True:
        cert = served_certificate(port, DOMAIN)
        if cert.serial_number != old_serial or time.monotonic() > deadline:
            return cert
        time.sleep(0.3)


# --- testssl.sh ------------------------------------------------------------------------------------

def test_testssl_no_high_findings(stack):
    binary = shutil.which("testssl") or shutil.which("testssl.sh")
    if not binary:
        pytest.skip("testssl.sh missing: apt-get install testssl.sh")
    out = stack["base"] / "testssl.json"
    # Scanned by the certificate's name (pebble's certificate when the ACME test ran first), on 127.0.0.1.
    proc = run([binary, "--quiet", "--color", "0", "--warnings", "off", "--ip", "127.0.0.1", "--jsonfile", str(out),
                "-p", "-s", "-f", "-P", "-S", "-h", "-U", "-4", f"{DOMAIN}:{stack['https']}"],
               timeout=900, check=False)
    assert out.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    findings = json.loads(out.read_text())
    if os.environ.get("EDGE_TESTSSL_OUT"):
        shutil.copy(out, os.environ["EDGE_TESTSSL_OUT"])
    # Accepted (see docs/edge-tls.md): the lab CA (pebble or self-signed) is not trusted, issues no
    # CRL/OCSP URL and 5-year certificates; no server cipher order is Mozilla's intermediate choice
    # (every offered suite is ECDHE + AEAD, so the client may pick e.g. CHACHA20 on mobiles).
    accepted = {"cert_chain_of_trust", "cert_revocation", "cert_validityPeriod", "cert_trust", "cipher_order"}
    bad = [f for f in findings if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL") and f["id"] not in accepted]
    assert not bad, bad
    by_id = {f["id"]: f["finding"] for f in findings}
    assert by_id["SSLv2"].startswith("not offered") and by_id["SSLv3"].startswith("not offered")
    assert by_id["TLS1"].startswith("not offered") and by_id["TLS1_1"].startswith("not offered")
    assert by_id["TLS1_2"].startswith("offered") and by_id["TLS1_3"].startswith("offered")
    assert by_id["cipherlist_AVERAGE"].startswith("not offered") and by_id["cipherlist_3DES_IDEA"].startswith("not offered")
