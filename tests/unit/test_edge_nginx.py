"""Fast checks of the edge_nginx role's rendered nginx configuration (no nginx needed)."""

import re

import pytest

from ansible.template import trust_as_template

from ansible_render import templar
from edge_render import CONFUSING_PATHS, PLAIN_PATHS, blocks, directives, render_edge

SNIPPET = "include /etc/nginx/conf.d/snippets/security-headers.conf;"


@pytest.fixture(scope="module", params=["frontend:8080", ""], ids=["proxy-spa", "static-spa"])
def conf(request):
    files = render_edge(edge_nginx_frontend_upstream=request.param)
    files["all"] = "\n".join(files.values())
    return files


def test_tls_protocols_exactly_12_and_13(conf):
    assert directives(conf["all"], "ssl_protocols") == ["TLSv1.2 TLSv1.3"]


def test_ciphers_ecdhe_aead_only(conf):
    (ciphers,) = directives(conf["all"], "ssl_ciphers")
    for suite in ciphers.split(":"):
        assert suite.startswith("ECDHE-"), suite
        assert "DHE-" not in suite.replace("ECDHE-", ""), suite
        assert re.search(r"GCM|CHACHA20", suite), suite
        assert "CBC" not in suite and "SHA1" not in suite
    assert directives(conf["all"], "ssl_prefer_server_ciphers") == ["off"]
    assert directives(conf["all"], "ssl_ecdh_curve") == ["X25519:prime256v1:secp384r1"]
    assert directives(conf["all"], "ssl_session_tickets") == ["off"]
    assert directives(conf["all"], "ssl_session_cache")[0].startswith("shared:")
    assert not directives(conf["all"], "ssl_dhparam")


def test_no_ocsp_stapling(conf):
    assert not re.search(r"(?m)^\s*ssl_stapling\s+on", conf["all"])
    assert "OCSP" in conf["conf.d/00-http.conf"]


def test_hsts(conf):
    assert 'https "max-age=63072000; includeSubDomains"' in conf["conf.d/00-http.conf"]
    assert "add_header Strict-Transport-Security $edge_hsts always;" in conf["conf.d/snippets/security-headers.conf"]


def test_security_headers_snippet_complete(conf):
    snippet = conf["conf.d/snippets/security-headers.conf"]
    for header in ["Content-Security-Policy", "X-Content-Type-Options", "Referrer-Policy", "Permissions-Policy",
                   "Cross-Origin-Opener-Policy", "Cross-Origin-Resource-Policy", "X-Frame-Options"]:
        lines = [d for d in directives(snippet, "add_header") if d.startswith(header + " ")]
        assert len(lines) == 1, header
        assert lines[0].endswith(" always"), header
    assert "Content-Security-Policy $edge_csp always" in directives(snippet, "add_header")
    csp_map = re.search(r"map \$uri \$edge_csp \{(.*?)\n\}", conf["conf.d/00-http.conf"], re.S).group(1)
    entries = dict(re.findall(r'^\s*(\S+) "([^"]*)";', csp_map, re.M))
    assert set(entries) == {"default", '"~^/api/docs/"'}
    for csp in entries.values():
        for part in ["default-src 'self'", "script-src 'self';", "object-src 'none'", "frame-ancestors 'none'",
                     "base-uri 'self'", "form-action 'self'"]:
            assert part in csp
    # The documentation's one exception: inline styles, there only.
    assert "style-src 'self';" in entries["default"]
    assert "style-src 'self' 'unsafe-inline';" in entries['"~^/api/docs/"']
    assert '"DENY"' in snippet and '"nosniff"' in snippet


def test_every_location_includes_security_headers(conf):
    locations = [loc for server in blocks(conf["conf.d/10-edge.conf"], "server")
                 for loc in blocks(server[1], "location")]
    assert len(locations) >= 8
    for header, body in locations:
        assert SNIPPET in body, f"location {header} lacks the security headers snippet"
    # No add_header outside locations (every location sets its own, so nginx would drop it there), but the
    # snippet once for the answer the server itself gives to a confusing path.
    for _, server in blocks(conf["conf.d/10-edge.conf"], "server"):
        outside = re.sub(r"location[^{]*\{[^}]*\}", "", server)
        if "$edge_confusing_path" in outside:
            outside = outside.replace(SNIPPET, "", 1)
        assert "add_header" not in outside and "include /etc/nginx/conf.d/snippets/security" not in outside


def test_429_with_json(conf):
    text = conf["all"]
    assert directives(text, "limit_req_status") == ["429"]
    assert directives(text, "limit_conn_status") == ["429"]
    assert directives(text, "error_page").count("429 = @too_many") == 2
    assert "return 429 '{\"error\":\"too_many_requests\"}';" in text
    (_, body), = [b for b in blocks(conf["conf.d/10-edge.conf"], "location") if b[0] == "@too_many"][:1]
    assert "default_type application/json;" in body


def test_limits(conf):
    text = conf["all"]
    assert "zone=edge_api:10m rate=20r/s" in text
    assert "zone=edge_auth:10m rate=5r/m" in text
    assert "limit_req zone=edge_api burst=40 nodelay" in text
    assert "limit_conn edge_perip 100" in text
    for name in ["client_header_timeout", "client_body_timeout", "send_timeout", "keepalive_timeout",
                 "client_max_body_size", "large_client_header_buffers"]:
        assert directives(text, name), name
    assert not directives(text, "set_real_ip_from")


def test_real_ip_only_with_trusted_proxies():
    text = render_edge(edge_nginx_trusted_proxies=["10.0.0.0/8", "192.0.2.1"])["conf.d/00-http.conf"]
    assert directives(text, "set_real_ip_from") == ["10.0.0.0/8", "192.0.2.1"]
    assert directives(text, "real_ip_header") == ["X-Forwarded-For"]
    assert directives(text, "real_ip_recursive") == ["on"]


def test_server_tokens_off_and_logs(conf):
    assert directives(conf["all"], "server_tokens") == ["off"]
    assert directives(conf["all"], "access_log")[0].startswith("/dev/stdout")
    assert directives(conf["nginx.conf"], "error_log")[0].startswith("/dev/stderr")


def test_non_root_readonly_layout(conf):
    main = conf["nginx.conf"]
    assert not directives(main, "user")
    assert directives(main, "pid") == ["/tmp/nginx.pid"]
    for name in ["client_body_temp_path", "proxy_temp_path", "fastcgi_temp_path", "uwsgi_temp_path", "scgi_temp_path"]:
        assert directives(main, name)[0].startswith("/tmp/"), name
    assert directives(main, "worker_connections") == ["16384"]
    assert directives(main, "multi_accept") == ["on"]
    assert directives(main, "worker_rlimit_nofile") == ["65535"]
    assert not directives(main, "load_module")


def test_listen_ports(conf):
    listens = directives(conf["conf.d/10-edge.conf"], "listen")
    # an explicit backlog: nginx's own 511 overflows under a burst of new TLS clients
    assert listens == ["8080 default_server backlog=8192", "8443 ssl http2 default_server backlog=8192"]


def test_listen_backlog_and_ipv6():
    text = render_edge(edge_nginx_listen_backlog=1024, edge_nginx_listen_ipv6=True)["conf.d/10-edge.conf"]
    assert directives(text, "listen") == [
        "8080 default_server backlog=1024", "[::]:8080 default_server backlog=1024",
        "8443 ssl http2 default_server backlog=1024", "[::]:8443 ssl http2 default_server backlog=1024"]


def test_status_server_only_when_asked_and_only_stub_status(conf):
    assert len(blocks(conf["conf.d/10-edge.conf"], "server")) == 2  # none by default
    text = render_edge(edge_nginx_status_port=9145)["conf.d/10-edge.conf"]
    servers = blocks(text, "server")
    assert len(servers) == 3
    status = servers[2][1]
    assert directives(status, "listen") == ["9145"] and directives(status, "access_log") == ["off"]
    locations = dict(blocks(status, "location"))
    assert set(locations) == {"= /stub_status", "/"}
    assert "stub_status;" in locations["= /stub_status"] and "deny all;" in locations["= /stub_status"]
    assert "return 404;" in locations["/"]


def test_http_server_redirects_except_acme(conf):
    http_server = blocks(conf["conf.d/10-edge.conf"], "server")[0][1]
    locs = dict(blocks(http_server, "location"))
    assert "root /var/www/acme;" in locs["^~ /.well-known/acme-challenge/"]
    assert "return 308 https://$host$request_uri;" in locs["/"]
    custom = render_edge(edge_nginx_public_https_port=8443)["conf.d/10-edge.conf"]
    assert "return 308 https://$host:8443$request_uri;" in custom


def test_routing_and_caching(conf):
    https_server = blocks(conf["conf.d/10-edge.conf"], "server")[1][1]
    locs = dict(blocks(https_server, "location"))
    assert 'Cache-Control "public, max-age=31536000, immutable"' in locs["/assets/"]
    for api in ["/api/", "/api/auth/", "= /actuator/health", "/actuator/"]:
        assert 'Cache-Control "no-store"' in locs[api], api
    assert "proxy_pass http://edge_backend;" in locs["/api/"]
    assert "return 404" in locs["/actuator/"]
    assert "limit_req zone=edge_auth" in locs["/api/auth/"]
    if "proxy_pass http://edge_frontend;" in locs["/"]:
        assert 'Cache-Control "no-cache"' in locs["/"]
    else:
        assert "try_files $uri /index.html;" in locs["/"]
        assert 'Cache-Control "no-cache"' in locs["= /index.html"]


@pytest.mark.parametrize("expose", [True, False])
def test_api_docs_location(expose):
    """The documentation prefix gets a location of its own: proxied with the API's limit, or a 404 when hidden
    (without it the /api/ location would publish it); the security headers, CSP included, apply either way."""
    files = render_edge(edge_nginx_expose_api_docs=expose)
    https_server = blocks(files["conf.d/10-edge.conf"], "server")[1][1]
    docs = dict(blocks(https_server, "location"))["^~ /api/docs/"]
    assert SNIPPET in docs and 'Cache-Control "no-store"' in docs
    assert ("proxy_pass http://edge_backend;" in docs) is expose
    assert ("limit_req zone=edge_api" in docs) is expose
    assert ("return 404" in docs) is not expose


def test_no_api_docs_location_when_path_empty():
    https_server = blocks(render_edge(edge_nginx_api_docs_path="")["conf.d/10-edge.conf"], "server")[1][1]
    assert not [name for name, _ in blocks(https_server, "location") if "docs" in name]


def confusing_path_regex(conf):
    (pattern,) = re.findall(r'map \$request_uri \$edge_confusing_path \{[^}]*"~(.*)" 1;', conf["conf.d/00-http.conf"])
    return re.compile(pattern)


@pytest.mark.parametrize("path", CONFUSING_PATHS)
def test_confusing_paths_are_refused(conf, path):
    assert confusing_path_regex(conf).search(path), path


@pytest.mark.parametrize("path", PLAIN_PATHS)
def test_plain_paths_pass(conf, path):
    assert not confusing_path_regex(conf).search(path), path


def test_confusing_paths_get_400_before_any_location(conf):
    https_server = blocks(conf["conf.d/10-edge.conf"], "server")[1][1]
    confusing = dict(blocks(https_server, "if"))["($edge_confusing_path)"]
    assert confusing.strip() == "return 400;"
    # The server-level headers apply to that answer (an `if` at server level inherits them).
    assert SNIPPET in https_server.split("location")[0]


def test_forwarded_for_is_what_the_edge_saw(conf):
    proxy = conf["conf.d/snippets/proxy.conf"]
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in proxy
    assert "$proxy_add_x_forwarded_for" not in proxy


@pytest.mark.parametrize("api_gzip", [False, True])
def test_api_responses_not_compressed_unless_asked(api_gzip):
    https_server = blocks(render_edge(edge_nginx_api_gzip=api_gzip)["conf.d/10-edge.conf"], "server")[1][1]
    locs = dict(blocks(https_server, "location"))
    for api in ["/api/", "/api/auth/"]:
        assert ("gzip off;" in locs[api]) is not api_gzip, api
    assert "gzip off;" not in locs["/"]


def test_upstream_keepalive_and_proxy(conf):
    ups = dict(blocks(conf["conf.d/00-http.conf"], "upstream"))
    # The servers come from their own file, which compose_stack rewrites during a rolling replacement.
    assert "include /etc/nginx/conf.d/upstreams/backend.conf;" in ups["edge_backend"]
    assert "keepalive 32;" in ups["edge_backend"]
    assert directives(conf["conf.d/upstreams/backend.conf"], "server") == ["backend:8080 max_fails=3 fail_timeout=10s"]
    if "edge_frontend" in ups:  # not when the edge serves the SPA itself
        assert "include /etc/nginx/conf.d/upstreams/frontend.conf;" in ups["edge_frontend"]
        assert directives(conf["conf.d/upstreams/frontend.conf"], "server") == ["frontend:8080 max_fails=3 fail_timeout=10s"]
    proxy = conf["conf.d/snippets/proxy.conf"]
    assert directives(proxy, "proxy_http_version") == ["1.1"]
    assert 'Connection ""' in proxy
    assert "proxy_next_upstream error timeout http_502 http_503" in proxy
    assert directives(proxy, "proxy_next_upstream_tries") == ["2"]
    # Answers up to 32k fit the first buffer: a reload cut off larger ones (tests/e2e: reloads under traffic).
    assert directives(proxy, "proxy_buffer_size") == ["32k"]
    assert directives(proxy, "proxy_buffers") == ["8 32k"]
    for header in ["X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host", "X-Request-ID"]:
        assert f"proxy_set_header {header} " in proxy


def test_performance(conf):
    text = conf["all"]
    for name in ["sendfile", "tcp_nopush", "tcp_nodelay"]:
        assert directives(text, name) == ["on"], name
    # On at http level; off in the API's two locations (BREACH, edge_nginx_api_gzip).
    assert directives(conf["conf.d/00-http.conf"], "gzip") == ["on"]
    assert directives(text, "open_file_cache")
    assert "brotli" not in strip(text)


def test_brotli_opt_in():
    files = render_edge(edge_nginx_brotli=True)
    assert directives(files["nginx.conf"], "load_module")
    assert directives(files["conf.d/00-http.conf"], "brotli") == ["on"]


def test_http2_directive_style():
    text = render_edge(edge_nginx_http2_style="directive")["conf.d/10-edge.conf"]
    assert directives(text, "http2") == ["on"]
    assert "8443 ssl default_server backlog=8192" in directives(text, "listen")


def strip(text):
    return "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#"))


@pytest.mark.parametrize("upstreams, hosts", [
    ({}, ["backend", "frontend"]),
    ({"edge_nginx_frontend_upstream": ""}, ["backend"]),
    ({"edge_nginx_backend_upstream": "10.0.0.5:8080", "edge_nginx_frontend_upstream": "[fd00::5]:8080"}, []),
])
def test_every_rendered_file_is_tested_before_it_goes_live(upstreams, hosts):
    """The files compared, tested with nginx -t and copied are exactly the files the role renders; the test
    container resolves the upstreams' host names (never their IP addresses) to a placeholder."""
    t = templar(["edge_nginx"], upstreams)
    managed = t.template(trust_as_template("{{ edge_nginx__managed }}"))
    rendered = render_edge(**upstreams)
    assert sorted(managed) == sorted(rendered), "a rendered file the candidate check would not see (or the reverse)"
    assert t.template(trust_as_template("{{ edge_nginx__upstream_hosts }}")) == hosts


def test_maintenance_mode_answers_503_except_health_checks():
    off = render_edge()
    assert "return 503" not in off["conf.d/10-edge.conf"]
    on = render_edge(edge_nginx__maintenance_on=True, edge_nginx_maintenance_retry_after=120,
                     edge_nginx_maintenance_message="Back at 10:00 <UTC>")
    https = on["conf.d/10-edge.conf"].split("server {")[2]
    assert "if ($edge_maintenance_exempt = 0) {\n        return 503;" in https
    assert directives(https, "error_page")[-1] == "503 @maintenance_$edge_maintenance_kind"
    named = dict(blocks(https, "location"))
    assert set(named) >= {"@maintenance_json", "@maintenance_html"}
    for kind, content_type in (("json", "application/json"), ("html", "text/html")):
        body = named[f"@maintenance_{kind}"]
        assert 'add_header Retry-After "120" always;' in body and f"default_type {content_type};" in body
        assert SNIPPET in body  # the security headers, CSP included
    assert '"retry_after": 120' in named["@maintenance_json"]
    assert "Back at 10:00 &lt;UTC&gt;" in named["@maintenance_html"]
    exempt = dict(blocks(on["conf.d/00-http.conf"], "map"))["$uri $edge_maintenance_exempt"]
    assert "/healthz 1;" in exempt and "/actuator/health 1;" in exempt
    # The plain-HTTP server (ACME challenges, the redirect) is never in maintenance.
    assert "503" not in on["conf.d/10-edge.conf"].split("server {")[1]
