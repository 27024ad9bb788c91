"""Render the edge_nginx role's templates with Ansible's templating engine (ansible_render.py)
into a {relative path in the conf dir: text} dict, plus small parsers for nginx blocks."""

import re

from ansible_render import render

EDGE_FILES = {
    "nginx.conf": "nginx.conf.j2",
    "conf.d/00-http.conf": "00-http.conf.j2",
    "conf.d/10-edge.conf": "10-edge.conf.j2",
    "conf.d/snippets/security-headers.conf": "snippets/security-headers.conf.j2",
    "conf.d/snippets/proxy.conf": "snippets/proxy.conf.j2",
}


def render_edge(**extra):
    """All edge config files rendered with the role defaults plus `extra`."""
    return {dest: render("edge_nginx", src, extra) for dest, src in EDGE_FILES.items()}


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
