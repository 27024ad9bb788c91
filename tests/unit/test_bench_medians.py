"""benchmarks/medians.py: archive each run's summary.json and report the median and spread of the headline
figures over the last full runs (quick runs are smoke runs, never part of a figure)."""

import json

import pytest

from script_loader import load_script

medians = load_script("benchmarks/medians.py", "bench_medians")


def summary(hold_rps, p95, errors=0, non_2xx=0, passed=True, cached_ratio=2.0, quick=False, target=1334):
    hold = {"target_rps": target, "throughput_rps": hold_rps, "p50_ms": 2.0, "p95_ms": p95, "p99_ms": p95 * 2, "errors": errors,
            "non_2xx": non_2xx, "pass": passed, "established_min_steady": 10000, "loadgen_cores": 0.6}
    cap = {"tuned": {"throughput_rps": 2000.0 * cached_ratio}, "baseline": {"throughput_rps": 2000.0},
           "ratio_tuned_over_baseline": {"throughput_rps": cached_ratio}}
    return {"quick": quick, "hold": {"tuned": hold}, "sweep_best_rate": 1500,
            "capacity": {"cached": cap}, "open_model": {"cached": {"tuned": {"p95_ms": 9.0}}}}


def archived(res, name, s, quick=False):
    runs = res / "runs"
    runs.mkdir(exist_ok=True)
    (runs / f"{name}.json").write_text(json.dumps({"date": name, "revision": "abc1234", "quick": quick,
                                                   "summary": s}))


def test_median_spread_and_each_run_of_the_last_full_runs(tmp_path):
    archived(tmp_path, "20261206T100000Z", summary(900, 400.0, non_2xx=724, passed=False))  # too old: --last 3
    archived(tmp_path, "20261206T110000Z", summary(1300, 120.0, errors=3, passed=False, cached_ratio=1.8))
    archived(tmp_path, "20261206T120000Z", summary(1250, 90.0, cached_ratio=2.4))
    archived(tmp_path, "20261206T123000Z", summary(5000, 1.0), quick=True)  # a smoke run: never counted
    archived(tmp_path, "20261206T130000Z", summary(1340, 150.0, cached_ratio=2.1, target=1500))
    md = medians.medians(tmp_path, 3)
    out = json.loads((tmp_path / "medians.json").read_text())
    assert [r["date"] for r in out["runs"]] == ["20261206T110000Z", "20261206T120000Z", "20261206T130000Z"]
    f = out["figures"]
    assert f["hold: achieved req/s"] == {"median": 1300, "min": 1250, "max": 1340, "n": 3,
                                         "values": [1300, 1250, 1340]}
    assert f["hold: p95 ms"]["median"] == 120.0
    assert f["hold: target req/s"]["values"] == [1334, 1334, 1500]
    assert f["hold: errors + non-2xx"]["values"] == [3, 0, 0]
    assert f["hold: pass (0 errors, p95 < 200 ms)"]["passed"] == 2
    assert f["capacity cached: tuned / baseline"]["median"] == 2.1
    assert f["capacity static: tuned req/s"] == {"median": None, "min": None, "max": None, "n": 0,
                                                "values": [None, None, None]}
    assert (tmp_path / "medians.md").read_text() == md
    assert "| hold: achieved req/s | 1,300 | 1,250-1,340 | 1,300 / 1,250 / 1,340 |" in md
    assert "| hold: pass (0 errors, p95 < 200 ms) | 2 of 3 | | no / yes / yes |" in md
    assert "| capacity static: tuned req/s | – | – | – / – / – |" in md


def test_archive_names_the_run_by_date_and_commit(tmp_path):
    (tmp_path / "summary.json").write_text(json.dumps(summary(1200, 80.0)))
    out = medians.archive(tmp_path)
    saved = json.loads(out.read_text())
    assert out.parent == tmp_path / "runs" and out.name == f"{saved['date']}-{saved['revision']}.json"
    assert saved["summary"]["hold"]["tuned"]["throughput_rps"] == 1200 and saved["quick"] is False
    assert saved["revision"] not in ("", "unknown")


def test_no_full_run_is_an_error_not_an_empty_table(tmp_path):
    archived(tmp_path, "20261206T123000Z", summary(5000, 1.0), quick=True)
    with pytest.raises(SystemExit, match="no full runs archived"):
        medians.medians(tmp_path, 3)


def test_command_line_archives_then_reports(tmp_path, monkeypatch, capsys):
    (tmp_path / "summary.json").write_text(json.dumps(summary(1100, 70.0)))
    monkeypatch.setattr("sys.argv", ["medians.py", "--archive", str(tmp_path), "--last", "2"])
    medians.main()
    printed = capsys.readouterr().out
    assert printed.startswith("archived ") and "### Medians of the last 1 full runs" in printed
