"""Render the edge_nginx role's templates with Ansible's templating engine (ansible_render.py)
into a {relative path in the conf dir: text} dict, plus small parsers for nginx blocks."""

import re

import yaml

from ansible.template import trust_as_template

from ansible_render import ROLES, render, templar

# The files the role renders (its vars/main.yml), each from templates/<path without conf.d/>.j2.
EDGE_FILES = {path: re.sub(r"^conf\.d/", "", path) + ".j2"
              for path in yaml.safe_load((ROLES / "edge_nginx" / "vars" / "main.yml").read_text())["edge_nginx__files"]}


def render_edge(roles=None, **extra):
    """All edge config files the role writes, rendered with the defaults of `roles` (edge_nginx alone unless
    given) plus `extra`: EDGE_FILES and one servers file per upstream of edge_nginx__upstreams."""
    roles = roles or ["edge_nginx"]
    files = {dest: render("edge_nginx", src, extra, roles=roles) for dest, src in EDGE_FILES.items()}
    for upstream in templar(roles, extra).template(trust_as_template("{{ edge_nginx__upstreams }}")):
        files[f"conf.d/upstreams/{upstream['key']}.conf"] = render(
            "edge_nginx", "upstream.conf.j2", {**extra, "edge_nginx__upstream": upstream}, roles=roles)
    return files


def strip_comments(text):
    return "\n".join(line.split("#", 1)[0] if not line.lstrip().startswith("#") else "" for line in text.splitlines())


def directives(text, name):
    """Argument strings of every `name ...;` directive (comments removed)."""
    return [m.group(1).strip() for m in re.finditer(r"(?m)^\s*" + re.escape(name) + r"\s+((?:[^;\"']|\"[^\"]*\"|'[^']*')*);", strip_comments(text))]


def blocks(text, keyword):
    """(header, body) of every `keyword <args> { ... }` block, braces balanced."""
    text = strip_comments(text)
    out = []
    for match in re.finditer(r"(?m)^\s*" + re.escape(keyword) + r"\b([^{;]*)\{", text):
        depth, i = 1, match.end()
        while depth and i < len(text):
            depth += {"{": 1, "}": -1}.get(text[i], 0)
            i += 1
        out.append((match.group(1).strip(), text[match.end():i - 1]))
    return out


# Paths a backend (Tomcat, Spring) could read differently from nginx's normalised $uri; the unit tests
# check the edge's pattern on them, tests/integration/test_edge.py sends them to a real nginx.
CONFUSING_PATHS = [
    "/api/..;/actuator/env", "/api/items/..;/..;/actuator/env", "/api;/items", "/api/items;jsessionid=1",
    "/api/%2e%2e/actuator/env", "/api/%2E%2E/actuator/env", "/api/.%2e/actuator/env", "/api/%2e./actuator/env",
    "/api/items%2f..%2f..%2factuator%2fenv", "/api/items%2F1", "/api/..%5cactuator/env", "/api/..%5Cactuator/env",
    "/api/..\\actuator/env", "/api//items", "//api/items", "/api/./items", "/api/items/../info", "/api/items/..",
    "/api/%252e%252e/actuator/env", "/api/items%00.json", "/api/items/%2e", "/actuator;/env", "/actuator/health;x",
    "/api/docs/..;/..;/actuator/env", "/./api/items", "/api/items/.?x=1",
]
PLAIN_PATHS = ["/api/items", "/api/items/12", "/api/items?q=a;b&next=%2e%2e//x", "/assets/index-B1c2.js", "/",
               "/api/docs/swagger-ui/index.html", "/api/items.v2/..x", "/.well-known/x", "/api/items/%C3%A9"]
