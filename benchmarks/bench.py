#!/usr/bin/env python3
"""Load phases of the benchmark against ONE deployed stack; writes a JSON file.

    bench.py --name tuned --project bench-tuned --out results/tuned.json [--sweep] [--hold-rate N]

Every load run is wrk (benchmarks/wrk/bench.lua), bounded by -d and a hard timeout. The target
is the edge container's address on the stack's own bridge network (see docs/benchmarks.md for
why not the 127.0.0.1 published port). CPU: the load generator's from wait4() rusage, the
stack's from each container's cgroup (cpuacct), the Docker daemons' from /proc.
"""
import argparse
import json
import math
import os
import re
import ssl
import subprocess
import threading
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
LUA = HERE / "wrk" / "bench.lua"
CLK_TCK = os.sysconf("SC_CLK_TCK")
QUICK = os.environ.get("BENCH_QUICK") == "1"

# Durations (s) and sizes; quick mode is a smoke run of the same phases.
PHASES = ("warmup", "open", "capacity", "sweep", "hold")
P = {
    "warmup": 4 if QUICK else 6,
    "capacity": 5 if QUICK else 10,
    "open": 6 if QUICK else 20,
    "sweep_step": 6 if QUICK else 15,
    "hold": 25 if QUICK else 110,
    # The hold's clients arrive in 40 groups of 250, 1 s apart (all connected after ~40 s, then
    # >= 60 s held). One wrk process opening thousands of TLS connections at once on a busy
    # machine takes seconds per handshake, while nginx counts client_header_timeout from the accept.
    "ramp_groups": 5 if QUICK else 40,
    "ramp_step": 2 if QUICK else 1,
    "hold_conns": 2000 if QUICK else 10000,
    # Quick runs only: seconds of the API mix after the warm-up, for a JVM that has just started.
    "settle": 60 if QUICK else 0,
    "capacity_conns": 64,
}
# Fixed arrival rates (requests/s) of the open-model runs, the same for both stacks.
OPEN_RATES = {"static": 1000, "cached": 600, "db": 600, "write": 200}
OPEN_THINK_MS = 1000  # connections = rate * think time
SWEEP_RATES = [400, 800, 1600] if QUICK else [500, 1000, 1500, 2000, 2500, 3000, 4000]
SWEEP_THINK_MS = 2000
# Longest pause of a connection between requests (wrk/bench.lua): below the edge's 10 s
# client_header_timeout, which also bounds a new connection's wait for its first request.
# So N held connections carry at least N / 7.5 s requests/s (1,334 for 10,000).
PAUSE_MAX_MS = 7500
P95_LIMIT_MS = 200.0
THREADS = 2


def log(msg):
    print(f"[bench] {msg}", flush=True)


# ---------------------------------------------------------------- CPU accounting
def containers(project):
    out = subprocess.run(["docker", "ps", "-q", "--no-trunc", "--filter",
                          f"label=com.docker.compose.project={project}"],
                         capture_output=True, text=True, check=True).stdout.split()
    names = {}
    for cid in out:
        svc = subprocess.run(["docker", "inspect", "-f",
                              '{{index .Config.Labels "com.docker.compose.service"}}', cid],
                             capture_output=True, text=True).stdout.strip()
        names[cid] = svc or cid[:12]
    return names


def cgroup_cpu_ns(cid):
    for path in (f"/sys/fs/cgroup/cpuacct/docker/{cid}/cpuacct.usage",
                 f"/sys/fs/cgroup/cpu,cpuacct/docker/{cid}/cpuacct.usage",
                 f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/cpu.stat",
                 f"/sys/fs/cgroup/docker/{cid}/cpu.stat"):
        try:
            text = Path(path).read_text()
        except OSError:
            continue
        if path.endswith("cpu.stat"):
            m = re.search(r"usage_usec (\d+)", text)
            return int(m.group(1)) * 1000 if m else None
        return int(text.strip())
    return None


def cgroup_memory_bytes(cid):
    """A container's working set (usage less inactive file cache, as cAdvisor counts it), or None."""
    for usage, stat in ((f"/sys/fs/cgroup/memory/docker/{cid}/memory.usage_in_bytes", "total_inactive_file"),
                        (f"/sys/fs/cgroup/system.slice/docker-{cid}.scope/memory.current", "inactive_file"),
                        (f"/sys/fs/cgroup/docker/{cid}/memory.current", "inactive_file")):
        try:
            used = int(Path(usage).read_text().strip())
            text = Path(usage).with_name("memory.stat").read_text()
        except (OSError, ValueError):
            continue
        m = re.search(rf"^{stat} (\d+)$", text, re.M)
        return max(0, used - (int(m.group(1)) if m else 0))
    return None


def proc_cpu_s(names=("dockerd", "containerd", "docker-proxy", "containerd-shim")):
    total = 0.0
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            stat = (p / "stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1:stat.rindex(")")]
        if any(comm.startswith(n[:15]) for n in names):
            fields = stat[stat.rindex(")") + 2:].split()
            total += (int(fields[11]) + int(fields[12])) / CLK_TCK
    return total


class CpuMeter:
    def __init__(self, project, watchers=None):
        self.project = project
        self.ids = containers(project)
        # The monitoring set beside the stack (a project of its own): what watching the stack costs.
        self.watcher_ids = containers(watchers) if watchers else {}

    def snapshot(self):
        snap = {"t": time.monotonic(), "docker": proc_cpu_s(),
                "containers": {cid: cgroup_cpu_ns(cid) for cid in self.ids}}
        if self.watcher_ids:
            snap["watchers"] = {cid: cgroup_cpu_ns(cid) for cid in self.watcher_ids}
            snap["watchers_memory"] = {cid: cgroup_memory_bytes(cid) for cid in self.watcher_ids}
        return snap

    def delta(self, a, b):
        wall = b["t"] - a["t"]
        per = {}
        for cid, svc in self.ids.items():
            x, y = a["containers"].get(cid), b["containers"].get(cid)
            if x is not None and y is not None:
                per[svc] = round((y - x) / 1e9 / wall, 3)
        out = {"stack_cores": round(sum(per.values()), 3), "per_service_cores": per,
               "docker_daemons_cores": round((b["docker"] - a["docker"]) / wall, 3)}
        if self.watcher_ids:
            cores = sum((b["watchers"][c] - a["watchers"][c]) / 1e9 / wall for c in self.watcher_ids
                        if a["watchers"].get(c) is not None and b["watchers"].get(c) is not None)
            memory = [m for m in b["watchers_memory"].values() if m is not None]
            out["monitoring"] = {"cores": round(cores, 3),
                                 "share_of_stack": round(cores / out["stack_cores"], 3) if out["stack_cores"] else None,
                                 "memory_mb": round(sum(memory) / 1e6, 1) if memory else None}
        return out


# ---------------------------------------------------------------- wrk runs
def count_established(ip, port):
    out = subprocess.run(["ss", "-Htn", "state", "established", "dst", f"{ip}:{port}"],
                         capture_output=True, text=True).stdout
    return sum(1 for line in out.splitlines() if line.strip())


def wrk(meter, base, ip, port, label, conns, duration, paths, think_ms=0, method="GET", body=None,
        sample_conns=False, ramp_groups=1, ramp_step=0):
    """One wrk run, or `ramp_groups` wrk processes started `ramp_step` s apart that all stop
    together (clients arriving over time instead of 10,000 TLS handshakes in the same second).
    Counts are summed; latency percentiles of several processes are the WORST process's."""
    env = dict(os.environ, WRK_PATHS=",".join(paths), WRK_METHOD=method, WRK_THINK_MS=str(think_ms),
               WRK_PAUSE_MAX_MS=str(PAUSE_MAX_MS))
    if body:
        env["WRK_BODY"] = body
    groups = []
    for g in range(ramp_groups):
        c = conns // ramp_groups + (1 if g < conns % ramp_groups else 0)
        t = min(THREADS if ramp_groups == 1 else 1, c)
        groups.append({"offset": g * ramp_step, "conns": c, "threads": t, "duration": duration - g * ramp_step,
                       "env": dict(env, WRK_THREAD_CONNECTIONS=str(c // t))})
    samples = []
    stop = threading.Event()

    def sampler():
        while not stop.wait(2):
            samples.append((round(time.monotonic() - t0, 1), count_established(ip, port)))

    def run_group(g):
        time.sleep(g["offset"])
        cmd = ["wrk", "-t", str(g["threads"]), "-c", str(g["conns"]), "-d", f"{g['duration']}s",
               "--timeout", "5s", "-s", str(LUA), base]
        proc = subprocess.Popen(cmd, env=g["env"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        timer = threading.Timer(g["duration"] + 60, proc.kill)
        timer.start()
        g["output"] = proc.stdout.read()
        _, _, ru = os.wait4(proc.pid, 0)
        timer.cancel()
        g["cpu"] = ru.ru_utime + ru.ru_stime

    before = meter.snapshot()
    t0 = time.monotonic()
    if sample_conns:
        threading.Thread(target=sampler, daemon=True).start()
    runners = [threading.Thread(target=run_group, args=(g,)) for g in groups]
    for th in runners:
        th.start()
    for th in runners:
        th.join()
    stop.set()
    after = meter.snapshot()
    wall = after["t"] - before["t"]
    parsed = []
    for g in groups:
        m = re.search(r"^WRKJSON (.*)$", g.get("output", ""), re.M)
        if not m:
            raise RuntimeError(f"wrk gave no result ({label}): {g.get('output', '')[-2000:]}")
        parsed.append(json.loads(m.group(1)))
    statuses = {}
    for r in parsed:
        for k, v in r["status_counts"].items():
            statuses[k] = statuses.get(k, 0) + v
    err_kinds = {k: sum(r["errors"][k] for r in parsed) for k in parsed[0]["errors"]}
    requests = sum(r["requests"] for r in parsed)
    secs = max(r["duration_us"] for r in parsed) / 1e6
    rate = sum(r["requests"] / (r["duration_us"] / 1e6) for r in parsed)
    ok = sum(v for k, v in statuses.items() if k.startswith(("2", "3")))
    # Requests without an answer. wrk also counts every answer with a status >= 400 as a "status" error;
    # those are requests with an answer, counted once, in non_2xx.
    errors = sum(v for k, v in err_kinds.items() if k != "status")
    lat = {k: round(max(r["latency_us"][k] for r in parsed) / 1000, 2)
           for k in ("p50", "p90", "p95", "p99", "p999", "max")}
    lat["mean"] = round(sum(r["latency_us"]["mean"] * r["requests"] for r in parsed) / max(1, requests) / 1000, 2)
    res = {
        "label": label, "connections": conns, "duration_s": round(secs, 1),
        "wrk_processes": len(groups), "ramp_step_s": ramp_step,
        "think_ms": think_ms, "paths": sorted(set(paths)), "method": method,
        # what the clients offer: a connection's first request comes after a pause uniform over
        # [0, think], so over the run it sends duration / think requests on average
        "target_rate": round(conns * 1000 / think_ms) if think_ms else None,
        "requests": requests, "ok": ok,
        "throughput_rps": round(rate, 1),
        "ok_rps": round(rate * ok / max(1, requests), 1),
        "errors": err_kinds, "error_count": errors,
        "non_2xx": requests - ok,
        "status_counts": statuses,
        "error_rate": round((errors + requests - ok) / max(1, requests + err_kinds["connect"]), 5),
        "latency_ms": lat,
        "loadgen_cores": round(sum(g["cpu"] for g in groups) / wall, 3),
        **meter.delta(before, after),
    }
    if sample_conns:
        res["established_samples"] = samples
    log(f"{label}: {res['throughput_rps']} req/s (target {res['target_rate']}), p50 {lat['p50']} ms, "
        f"p95 {lat['p95']} ms, p99 {lat['p99']} ms, max {lat['max']} ms, errors {errors} {err_kinds}, "
        f"non-2xx {res['non_2xx']}, loadgen {res['loadgen_cores']} cores, stack {res['stack_cores']} cores")
    return res


# ---------------------------------------------------------------- helpers
def fetch(url, method="GET", data=None):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    req = urllib.request.Request(url, method=method, data=data, headers={
        "Host": "localhost", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, context=ctx, timeout=10) as resp:
        return resp.status, resp.read().decode()


def edge_ip(project):
    cid = subprocess.run(["docker", "ps", "-q", "--filter", f"label=com.docker.compose.project={project}",
                          "--filter", "label=com.docker.compose.service=edge"],
                         capture_output=True, text=True, check=True).stdout.split()[0]
    nets = json.loads(subprocess.run(["docker", "inspect", "-f", "{{json .NetworkSettings.Networks}}", cid],
                                     capture_output=True, text=True, check=True).stdout)
    # The published (non-internal) network: the one whose name ends in _default or _edge.
    for name, net in sorted(nets.items()):
        if name.endswith(("_edge", "_default")) and net.get("IPAddress"):
            return net["IPAddress"]
    return next(n["IPAddress"] for n in nets.values() if n.get("IPAddress"))


def passes(r, p95_limit_ms=P95_LIMIT_MS):
    # The stack keeps up when it serves >= 90 % of what the clients offer (a slow server also
    # slows the arrivals of this closed-loop generator, by latency / (think time + latency)).
    return (r["error_count"] == 0 and r["non_2xx"] == 0 and r["latency_ms"]["p95"] < p95_limit_ms
            and r["throughput_rps"] >= 0.9 * r["target_rate"])


# ---------------------------------------------------------------- main
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--name", required=True)
    ap.add_argument("--project", required=True)
    ap.add_argument("--port", type=int, required=True, help="edge HTTPS port inside the container")
    ap.add_argument("--out", required=True)
    ap.add_argument("--sweep", action="store_true", help="find the highest sustained API rate")
    ap.add_argument("--hold-rate", type=int, default=0, help="API rate of the connection-hold run")
    ap.add_argument("--p95-limit-ms", type=float, default=P95_LIMIT_MS,
                    help="p95 a passing run stays below (default %(default)s; the e2e smoke hold judges only stalls)")
    ap.add_argument("--phases", default=",".join(PHASES),
                    help="comma-separated subset of %(default)s, for tuning runs (make bench runs them all)")
    args = ap.parse_args()
    phases = set(args.phases.split(","))
    if phases - set(PHASES):
        ap.error(f"unknown phase(s) {', '.join(sorted(phases - set(PHASES)))}; known: {', '.join(PHASES)}")

    ip = edge_ip(args.project)
    base = f"https://{ip}:{args.port}"
    meter = CpuMeter(args.project, f"{args.project}-monitoring")
    log(f"{args.name}: {base} ({', '.join(sorted(meter.ids.values()))})")

    # Seed: 100 items, so both stacks' list payload is the same size; find a hashed asset.
    for i in range(100):
        fetch(f"{base}/api/items", "POST", json.dumps({"name": f"seed {i}", "description": "bench seed"}).encode())
    _, created = fetch(f"{base}/api/items", "POST", b'{"name":"bench-read","description":"read target"}')
    item_id = json.loads(created)["id"]
    _, index = fetch(f"{base}/")
    assets = re.findall(r'(/assets/[^"]+\.js)', index)
    asset = assets[0] if assets else "/"
    _, listing = fetch(f"{base}/api/items")
    write_body = json.dumps({"name": "bench write", "description": "x" * 64})
    scenarios = {
        "static": {"paths": [asset]},
        "cached": {"paths": ["/api/items"]},
        "db": {"paths": [f"/api/items/{item_id}"]},
        "write": {"paths": ["/api/items"], "method": "POST", "body": write_body},
    }
    api_mix = ["/api/items"] * 4 + [f"/api/items/{item_id}"]

    result = {"name": args.name, "project": args.project, "target": base, "quick": QUICK,
              "params": P, "p95_limit_ms": args.p95_limit_ms, "asset": asset, "list_bytes": len(listing),
              "host": {"cores": os.cpu_count()}, "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "warmup": {}, "capacity": {}, "open": {}, "sweep": [], "hold": None}

    # 1. JIT/caches warm-up (not reported in the comparison).
    for name, sc in scenarios.items() if "warmup" in phases else ():
        result["warmup"][name] = wrk(meter, base, ip, args.port, f"warmup/{name}", 16, P["warmup"],
                                     sc["paths"], 0, sc.get("method", "GET"), sc.get("body"))
    fetch(f"{base}/api/items")  # refill the list cache dropped by the writes
    # A JVM that has just started needs about a minute of traffic before the JIT has compiled the request
    # path: right after a replaced backend (the smoke hold in make e2e) the hold measured p95 305 ms with the
    # backend at 0.85 cores, and 23 ms at 0.3 cores one run later. Quick runs, which skip the phases that
    # warm it in a full run, carry the API mix for P["settle"] s more.
    if "warmup" in phases and P["settle"]:
        result["warmup"]["api_mix"] = wrk(meter, base, ip, args.port, "warmup/api_mix", 16, P["settle"], api_mix, 0)

    # 2. Open model: the same fixed arrival rate for both stacks (writes last: they drop the cache).
    for name, sc in scenarios.items() if "open" in phases else ():
        rate = OPEN_RATES[name]
        conns = max(1, round(rate * OPEN_THINK_MS / 1000))
        result["open"][name] = wrk(meter, base, ip, args.port, f"open/{name}@{rate}", conns, P["open"],
                                   sc["paths"], OPEN_THINK_MS, sc.get("method", "GET"), sc.get("body"))
    fetch(f"{base}/api/items")

    # 3. Closed model at 64 connections: the most each scenario gets through.
    for name, sc in scenarios.items() if "capacity" in phases else ():
        result["capacity"][name] = wrk(meter, base, ip, args.port, f"capacity/{name}", P["capacity_conns"],
                                       P["capacity"], sc["paths"], 0, sc.get("method", "GET"), sc.get("body"))
    fetch(f"{base}/api/items")

    # 4. Rate sweep of the API read mix (80 % cached list, 20 % DB read): highest rate with
    #    0 errors, p95 < 200 ms and >= 90 % of the target rate achieved.
    best = 0
    if args.sweep and "sweep" in phases:
        for rate in SWEEP_RATES:
            conns = round(rate * SWEEP_THINK_MS / 1000)
            r = wrk(meter, base, ip, args.port, f"sweep/api@{rate}", conns, P["sweep_step"], api_mix,
                    SWEEP_THINK_MS)
            r["pass"] = passes(r, args.p95_limit_ms)
            result["sweep"].append(r)
            if not r["pass"]:
                break
            best = rate
        result["sweep_best_rate"] = best

    # 5. Hold N keep-alive connections for P["hold"] s while they carry the API mix at a fixed
    #    rate: think time = N / rate. Retried 20 % lower (at most twice, not below the rate the
    #    pause cap sets) on the swept stack.
    floor = math.ceil(P["hold_conns"] * 1000 / PAUSE_MAX_MS)
    requested = args.hold_rate or best
    hold_rate = max(requested, floor) if requested else 0
    if hold_rate and "hold" in phases:
        attempts = []
        for attempt in range(3 if args.sweep else 1):
            think = round(P["hold_conns"] * 1000 / hold_rate)
            r = wrk(meter, base, ip, args.port, f"hold/{P['hold_conns']}conns@{hold_rate}", P["hold_conns"],
                    P["hold"], api_mix, think, sample_conns=True,
                    ramp_groups=P["ramp_groups"], ramp_step=P["ramp_step"])
            # steady state: every group connected, before wrk starts closing at the end
            steady = [P["ramp_groups"] * P["ramp_step"] + 5, P["hold"] - 2]
            samples = [c for t, c in r["established_samples"] if steady[0] <= t <= steady[1]]
            r["steady_state_s"] = steady
            r["established_min_steady"] = min(samples) if samples else 0
            r["established_max"] = max((c for _, c in r["established_samples"]), default=0)
            r["pass"] = passes(r, args.p95_limit_ms) and r["established_min_steady"] >= 0.99 * P["hold_conns"]
            attempts.append(r)
            if r["pass"] or not args.sweep or hold_rate == floor:
                break
            hold_rate = max(floor, int(hold_rate * 0.8 // 50 * 50))
        result["hold"] = attempts[-1]
        result["hold_attempts"] = attempts
    result["finished"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    log(f"wrote {args.out}")


if __name__ == "__main__":
    main()
