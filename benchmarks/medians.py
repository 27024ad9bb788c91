#!/usr/bin/env python3
"""Headline figures of repeated `make bench` runs: the median and the spread (min-max) of each.

One run is noise on a 2-core machine that carries both the stack and the load generator, so each
run's summary.json is archived (`--archive`) under benchmarks/results/runs/ with its date and the
commit it measured, and the figures quoted in the README are the medians of the last runs:

    benchmarks/medians.py --archive benchmarks/results   # after a run (benchmarks/run.sh does it)
    benchmarks/medians.py [--last 3]                     # writes results/medians.{json,md}
"""
import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

RESULTS = Path(__file__).resolve().parent / "results"
SCEN = ("static", "cached", "db", "write")

# (label, path into summary.json, kind): the tuned hold and sweep, then five figures per scenario.
FIGURES = [
    ("hold: pass (0 errors, p95 < 200 ms)", ("hold", "tuned", "pass"), "bool"),
    # the hold's rate is the sweep's best (less 20 % per retry), so it can differ between runs
    ("hold: target req/s", ("hold", "tuned", "target_rps"), "num"),
    ("hold: achieved req/s", ("hold", "tuned", "throughput_rps"), "num"),
    ("hold: p50 ms", ("hold", "tuned", "p50_ms"), "num"),
    ("hold: p95 ms", ("hold", "tuned", "p95_ms"), "num"),
    ("hold: p99 ms", ("hold", "tuned", "p99_ms"), "num"),
    ("hold: errors + non-2xx", ("hold", "tuned", "failed"), "num"),
    ("hold: connections established (min in steady state)", ("hold", "tuned", "established_min_steady"), "num"),
    ("hold: load generator cores", ("hold", "tuned", "loadgen_cores"), "num"),
    ("hold: monitoring set, share of the stack's CPU", ("hold", "tuned", "monitoring", "share_of_stack"), "num"),
    ("hold: monitoring set, memory MB", ("hold", "tuned", "monitoring", "memory_mb"), "num"),
    ("sweep: highest passing API rate, req/s", ("sweep_best_rate",), "num"),
]
for sc in SCEN:
    FIGURES += [
        (f"capacity {sc}: tuned req/s", ("capacity", sc, "tuned", "throughput_rps"), "num"),
        (f"capacity {sc}: baseline req/s", ("capacity", sc, "baseline", "throughput_rps"), "num"),
        (f"capacity {sc}: tuned / baseline", ("capacity", sc, "ratio_tuned_over_baseline", "throughput_rps"), "num"),
        (f"open model {sc}: tuned p95 ms", ("open_model", sc, "tuned", "p95_ms"), "num"),
        (f"open model {sc}: baseline p95 ms", ("open_model", sc, "baseline", "p95_ms"), "num"),
    ]


def dig(d, path):
    for step in path:
        if not isinstance(d, dict) or step not in d:
            return None
        d = d[step]
    return d


def with_failed(summary):
    """The summary with the tuned hold's errors + non-2xx as one figure, `failed`."""
    h = dig(summary, ("hold", "tuned"))
    if h:
        h["failed"] = (h.get("errors") or 0) + (h.get("non_2xx") or 0)
    return summary


def archive(res):
    summary = json.loads((res / "summary.json").read_text())
    rev = subprocess.run(["git", "describe", "--always", "--dirty"], capture_output=True, text=True,
                         cwd=Path(__file__).parent).stdout.strip() or "unknown"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    runs = res / "runs"
    runs.mkdir(exist_ok=True)
    out = runs / f"{stamp}-{rev}.json"
    out.write_text(json.dumps({"date": stamp, "revision": rev, "quick": summary.get("quick", False),
                               "summary": summary}, indent=2) + "\n")
    return out


def spread(values, kind):
    vals = [v for v in values if v is not None]
    if not vals:
        return {"median": None, "min": None, "max": None, "n": 0}
    if kind == "bool":
        return {"passed": sum(1 for v in vals if v), "n": len(vals)}
    return {"median": round(statistics.median(vals), 2), "min": min(vals), "max": max(vals), "n": len(vals)}


def fmt(v):
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.3g}" if abs(v) < 100 else f"{v:,.0f}"
    return f"{v:,}" if isinstance(v, int) else str(v)


def medians(res, last):
    files = sorted((res / "runs").glob("*.json"))
    runs = [json.loads(f.read_text()) for f in files]
    runs = [r for r in runs if not r.get("quick")][-last:]
    if not runs:
        sys.exit(f"no full runs archived under {res / 'runs'}")
    summaries = [with_failed(r["summary"]) for r in runs]
    table = {}
    for label, path, kind in FIGURES:
        values = [dig(s, path) for s in summaries]
        table[label] = {**spread(values, kind), "values": values}
    out = {"runs": [{"date": r["date"], "revision": r["revision"]} for r in runs], "figures": table}
    (res / "medians.json").write_text(json.dumps(out, indent=2) + "\n")
    lines = [f"### Medians of the last {len(runs)} full runs", "",
             "Runs: " + ", ".join(f"{r['date']} ({r['revision']})" for r in runs), "",
             "| figure | median | spread (min-max) | each run |", "| --- | ---: | --- | --- |"]
    for label, v in table.items():
        each = " / ".join(fmt(x) for x in v["values"])
        if "passed" in v:
            lines.append(f"| {label} | {v['passed']} of {v['n']} | | {each} |")
        else:
            span = f"{fmt(v['min'])}-{fmt(v['max'])}" if v["n"] else "–"
            lines.append(f"| {label} | {fmt(v['median'])} | {span} | {each} |")
    md = "\n".join(lines) + "\n"
    (res / "medians.md").write_text(md)
    return md


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, default=RESULTS)
    ap.add_argument("--archive", type=Path, metavar="RESULTS_DIR",
                    help="archive RESULTS_DIR/summary.json into RESULTS_DIR/runs/ first")
    ap.add_argument("--last", type=int, default=3, help="how many of the newest full runs (default 3)")
    args = ap.parse_args()
    if args.archive:
        print(f"archived {archive(args.archive)}")
        args.results = args.archive
    print(medians(args.results, args.last), end="")


if __name__ == "__main__":
    main()
