#!/usr/bin/env python3
"""Combine the raw results of one `make bench` run into summary.json, summary.md, PNG plots and
report.html (benchmarks/results/). Plots need matplotlib (benchmarks/requirements.txt); without
it the JSON, Markdown and an HTML page with tables are still written."""
import html
import json
import sys
from pathlib import Path

RES = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent / "results")
SCEN = ["static", "cached", "db", "write"]
SCEN_LABEL = {"static": "static SPA asset", "cached": "cached API read (GET /api/items)",
              "db": "DB API read (GET /api/items/{id})", "write": "write (POST /api/items)"}


def load(name):
    p = RES / name
    return json.loads(p.read_text()) if p.exists() else None


def ratio(a, b):
    return round(a / b, 2) if a is not None and b not in (None, 0) else None


def row(r):
    if not r:
        return None
    lat = r["latency_ms"]
    return {"p50_ms": lat["p50"], "p95_ms": lat["p95"], "p99_ms": lat["p99"], "max_ms": lat["max"],
            "throughput_rps": r["throughput_rps"], "target_rps": r.get("target_rate"),
            "error_rate": r["error_rate"], "errors": r["error_count"], "non_2xx": r["non_2xx"],
            "loadgen_cores": r["loadgen_cores"], "stack_cores": r["stack_cores"],
            "docker_daemons_cores": r["docker_daemons_cores"], "connections": r["connections"],
            **({"monitoring": r["monitoring"]} if r.get("monitoring") else {})}


def compare(t, b):
    out = {"tuned": row(t), "baseline": row(b)}
    if t and b:
        rt, rb = out["tuned"], out["baseline"]
        out["ratio_tuned_over_baseline"] = {k: ratio(rt[k], rb[k]) for k in
                                            ("p50_ms", "p95_ms", "p99_ms", "max_ms", "throughput_rps")}
    return out


def main():
    tuned, base = load("tuned.json"), load("baseline.json")
    summary = {"tuned_target": tuned and tuned["target"], "baseline_target": base and base["target"],
               "quick": bool(tuned and tuned["quick"]), "open_model": {}, "capacity": {}}
    for s in SCEN:
        summary["open_model"][s] = compare(tuned and tuned["open"].get(s), base and base["open"].get(s))
        summary["capacity"][s] = compare(tuned and tuned["capacity"].get(s), base and base["capacity"].get(s))
    if tuned:
        summary["sweep"] = [{"target_rps": r["target_rate"],
                             "achieved_rps": r["throughput_rps"],
                             "p95_ms": r["latency_ms"]["p95"], "p99_ms": r["latency_ms"]["p99"],
                             "errors": r["error_count"] + r["non_2xx"], "pass": r["pass"],
                             "stack_cores": r["stack_cores"], "loadgen_cores": r["loadgen_cores"]}
                            for r in tuned.get("sweep", [])]
        summary["sweep_best_rate"] = tuned.get("sweep_best_rate")
    hold = {}
    for name, d in (("tuned", tuned), ("baseline", base)):
        h = d and d.get("hold")
        if h:
            hold[name] = {**row(h), "duration_s": h["duration_s"], "established_max": h["established_max"],
                          "established_min_steady": h.get("established_min_steady", h.get("established_min_after_15s")),
                          "steady_state_s": h.get("steady_state_s", [15, round(h["duration_s"] - 2)]), "pass": h["pass"],
                          "errors_by_kind": h["errors"], "status_counts": h["status_counts"]}
    if hold.get("tuned") and hold.get("baseline"):
        hold["ratio_tuned_over_baseline"] = {k: ratio(hold["tuned"][k], hold["baseline"][k])
                                             for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms", "throughput_rps")}
    summary["hold"] = hold
    if tuned and tuned.get("hold"):
        summary["sustained_api_rate_rps"] = (tuned["hold"]["throughput_rps"] if tuned["hold"]["pass"] else None)
        summary["hold_target_rate_rps"] = tuned["hold"]["target_rate"]
    for extra in ("deploy", "images", "zero-downtime"):
        summary[extra.replace("-", "_")] = load(f"{extra}.json")
    (RES / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    md = markdown(summary)
    (RES / "summary.md").write_text(md)
    plots = plot(summary)
    write_html(summary, md, plots)
    print(md)


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1000 else f"{v:.0f}"
    return str(v)


def markdown(s):
    lines = []
    for kind, title in (("open_model", "Open model (same fixed arrival rate for both stacks)"),
                        ("capacity", "Closed model, 64 connections (maximum throughput)")):
        lines += [f"### {title}", "",
                  "| scenario | stack | rate target | req/s | p50 ms | p95 ms | p99 ms | max ms | errors | "
                  "loadgen cores | stack cores | dockerd cores |",
                  "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
        for sc in SCEN:
            c = s[kind][sc]
            for st in ("tuned", "baseline"):
                r = c.get(st)
                if not r:
                    continue
                lines.append(f"| {SCEN_LABEL[sc]} | {st} | {fmt(r['target_rps'])} | {fmt(r['throughput_rps'])} | "
                             f"{fmt(r['p50_ms'])} | {fmt(r['p95_ms'])} | {fmt(r['p99_ms'])} | {fmt(r['max_ms'])} | "
                             f"{r['errors'] + r['non_2xx']} ({r['error_rate']:.2%}) | {fmt(r['loadgen_cores'])} | "
                             f"{fmt(r['stack_cores'])} | {fmt(r['docker_daemons_cores'])} |")
            rr = c.get("ratio_tuned_over_baseline")
            if rr:
                lines.append(f"| {SCEN_LABEL[sc]} | **tuned/baseline** | | {fmt(rr['throughput_rps'])} | "
                             f"{fmt(rr['p50_ms'])} | {fmt(rr['p95_ms'])} | {fmt(rr['p99_ms'])} | {fmt(rr['max_ms'])} | | | | |")
        lines.append("")
    if s.get("sweep"):
        lines += ["### Rate sweep, tuned stack (API mix: 80 % cached list, 20 % DB read)", "",
                  "| target req/s | achieved req/s | p95 ms | p99 ms | errors | stack cores | loadgen cores | pass |",
                  "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |"]
        for r in s["sweep"]:
            lines.append(f"| {r['target_rps']} | {fmt(r['achieved_rps'])} | {fmt(r['p95_ms'])} | {fmt(r['p99_ms'])} | "
                         f"{r['errors']} | {fmt(r['stack_cores'])} | {fmt(r['loadgen_cores'])} | {r['pass']} |")
        lines.append("")
    if s.get("hold"):
        lines += ["### Keep-alive connections held, carrying the API mix at a fixed rate", "",
                  "| stack | connections | seconds | established (max / min in steady state) | target req/s | req/s | "
                  "p50 ms | p95 ms | p99 ms | max ms | errors | loadgen cores | stack cores | pass |",
                  "| --- | ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: | --- |"]
        for st in ("tuned", "baseline"):
            h = s["hold"].get(st)
            if not h:
                continue
            errs = ", ".join(f"{k} {v}" for k, v in h["errors_by_kind"].items() if v) or "0"
            if h["non_2xx"]:
                errs += f", non-2xx {h['non_2xx']}"
            lines.append(f"| {st} | {h['connections']} | {h['duration_s']} | {h['established_max']} / "
                         f"{h['established_min_steady']} ({h['steady_state_s'][0]}-{h['steady_state_s'][1]} s) | {fmt(h['target_rps'])} | {fmt(h['throughput_rps'])} | "
                         f"{fmt(h['p50_ms'])} | {fmt(h['p95_ms'])} | {fmt(h['p99_ms'])} | {fmt(h['max_ms'])} | {errs} | "
                         f"{fmt(h['loadgen_cores'])} | {fmt(h['stack_cores'])} | {h['pass']} |")
        rr = s["hold"].get("ratio_tuned_over_baseline")
        if rr:
            lines.append(f"| **tuned/baseline** | | | | | {fmt(rr['throughput_rps'])} | {fmt(rr['p50_ms'])} | "
                         f"{fmt(rr['p95_ms'])} | {fmt(rr['p99_ms'])} | {fmt(rr['max_ms'])} | | | | |")
        lines.append("")
    watched = [(f"{kind} {sc}", c["tuned"]["monitoring"]) for kind in ("open_model", "capacity")
               for sc, c in s[kind].items() if c.get("tuned") and c["tuned"].get("monitoring")]
    if (s.get("hold") or {}).get("tuned", {}).get("monitoring"):
        watched.append(("hold", s["hold"]["tuned"]["monitoring"]))
    if watched:
        lines += ["### The monitoring set's own cost during the tuned runs (target: < 10 % of the stack's CPU)", "",
                  "| run | monitoring cores | share of the stack's CPU | monitoring memory MB (working set) |",
                  "| --- | ---: | ---: | ---: |"]
        for label, m in watched:
            share = f"{m['share_of_stack']:.1%}" if m["share_of_stack"] is not None else "–"
            lines.append(f"| {label} | {fmt(m['cores'])} | {share} | {fmt(m['memory_mb'])} |")
        lines.append("")
    d = s.get("deploy")
    if d:
        lines += ["### Deploy playbook (tuned stack)", "", "| run | seconds | changed |", "| --- | ---: | ---: |"]
        for k in ("cold", "rerun"):
            if d.get(k):
                lines.append(f"| {k} | {d[k]['seconds']} | {d[k].get('changed')} |")
        if d.get("baseline_up_seconds") is not None:
            lines.append(f"| baseline `docker compose up` (until the API answers) | {d['baseline_up_seconds']} | |")
        lines.append("")
    im = s.get("images")
    if im:
        lines += ["### Image sizes", "", "| image | MB | single-stage lower bound MB |", "| --- | ---: | ---: |"]
        for name, v in im.items():
            lines.append(f"| {name} | {fmt(v.get('mb'))} | {fmt(v.get('single_stage_min_mb'))} |")
        lines.append("")
    z = s.get("zero_downtime")
    if z:
        lines += ["### Backend redeploy under load (from tests/e2e, .cache/reports/zero-downtime.json)", "",
                  "| run | ok | failed |", "| --- | ---: | ---: |"]
        for k, v in z.items():
            lines.append(f"| {k} | {v.get('ok')} | {v.get('failed')} |")
        lines.append("")
    return "\n".join(lines) + "\n"


def plot(s):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib missing: no PNG plots (pip install -r benchmarks/requirements.txt)")
        return []
    files = []
    pcts = ["p50_ms", "p95_ms", "p99_ms", "max_ms"]
    fig, axes = plt.subplots(1, 4, figsize=(16, 4.2))
    for ax, sc in zip(axes, SCEN):
        c = s["open_model"][sc]
        x = range(len(pcts))
        for off, st, color in ((-0.2, "tuned", "#2b7bba"), (0.2, "baseline", "#d95f02")):
            r = c.get(st)
            if r:
                ax.bar([i + off for i in x], [r[p] for p in pcts], 0.4, label=st, color=color)
        ax.set_xticks(list(x), ["p50", "p95", "p99", "max"])
        ax.set_yscale("log")
        rate = (c.get("tuned") or c.get("baseline") or {}).get("target_rps")
        ax.set_title(f"{sc} @ {rate} req/s")
        ax.set_ylabel("latency ms (log)")
        ax.legend()
    fig.suptitle("Open model: latency percentiles, tuned vs baseline")
    fig.tight_layout()
    fig.savefig(RES / "latency.png", dpi=110)
    plt.close(fig)
    files.append("latency.png")

    fig, ax = plt.subplots(figsize=(9, 4.2))
    x = range(len(SCEN))
    for off, st, color in ((-0.2, "tuned", "#2b7bba"), (0.2, "baseline", "#d95f02")):
        vals = [(s["capacity"][sc].get(st) or {}).get("throughput_rps") or 0 for sc in SCEN]
        ax.bar([i + off for i in x], vals, 0.4, label=st, color=color)
    ax.set_xticks(list(x), SCEN)
    ax.set_ylabel("requests/s")
    ax.set_title("Closed model, 64 connections: throughput")
    ax.legend()
    fig.tight_layout()
    fig.savefig(RES / "throughput.png", dpi=110)
    plt.close(fig)
    files.append("throughput.png")

    if s.get("sweep"):
        fig, ax1 = plt.subplots(figsize=(9, 4.2))
        xs = [r["target_rps"] for r in s["sweep"]]
        ax1.plot(xs, [r["p95_ms"] for r in s["sweep"]], "o-", label="p95 ms")
        ax1.plot(xs, [r["p99_ms"] for r in s["sweep"]], "s--", label="p99 ms")
        ax1.axhline(200, color="red", lw=0.8, label="200 ms")
        ax1.set_xlabel("target arrival rate (req/s)")
        ax1.set_ylabel("latency ms")
        ax1.set_yscale("log")
        ax2 = ax1.twinx()
        ax2.plot(xs, [r["achieved_rps"] for r in s["sweep"]], "g^:", label="achieved req/s")
        ax2.set_ylabel("achieved req/s")
        ax1.legend(loc="upper left")
        ax2.legend(loc="lower right")
        ax1.set_title("Tuned stack: API rate sweep")
        fig.tight_layout()
        fig.savefig(RES / "sweep.png", dpi=110)
        plt.close(fig)
        files.append("sweep.png")
    return files


def write_html(s, md, plots):
    imgs = "\n".join(f'<p><img src="{p}" alt="{p}" style="max-width:100%"></p>' for p in plots)
    body = html.escape(md)
    (RES / "report.html").write_text(
        "<!doctype html><meta charset=utf-8><title>deployer benchmark</title>"
        "<style>body{font-family:sans-serif;margin:2em}pre{font-size:12px}</style>"
        f"<h1>deployer benchmark</h1>{imgs}<h2>Numbers</h2><pre>{body}</pre>"
        f"<h2>summary.json</h2><pre>{html.escape(json.dumps(s, indent=2))}</pre>\n")


if __name__ == "__main__":
    main()
