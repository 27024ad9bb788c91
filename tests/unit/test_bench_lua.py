"""benchmarks/wrk/bench.lua in the real wrk, against a small local HTTP server that records when each request
arrives: the arrival pattern the script produces is what every open-model and hold figure rests on."""

import asyncio
import os
import subprocess
import threading
import time

from script_loader import ROOT

LUA = ROOT / "benchmarks" / "wrk" / "bench.lua"


class Recorder:
    """HTTP/1.1 keep-alive server on 127.0.0.1 answering every request with 200; keeps arrival times."""

    def __init__(self):
        self.arrivals = []
        self.ready = threading.Event()
        self.loop = asyncio.new_event_loop()
        threading.Thread(target=self.loop.run_until_complete, args=(self.serve(),), daemon=True).start()
        assert self.ready.wait(5)

    async def serve(self):
        self.stop = asyncio.Event()
        server = await asyncio.start_server(self.client, "127.0.0.1", 0, backlog=1024)
        self.port = server.sockets[0].getsockname()[1]
        self.ready.set()
        async with server:
            await self.stop.wait()

    async def client(self, reader, writer):
        try:
            while await reader.readuntil(b"\r\n\r\n"):
                self.arrivals.append(time.monotonic())
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()

    def close(self):
        self.loop.call_soon_threadsafe(self.stop.set)


def run_wrk(conns, seconds, think_ms, pause_max_ms):
    srv = Recorder()
    env = dict(os.environ, WRK_PATHS="/", WRK_THINK_MS=str(think_ms), WRK_PAUSE_MAX_MS=str(pause_max_ms),
               WRK_THREAD_CONNECTIONS=str(conns))
    t0 = time.monotonic()
    out = subprocess.run(["wrk", "-t", "1", "-c", str(conns), "-d", f"{seconds}s", "-s", str(LUA),
                          f"http://127.0.0.1:{srv.port}"], env=env, capture_output=True, text=True, timeout=seconds + 30)
    srv.close()
    assert "WRKJSON" in out.stdout, out.stdout + out.stderr
    return [t - t0 for t in srv.arrivals]


def test_connections_opened_together_do_not_fire_together():
    # Think time at the pause cap leaves keep-alive pauses no room to vary (the 10,000-connection hold:
    # 7,496 ms of think under a 7,500 ms cap). The connections of one wrk process connect within
    # milliseconds; if their first pauses were as long as the later ones, all of them would send in the same
    # instant, think time after think time: bursts of hundreds of requests instead of a steady rate.
    conns, think, seconds = 300, 1000, 4
    arrivals = run_wrk(conns, seconds, think, pause_max_ms=think)
    steady = [t for t in arrivals if 1.0 <= t < seconds - 0.2]
    assert len(steady) >= 0.8 * conns * (seconds - 1.2)
    # Bursts show as few 50 ms windows holding whole seconds of requests (without random first pauses: all
    # 300 in one window each second). The pattern repeats every think time, so a single stall of the test's
    # server or of wrk in the first second (a loaded CI machine) keeps a few windows empty and their
    # neighbours 3x full for the whole run: the bounds leave room for that, not for a burst.
    window = 0.05
    counts = {}
    for t in steady:
        counts[int(t / window)] = counts.get(int(t / window), 0) + 1
    windows = (seconds - 1.2) / window
    assert len(counts) >= 0.5 * windows, f"requests in {len(counts)} of {windows:.0f} windows"
    assert max(counts.values()) <= conns / 4, sorted(counts.values())[-5:]


def test_keep_alive_pauses_keep_the_mean_think_time():
    # 100 connections, 500 ms mean think: about 200 req/s after the first pauses (uniform over one think time).
    conns, think, seconds = 100, 500, 4
    arrivals = run_wrk(conns, seconds, think, pause_max_ms=7500)
    steady = [t for t in arrivals if 1.0 <= t < seconds - 0.2]
    rate = len(steady) / (seconds - 1.2)
    assert 0.85 * conns * 1000 / think <= rate <= 1.15 * conns * 1000 / think
