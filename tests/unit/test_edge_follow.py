"""The edge's PID 1 (roles/compose_stack/files/edge-follow), run with a stand-in nginx and DNS: it reloads
nginx when an upstream name's addresses change, never while a name does not resolve, and passes Docker's
signals on to nginx, ending with nginx's exit status."""

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "roles" / "compose_stack" / "files" / "edge-follow"

# nginx: records the signals it gets; QUIT and TERM end it with status 7. Like nginx it installs its handlers
# with sigaction, which a shell's background job needs for QUIT and INT (sh starts it with them ignored).
FAKE_NGINX = """#!/usr/bin/env python3
import os, signal, sys, time
log = lambda line: open(os.environ["LOG"], "a").write(line + "\\n")
log("started " + " ".join(sys.argv[1:]))
signal.signal(signal.SIGHUP, lambda *_: log("HUP"))
for sig in (signal.SIGQUIT, signal.SIGTERM):
    signal.signal(sig, lambda signum, _: (log(signal.Signals(signum).name[3:]), sys.exit(7)))
while True:
    time.sleep(0.05)
"""
# getent ahostsv4 NAME: the lines of $DNS/NAME (an address is its own answer, as Docker's resolver does).
FAKE_GETENT = """#!/bin/sh
case "$2" in
  [0-9]*) echo "$2 STREAM $2" ;;
  *) [ -s "$DNS/$2" ] && sed 's/$/ STREAM/' "$DNS/$2" || exit 2 ;;
esac
"""


def _wait(predicate, seconds=5.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


@pytest.fixture
def edge(tmp_path):
    bin_dir, dns, servers = tmp_path / "bin", tmp_path / "dns", tmp_path / "upstreams"
    for d in (bin_dir, dns, servers):
        d.mkdir()
    for name, text in (("nginx", FAKE_NGINX), ("getent", FAKE_GETENT)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    (servers / "backend.conf").write_text("# comment\nserver backend:8080 max_fails=3 fail_timeout=10s;\n")
    (servers / "frontend.conf").write_text("server frontend:8080;\n")
    (dns / "backend").write_text("172.18.0.5\n")
    (dns / "frontend").write_text("172.18.0.6\n")
    log = tmp_path / "nginx.log"
    env = dict(os.environ, PATH=f"{bin_dir}:{os.environ['PATH']}", DNS=str(dns), LOG=str(log),
               EDGE_FOLLOW_SERVERS=str(servers))
    proc = subprocess.Popen(["sh", str(SCRIPT), "1"], env=env, stderr=subprocess.PIPE, text=True)
    lines = lambda: log.read_text().split("\n") if log.exists() else []  # noqa: E731
    assert _wait(lambda: "started -g daemon off;" in lines())
    yield proc, dns, servers, lines
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def test_a_changed_address_reloads_nginx_once(edge):
    proc, dns, _, lines = edge
    time.sleep(1.5)
    assert "HUP" not in lines(), "nothing changed: no reload"
    (dns / "backend").write_text("172.18.0.9\n")
    assert _wait(lambda: lines().count("HUP") == 1, 3)
    time.sleep(1.5)
    assert lines().count("HUP") == 1, "one change, one reload"


def test_no_reload_while_a_name_does_not_resolve(edge):
    proc, dns, _, lines = edge
    (dns / "backend").write_text("")  # the crashed container is out of Docker's DNS
    time.sleep(2.5)
    assert "HUP" not in lines(), "a reload now would fail on the missing name"
    (dns / "backend").write_text("172.18.0.12\n")  # restarted, on another address
    assert _wait(lambda: lines().count("HUP") == 1, 3)


def test_addresses_written_in_the_files_are_followed_too(edge):
    proc, dns, servers, lines = edge
    (servers / "backend.conf").write_text("server 172.18.0.20:8080 max_fails=3 fail_timeout=10s;\n")
    assert _wait(lambda: lines().count("HUP") == 1, 3)
    (dns / "backend").write_text("172.18.0.21\n")  # the name is not in the files any more
    time.sleep(2.5)
    assert lines().count("HUP") == 1


@pytest.mark.parametrize("sig, seen", [(signal.SIGQUIT, "QUIT"), (signal.SIGTERM, "TERM")])
def test_docker_stop_signals_reach_nginx_and_its_status_is_the_containers(edge, sig, seen):
    proc, _, _, lines = edge
    proc.send_signal(sig)
    assert proc.wait(timeout=5) == 7
    assert seen in lines()


def test_the_container_ends_when_nginx_does(edge):
    proc, _, _, lines = edge
    nginx = subprocess.run(["pgrep", "-P", str(proc.pid), "-f", "nginx"], capture_output=True, text=True).stdout.split()
    os.kill(int(nginx[0]), signal.SIGKILL)
    assert proc.wait(timeout=5) == 128 + signal.SIGKILL
