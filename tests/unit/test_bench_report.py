"""benchmarks/report.py: results of a `make bench` run (as bench.py and run.sh write them) into summary.json,
summary.md, report.html and plots. matplotlib is not a unit-test dependency: a recording stand-in checks what
would be drawn, and its absence is simulated for the tables-only path."""

import html
import json
import sys
import types

import pytest

from script_loader import load_script

report = load_script("benchmarks/report.py", "bench_report")


def run(rps, p50, p95, p99, mx, target=None, error_count=0, non_2xx=0, conns=64, kinds=None, **extra):
    """One result of bench.wrk() (the fields report.py reads)."""
    requests = 10000
    kinds = {"connect": 0, "read": 0, "write": 0, "status": 0, "timeout": 0, **(kinds or {})}
    return {"latency_ms": {"p50": p50, "p90": p95, "p95": p95, "p99": p99, "p999": mx, "max": mx, "mean": p50},
            "throughput_rps": rps, "target_rate": target,
            "error_rate": round((error_count + non_2xx) / requests, 5), "error_count": error_count,
            "non_2xx": non_2xx, "errors": kinds,
            "loadgen_cores": 0.241, "stack_cores": 0.288, "docker_daemons_cores": 0.186, "connections": conns,
            **extra}


def stack_result(name, scale, sweep=None, hold=None):
    """tuned.json / baseline.json; `scale` makes the baseline slower."""
    rates = {"static": 1000, "cached": 600, "db": 600, "write": 200}
    return {
        "name": name, "target": f"https://172.20.0.{3 if name == 'tuned' else 4}:443", "quick": False,
        "open": {s: run(r * 0.957, 0.64 * scale, 8.56 * scale, 37.65 * scale, 134.8 * scale, r, conns=r)
                 for s, r in rates.items()},
        "capacity": {s: run(4649.0 / scale, 12.62 * scale, 32.77 * scale, 59.57 * scale, 192.2 * scale)
                     for s in rates},
        "sweep": sweep or [], **({"sweep_best_rate": 1500} if sweep else {}), "hold": hold,
    }


SWEEP = [run(465.6, 0.5, 1.31, 3.45, 20.0, 500, conns=1000, **{"pass": True}),
         run(1325.0, 0.9, 4.21, 28.64, 90.0, 1500, conns=3000, **{"pass": True}),
         run(1915.0, 3.0, 236.46, 426.4, 900.0, 2500, error_count=3, non_2xx=2, conns=5000, **{"pass": False})]
HOLD_TUNED = run(1937.0, 1.57, 19.98, 80.07, 258.0, 2000, conns=10000, duration_s=110.0,
                 established_max=10000, established_min_steady=10000, steady_state_s=[45, 108],
                 status_counts={"200": 213070}, **{"pass": True})
# written by an older bench.py: minimum after 15 s, no steady-state window
HOLD_BASELINE_OLD = run(25.5, 1258.0, 1492.0, 1492.0, 1492.0, 2000, error_count=1143755, non_2xx=3,
                        conns=10000, kinds={"connect": 1116941, "read": 20888, "write": 5926}, duration_s=110.4,
                        established_max=2736, established_min_after_15s=743, status_counts={"200": 2800, "502": 3},
                        **{"pass": False})
DEPLOY = {"cold": {"seconds": 57.0, "changed": 29}, "rerun": {"seconds": 55.7, "changed": 14},
          "baseline_up_seconds": 5, "note": "cold = no project directory, containers or volumes; images already built"}
IMAGES = {"edge (deployer/nginx:1.22)": {"mb": 157.8, "single_stage_min_mb": None, "builder": None},
          "backend (demo-backend:1.0.0)": {"mb": 368.9, "single_stage_min_mb": 525.3, "builder": "maven:3"}}
ZERO_DOWNTIME = {"rolling_release": {"ok": 799, "failed": 0, "longest_gap_s": 1.1, "seconds": 68.2},
                 "plain_compose_recreate": {"ok": 120, "failed": 14, "longest_gap_s": 9.3}}


@pytest.fixture
def res(tmp_path, monkeypatch):
    monkeypatch.setattr(report, "RES", tmp_path)
    return tmp_path


@pytest.fixture
def no_matplotlib(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # `import matplotlib` raises ImportError


def _write(res, name, data):
    (res / name).write_text(json.dumps(data))


@pytest.fixture
def full_run(res, no_matplotlib, capsys):
    _write(res, "tuned.json", stack_result("tuned", 1.0, SWEEP, HOLD_TUNED))
    _write(res, "baseline.json", stack_result("baseline", 2.0, hold=HOLD_BASELINE_OLD))
    _write(res, "deploy.json", DEPLOY)
    _write(res, "images.json", IMAGES)
    _write(res, "zero-downtime.json", ZERO_DOWNTIME)
    report.main()
    return json.loads((res / "summary.json").read_text()), (res / "summary.md").read_text(), capsys.readouterr().out


@pytest.mark.parametrize("a, b, expected", [(2, 4, 0.5), (1, 3, 0.33), (0, 2, 0.0), (None, 2, None), (1, 0, None),
                                            (1, None, None)])
def test_ratio(a, b, expected):
    assert report.ratio(a, b) == expected


@pytest.mark.parametrize("value, text", [(None, "–"), (0.6439, "0.6439"), (957.123, "957.1"), (4649.4, "4649"),
                                         (1.0, "1"), (1000, "1000"), (True, "True")])
def test_fmt(value, text):
    assert report.fmt(value) == text


def test_summary_compares_the_stacks_per_scenario(full_run):
    summary, _, _ = full_run
    cached = summary["open_model"]["cached"]
    assert cached["tuned"]["target_rps"] == 600 and cached["tuned"]["p95_ms"] == 8.56
    assert cached["baseline"]["p95_ms"] == 17.12
    assert cached["ratio_tuned_over_baseline"] == {"p50_ms": 0.5, "p95_ms": 0.5, "p99_ms": 0.5, "max_ms": 0.5,
                                                   "throughput_rps": 1.0}
    assert summary["capacity"]["db"]["ratio_tuned_over_baseline"]["throughput_rps"] == 2.0
    assert set(summary["open_model"]) == set(summary["capacity"]) == set(report.SCEN)
    assert summary["tuned_target"] == "https://172.20.0.3:443" and summary["quick"] is False


def test_summary_of_the_sweep_and_the_hold(full_run):
    summary, _, _ = full_run
    assert [(r["target_rps"], r["achieved_rps"], r["errors"], r["pass"]) for r in summary["sweep"]] == [
        (500, 465.6, 0, True), (1500, 1325.0, 0, True), (2500, 1915.0, 5, False)]  # errors + non-2xx
    assert summary["sweep_best_rate"] == 1500
    hold = summary["hold"]
    assert hold["tuned"]["established_min_steady"] == 10000 and hold["tuned"]["steady_state_s"] == [45, 108]
    # an older baseline result: its minimum after 15 s, and the window that implies
    assert hold["baseline"]["established_min_steady"] == 743 and hold["baseline"]["steady_state_s"] == [15, 108]
    assert hold["baseline"]["errors_by_kind"]["connect"] == 1116941
    assert hold["ratio_tuned_over_baseline"]["throughput_rps"] == round(1937.0 / 25.5, 2)
    assert summary["sustained_api_rate_rps"] == 1937.0 and summary["hold_target_rate_rps"] == 2000
    assert summary["deploy"] == DEPLOY and summary["images"] == IMAGES and summary["zero_downtime"] == ZERO_DOWNTIME


def test_markdown_tables(full_run):
    _, md, out = full_run
    lines = md.splitlines()
    assert lines[0] == "### Open model (same fixed arrival rate for both stacks)"
    assert ("| cached API read (GET /api/items) | tuned | 600 | 574.2 | 0.64 | 8.56 | 37.65 | 134.8 | 0 (0.00%) | "
            "0.241 | 0.288 | 0.186 |") in lines
    assert "| cached API read (GET /api/items) | **tuned/baseline** | | 1 | 0.5 | 0.5 | 0.5 | 0.5 | | | | |" in lines
    assert ("| static SPA asset | baseline | – | 2324 | 25.24 | 65.54 | 119.1 | 384.4 | 0 (0.00%) | 0.241 | 0.288 | "
            "0.186 |") in lines  # closed model: no target rate
    assert "| 2500 | 1915 | 236.5 | 426.4 | 5 | 0.288 | 0.241 | False |" in lines
    assert ("| tuned | 10000 | 110.0 | 10000 / 10000 (45-108 s) | 2000 | 1937 | 1.57 | 19.98 | 80.07 | 258 | 0 | "
            "0.241 | 0.288 | True |") in lines
    assert ("| baseline | 10000 | 110.4 | 2736 / 743 (15-108 s) | 2000 | 25.5 | 1258 | 1492 | 1492 | 1492 | "
            "connect 1116941, read 20888, write 5926, non-2xx 3 | 0.241 | 0.288 | False |") in lines
    assert "| cold | 57.0 | 29 |" in lines and "| rerun | 55.7 | 14 |" in lines
    assert "| baseline `docker compose up` (until the API answers) | 5 | |" in lines
    assert "| edge (deployer/nginx:1.22) | 157.8 | – |" in lines and "| backend (demo-backend:1.0.0) | 368.9 | 525.3 |" in lines
    assert "| rolling_release | 799 | 0 |" in lines and "| plain_compose_recreate | 120 | 14 |" in lines
    # every table row has as many cells as its header
    header_cells = None
    for line in lines:
        if line.startswith("| ---") or line.startswith("| ---:"):
            continue
        if line.startswith("|"):
            cells = line.count("|")
            header_cells = header_cells or cells
            assert cells == header_cells, line
        else:
            header_cells = None
    assert out == "matplotlib missing: no PNG plots (pip install -r benchmarks/requirements.txt)\n" + md + "\n"


def test_html_page_without_matplotlib(full_run, res):
    summary, md, out = full_run
    page = (res / "report.html").read_text()
    assert "<img" not in page and not list(res.glob("*.png"))
    assert f"<pre>{html.escape(md)}</pre>" in page
    assert html.escape(json.dumps(summary, indent=2)) in page


def test_no_plots_without_matplotlib(no_matplotlib, capsys):
    assert report.plot({}) == []
    assert "matplotlib missing" in capsys.readouterr().out


def test_a_tuned_only_run_has_no_comparisons(res, no_matplotlib, capsys):
    _write(res, "tuned.json", stack_result("tuned", 1.0))
    report.main()
    summary = json.loads((res / "summary.json").read_text())
    assert summary["baseline_target"] is None
    assert summary["open_model"]["db"]["baseline"] is None and "ratio_tuned_over_baseline" not in summary["open_model"]["db"]
    assert summary["hold"] == {} and "sustained_api_rate_rps" not in summary and summary["sweep"] == []
    assert summary["deploy"] is summary["images"] is summary["zero_downtime"] is None
    md = (res / "summary.md").read_text()
    assert "| baseline |" not in md and "tuned/baseline" not in md
    assert "### Rate sweep" not in md and "### Keep-alive" not in md and "### Deploy" not in md


def test_a_failed_hold_sustains_nothing(res, no_matplotlib, capsys):
    _write(res, "tuned.json", stack_result("tuned", 1.0, hold={**HOLD_TUNED, "pass": False, "non_2xx": 4}))
    report.main()
    summary = json.loads((res / "summary.json").read_text())
    assert summary["sustained_api_rate_rps"] is None and summary["hold_target_rate_rps"] == 2000
    assert "| 0, non-2xx 4 |" in (res / "summary.md").read_text()


# ---------------------------------------------------------------- plots, with a recording matplotlib
class Recorder:
    """Any attribute is a method that records its call; subplots/twinx hand out further recorders."""

    def __init__(self, name, log):
        self._name, self._log = name, log

    def __getattr__(self, attr):
        def call(*args, **kwargs):
            self._log.append((self._name, attr, args, kwargs))
            if attr == "subplots":
                n = args[1] if len(args) > 1 else 1
                fig = Recorder(f"fig{len(self._log)}", self._log)
                axes = [Recorder(f"ax{len(self._log)}.{i}", self._log) for i in range(n)]
                return fig, (axes if n > 1 else axes[0])
            if attr == "twinx":
                return Recorder(self._name + ".twin", self._log)
            return None
        return call


@pytest.fixture
def plotted(res, monkeypatch):
    log = []
    matplotlib = types.ModuleType("matplotlib")
    matplotlib.use = lambda backend: log.append(("matplotlib", "use", (backend,), {}))
    matplotlib.pyplot = Recorder("plt", log)
    monkeypatch.setitem(sys.modules, "matplotlib", matplotlib)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", matplotlib.pyplot)

    def draw(summary):
        log.clear()
        return report.plot(summary), log
    return draw


def _summary(**changes):
    tuned, base = stack_result("tuned", 1.0, SWEEP), stack_result("baseline", 2.0)
    summary = {"open_model": {s: report.compare(tuned["open"][s], base["open"][s]) for s in report.SCEN},
               "capacity": {s: report.compare(tuned["capacity"][s], base["capacity"][s]) for s in report.SCEN},
               "sweep": [{"target_rps": r["target_rate"], "achieved_rps": r["throughput_rps"],
                          "p95_ms": r["latency_ms"]["p95"], "p99_ms": r["latency_ms"]["p99"]} for r in SWEEP]}
    summary.update(changes)
    return summary


def _calls(log, method):
    return [(name, args, kwargs) for name, attr, args, kwargs in log if attr == method]


def test_plots_latency_throughput_and_sweep(plotted, res):
    files, log = plotted(_summary())
    assert files == ["latency.png", "throughput.png", "sweep.png"]
    assert ("matplotlib", "use", ("Agg",), {}) in log
    assert [args[0] for _, args, _ in _calls(log, "savefig")] == [res / f for f in files]
    assert len(_calls(log, "close")) == 3

    bars = _calls(log, "bar")
    # latency: per scenario tuned (left) and baseline (right) bars of p50/p95/p99/max
    static_tuned, static_base = bars[0], bars[1]
    assert static_tuned[1][0] == [-0.2, 0.8, 1.8, 2.8] and static_tuned[1][1] == [0.64, 8.56, 37.65, 134.8]
    assert static_tuned[2]["label"] == "tuned" and static_base[2]["label"] == "baseline"
    assert static_base[1][1] == [1.28, 17.12, 75.3, 269.6]
    titles = [args[0] for _, args, _ in _calls(log, "set_title")]
    assert titles[:4] == ["static @ 1000 req/s", "cached @ 600 req/s", "db @ 600 req/s", "write @ 200 req/s"]
    # throughput: capacity per scenario and stack
    assert bars[8][1][1] == [4649.0] * 4 and bars[9][1][1] == [2324.5] * 4
    # sweep: p95 and p99 against the target rate, achieved rate on the second axis
    lines = _calls(log, "plot")
    assert lines[0][1][:2] == ([500, 1500, 2500], [1.31, 4.21, 236.46])
    assert lines[2][0].endswith(".twin") and lines[2][1][:2] == ([500, 1500, 2500], [465.6, 1325.0, 1915.0])
    assert _calls(log, "axhline")[0][1] == (200,)


def test_plots_without_sweep_and_with_a_missing_stack(plotted):
    summary = _summary(sweep=[])
    summary["open_model"]["db"] = {"tuned": None, "baseline": summary["open_model"]["db"]["baseline"]}
    summary["capacity"]["write"] = {"tuned": summary["capacity"]["write"]["tuned"], "baseline": None}
    files, log = plotted(summary)
    assert files == ["latency.png", "throughput.png"]
    bars = _calls(log, "bar")
    db_bars = [b for b in bars[:7] if b[0] == bars[4][0]]
    assert [b[2]["label"] for b in db_bars] == ["baseline"]  # only the stack that has a result
    assert "db @ 600 req/s" in [args[0] for _, args, _ in _calls(log, "set_title")]
    assert bars[-1][2]["label"] == "baseline" and bars[-1][1][1] == [2324.5, 2324.5, 2324.5, 0]


def test_the_monitoring_sets_cost_is_tabled_per_tuned_run(res, no_matplotlib, capsys):
    watched = {"cores": 0.02, "share_of_stack": 0.031, "memory_mb": 151.2}
    tuned = stack_result("tuned", 1.0, hold={**HOLD_TUNED, "monitoring": watched})
    tuned["capacity"]["db"]["monitoring"] = {"cores": 0.05, "share_of_stack": 0.052, "memory_mb": 160.0}
    _write(res, "tuned.json", tuned)
    _write(res, "baseline.json", stack_result("baseline", 2.0))
    report.main()
    md = (res / "summary.md").read_text().splitlines()
    assert "### The monitoring set's own cost during the tuned runs (target: < 10 % of the stack's CPU)" in md
    assert "| capacity db | 0.05 | 5.2% | 160 |" in md and "| hold | 0.02 | 3.1% | 151.2 |" in md
    summary = json.loads((res / "summary.json").read_text())
    assert summary["hold"]["tuned"]["monitoring"] == watched
    assert "monitoring" not in summary["capacity"]["db"]["baseline"]
