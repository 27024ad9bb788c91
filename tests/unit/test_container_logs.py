"""container_logs: the rsyslog configuration, run by a real rsyslogd fed lines as Docker's syslog driver sends
them, and the command that reads a service's logs across releases."""

import gzip
import os
import shutil
import signal
import socket
import subprocess
import time

import pytest

from ansible_render import render

RSYSLOGD = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


def _docker_line(tag, text, when="2026-12-07T09:09:03.596759Z"):
    """One datagram of Docker's syslog driver with syslog-format rfc5424micro, as Docker 20.10 sends it."""
    return f"<30>1 {when} host-1 {tag} 4242 {tag} - {text}\n".encode()


@pytest.fixture
def collector(tmp_path):
    """rsyslogd in the foreground with the role's file (plus the module rsyslog.conf loads on a host)."""
    logs, sock = tmp_path / "containers", tmp_path / "sock" / "syslog.sock"
    logs.mkdir()
    sock.parent.mkdir()
    proc = _rsyslogd(tmp_path, "collector", {"container_logs_dir": str(logs), "container_logs_socket": str(sock)})
    client = _connect(sock)

    def send(*datagrams):
        for datagram in datagrams:
            client.send(datagram)

    yield logs, send
    client.close()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=10)


def _wait_for(path, lines):
    for _ in range(100):
        if path.exists() and len(path.read_text().splitlines()) >= lines:
            return path.read_text().splitlines()
        time.sleep(0.05)
    return path.read_text().splitlines() if path.exists() else []


def test_each_service_gets_one_file_whatever_container_wrote(collector):
    logs, send = collector
    send(_docker_line("backend/0af7651916cd", "started release 1.0"),
         _docker_line("edge/1b2c3d4e5f60", '10.0.0.1 - - "GET / HTTP/1.1" 200 rid=abc'),
         _docker_line("backend/9e8d7c6b5a41", "started release 1.1  (two  spaces kept)", "2026-12-07T09:10:00.000001Z"))
    assert _wait_for(logs / "backend.log", 2) == [
        "2026-12-07T09:09:03.596759Z 0af7651916cd started release 1.0",
        "2026-12-07T09:10:00.000001Z 9e8d7c6b5a41 started release 1.1  (two  spaces kept)"]
    assert _wait_for(logs / "edge.log", 1) == ['2026-12-07T09:09:03.596759Z 1b2c3d4e5f60 10.0.0.1 - - "GET / HTTP/1.1" 200 rid=abc']
    assert sorted(p.name for p in logs.iterdir()) == ["backend.log", "edge.log"]
    assert oct((logs / "backend.log").stat().st_mode & 0o777) == "0o640"


def test_a_tag_cannot_write_outside_the_directory(collector):
    logs, send = collector
    send(_docker_line("../../etc/x", "escape"), _docker_line("backend/0af7651916cd", "fine"))
    _wait_for(logs / "backend.log", 1)
    assert not (logs.parent.parent / "etc").exists()
    assert all(p.parent == logs for p in logs.rglob("*"))


def _logs_command(tmp_path):
    script = tmp_path / "shop-logs"
    script.write_text(render("container_logs", "logs.sh.j2", {
        "container_logs_project": "shop", "container_logs_dir": str(tmp_path / "containers")}))
    script.chmod(0o755)
    return lambda *args: subprocess.run([str(script), *args], capture_output=True, text=True)


def test_the_logs_command_reads_rotated_files_oldest_first(tmp_path):
    logs = tmp_path / "containers"
    logs.mkdir()
    (logs / "backend.log").write_text("now\n")
    (logs / "backend.log.1").write_text("yesterday\n")  # delaycompress: the newest rotated file stays plain
    for day in range(2, 12):
        (logs / f"backend.log.{day}.gz").write_bytes(gzip.compress(f"{day} days ago\n".encode()))
    (logs / "edge.log").write_text("other service\n")
    run = _logs_command(tmp_path)
    out = run("backend")
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == [f"{day} days ago" for day in range(11, 1, -1)] + ["yesterday", "now"]
    usage = run()
    assert usage.returncode == 2 and "services: backend edge" in usage.stderr
    assert run("../edge").returncode == 2
    missing = run("worker")
    assert missing.returncode == 1 and "no logs of worker" in missing.stderr


def _rsyslogd(tmp_path, name, variables):
    """rsyslogd in the foreground with the role's file rendered with `variables`, in a directory of its own."""
    if not os.path.exists(RSYSLOGD):
        pytest.fail("rsyslogd missing: make setup installs rsyslog")
    home = tmp_path / name
    home.mkdir()
    conf = home / "containers.conf"
    conf.write_text(render("container_logs", "rsyslog.conf.j2", {"container_logs_project": "shop", **variables}))
    main = home / "rsyslog.conf"
    main.write_text(f'global(workDirectory="{home}")\nmodule(load="imuxsock" sysSock.use="off")\ninclude(file="{conf}")\n')
    check = subprocess.run([RSYSLOGD, "-N1", "-f", str(main)], capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    return subprocess.Popen([RSYSLOGD, "-n", "-f", str(main), "-i", str(home / "pid")],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def _connect(sock):
    """A client of the collector's datagram socket, once rsyslogd made it."""
    for _ in range(100):
        if sock.exists():
            break
        time.sleep(0.05)
    client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    client.connect(str(sock))
    return client


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_lines_reach_the_central_collector_even_when_it_starts_late(tmp_path):
    """A host forwards to a central collector that is down at first: the queue keeps the lines, and the collector
    files them per sending host and service, with names from the network made path-safe."""
    port = _free_port()
    sock = tmp_path / "sender-sock" / "syslog.sock"
    sock.parent.mkdir()
    sender = _rsyslogd(tmp_path, "sender", {
        "container_logs_dir": str(tmp_path / "sender-logs"), "container_logs_socket": str(sock),
        "container_logs_forward_host": "127.0.0.1", "container_logs_forward_port": port})
    remote = tmp_path / "remote"
    receiver = None
    try:
        client = _connect(sock)
        client.send(_docker_line("backend/0af7651916cd", "sent while the collector was down rid=1"))
        assert _wait_for(tmp_path / "sender-logs" / "backend.log", 1)  # kept here meanwhile
        receiver = _rsyslogd(tmp_path, "receiver", {
            "container_logs_dir": str(tmp_path / "receiver-logs"), "container_logs_socket": str(tmp_path / "receiver.sock"),
            "container_logs_receive_port": port, "container_logs_remote_dir": str(remote)})
        # Straight to the port too, as any host that can connect might: a hostile host name and tag.
        for _ in range(100):
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
                    line = b"<30>1 2026-12-07T09:09:04Z ../../evil ../../../x/1 - - - escape"
                    raw.sendall(str(len(line)).encode() + b" " + line)
                break
            except OSError:
                time.sleep(0.1)
        client.send(_docker_line("backend/0af7651916cd", "sent once it was up rid=2"))
        client.close()
        # Docker's datagrams name the sending host host-1 (_docker_line); rsyslog resumes within its 10 s interval.
        expected = ["2026-12-07T09:09:03.596759Z 0af7651916cd sent while the collector was down rid=1",
                    "2026-12-07T09:09:03.596759Z 0af7651916cd sent once it was up rid=2"]
        lines = []
        for _ in range(300):
            path = remote / "host-1" / "backend.log"
            lines = path.read_text().splitlines() if path.exists() else []
            if set(expected) <= set(lines):
                break
            time.sleep(0.1)
        # At least once, in order: after an outage rsyslog may send a line it is not sure arrived a second time.
        assert set(lines) == set(expected) and lines.index(expected[0]) < lines.index(expected[1]), lines
        kept = {p.relative_to(tmp_path).parts[0] for p in tmp_path.rglob("*.log")}
        assert kept == {"sender-logs", "remote"}, kept  # the hostile host and tag stayed inside remote/
    finally:
        for proc in (sender, receiver):
            if proc:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=15)
