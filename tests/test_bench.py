"""The benchmark refuses, before generating anything, a scale whose files would not fit on disk."""
from __future__ import annotations

import shutil
from pathlib import Path

from bench import run


def test_a_scale_that_does_not_fit_on_disk_is_refused_before_generating(tmp_path, capsys):
    free_gb = shutil.disk_usage(tmp_path).free / 1e9
    assert run.disk_shortfall(tmp_path, "1k", 7) is None
    too_big = f"{int(free_gb / 1.2 * 2) + 1}M"  # about twice what the disk holds
    need, free = run.disk_shortfall(tmp_path, too_big, 7)
    assert need > free and abs(free - free_gb) < 5
    assert run.main(["--scale", too_big, "--dir", str(tmp_path / "bench")]) == 2
    err = capsys.readouterr().err
    assert f"bench {too_big}: needs about" in err and "nothing was generated" in err
    assert not (tmp_path / "bench").exists()


def test_a_small_bench_prints_its_figures_and_writes_them(tmp_path, capsys, monkeypatch):
    import json
    import re

    for name in ("RECON_HOME", "RECON_LEDGER_DIR", "RECON_DUCKDB_MEMORY_LIMIT", "RECON_DUCKDB_THREADS"):
        monkeypatch.setenv(name, "")  # the bench sets these for its run: restored after the test

    code = run.main(["--scale", "4k", "--dir", str(tmp_path / "bench"), "--results", str(tmp_path / "res"),
                     "--skip-pandas", "--skip-prefect", "--repeat", "2"])
    assert code == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"bench 4k: recon [\d.]+s, floor [\d.]+s, pandas n/a, recon/floor [\d.]+x, "
                        r"pandas/recon n/a, peak [\d.]+ GB", out[-1]), out[-1]
    assert any(line.startswith("match stage ") and "full outer join" in line for line in out)
    (figures,) = (tmp_path / "res").glob("*-4k.json")
    data = json.loads(figures.read_text())
    assert data["recon"]["status"] == "breaks" and data["recon"]["breaks"] > 0
    # every generated line is accounted for: loaded (no quarantine in a clean generated day)
    assert data["recon"]["sources"]["ledger"]["lines"] == data["input"]["counts"]["ledger"]
    assert data["floor"]["ledger_rows"] == data["input"]["counts"]["ledger"]
    assert data["ratios"]["match_over_join"] > 0 and data["ratios"]["recon_over_floor"] > 0
    # each stage reports its CPU time (all threads) beside its wall time, and the run their sum
    stages = {s["name"]: s for s in data["recon"]["stages"]}
    assert stages["load (concurrent)"]["cpu_seconds"] > 0 and stages["match"]["cpu_seconds"] > 0
    assert data["recon"]["cpu_seconds"] == sum(s["cpu_seconds"] for s in data["recon"]["stages"]
                                               if s["name"] != "import")
    # --repeat 2: both runs kept; the figures are those of the median run (of two, the slower)
    runs = data["recon"]["runs"]
    assert len(runs) == 2 and data["recon"]["seconds"] == max(r["seconds"] for r in runs)
    assert any(line.startswith("recon run 2/2: ") for line in out)
    assert any("the median of 2 runs" in line for line in out)
    # each run is followed by the floor: the gate is the higher of the two runs' match/join
    joins = [r["floor_join_seconds"] for r in runs]
    assert all(j > 0 for j in joins)
    ratios = [r["stages"]["match"] / j for r, j in zip(runs, joins)]
    assert data["ratios"]["match_over_join_runs"] == ratios
    assert data["ratios"]["match_over_join"] == max(ratios)
    assert any(line.startswith("recon run 2/2: ") and "the floor's join after it" in line for line in out)
    assert any("the median of 2 runs' ratios" in line for line in out)
    # the persisted floor (the same reads written to a DuckDB file) is reported beside the floor
    assert data["floor_persisted"]["seconds"] > 0 and data["floor_persisted"]["bytes"] > 0
    assert data["floor_persisted"]["cpu_seconds"] > 0
    assert any(line.startswith("archive + loads against the floor persisted: ") for line in out)
    assert any(line.startswith("floor persisted ") for line in out)


def test_the_history_bench_measures_the_real_load_and_work_sets(tmp_path, capsys):
    """bench.history on a tiny history: a checkpoint per day, each load of the new day's part
    finds every entry new (asserted inside), and the working set holds the day's entries."""
    import json
    import re

    from bench import history

    assert history.main(["--days", "2", "--rows-per-day", "2k", "--part-rows", "500", "--every", "1",
                         "--dir", str(tmp_path / "h"), "--results", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert re.fullmatch(r"history 1->2 days: load part [\d.]+s -> [\d.]+s, work sets [\d.]+s -> [\d.]+s "
                        r"\(general ranking [\d.]+s -> [\d.]+s\)", out[-1]), out[-1]
    data = json.loads(next((tmp_path / "res").glob("*-history.json")).read_text())
    assert [c["versions"] for c in data["checkpoints"]] == [2000, 4000]
    # the working set of the last history day: its 2,000 entries
    assert [c["work_ledger_entries"] for c in data["checkpoints"]] == [2000, 2000]
    # each history day is one load: the match takes its versions without ranking them (and the
    # general ranking, measured beside it, gives the same working set: asserted inside)
    assert [c["one_load"] for c in data["checkpoints"]] == [True, True]


def test_the_steady_state_bench_finds_the_first_days_breaks(tmp_path, capsys, monkeypatch):
    """--prior-days 2: each run starts from a warehouse holding two earlier business days (the
    day's rows re-keyed); the day's breaks are exactly those of a first day, and the earlier days
    are there (the duplicate checks and reversal links read them)."""
    import json

    import duckdb

    for name in ("RECON_HOME", "RECON_LEDGER_DIR", "RECON_DUCKDB_MEMORY_LIMIT", "RECON_DUCKDB_THREADS"):
        monkeypatch.setenv(name, "")
    common = ["--scale", "4k", "--dir", str(tmp_path / "bench"), "--skip-pandas", "--skip-prefect",
              "--skip-floor"]
    assert run.main([*common, "--results", str(tmp_path / "first")]) == 0
    assert run.main([*common, "--results", str(tmp_path / "steady"), "--prior-days", "2"]) == 0
    out = capsys.readouterr().out
    assert "(steady state: 2 earlier business days in the warehouse)" in out
    first = json.loads(next((tmp_path / "first").glob("*-4k.json")).read_text())
    steady = json.loads(next((tmp_path / "steady").glob("*-4k-prior2.json")).read_text())
    assert steady["prior_days"] == 2
    assert steady["recon"]["breaks_by_category"] == first["recon"]["breaks_by_category"]
    assert steady["recon"]["matched_by_rule"] == first["recon"]["matched_by_rule"]
    con = duckdb.connect(steady["recon"]["warehouse"], read_only=True)
    try:
        days = con.execute("SELECT count(DISTINCT business_date) FROM ledger_entries").fetchone()[0]
        ledger = con.execute("SELECT count(*) FROM ledger_entries").fetchone()[0]
    finally:
        con.close()
    assert days == 3 and ledger == 3 * first["input"]["counts"]["ledger"]


def test_a_sliced_day_consumed_as_it_is_archived(tmp_path, capsys, monkeypatch):
    """The 100M path at a small scale: the day generated in slices, each file deleted once recon
    has archived it and each archive copy once loaded (--consume-input), the floor and pandas
    skipped. recon finds each slice's injected breaks once, and the one short payout of the whole
    day."""
    import json

    from recon.generate.spec import breaks_per_category

    for name in ("RECON_HOME", "RECON_LEDGER_DIR", "RECON_DUCKDB_MEMORY_LIMIT", "RECON_DUCKDB_THREADS"):
        monkeypatch.setenv(name, "")
    assert run.main(["--scale", "1200", "--slice-payments", "200", "--consume-input", "--skip-prefect",
                     "--skip-pandas", "--dir", str(tmp_path / "bench"), "--results", str(tmp_path / "res")]) == 0
    out = capsys.readouterr().out
    assert "slice 3/3: 200 payments per PSP from order 400" in out
    assert "floor and pandas skipped: with --consume-input" in out
    data = json.loads(next((tmp_path / "res").glob("*-1200.json")).read_text())
    assert data["consumed_input"] and data["input"]["slice_payments"] == 200
    day = tmp_path / "bench" / "data-s7-p600-x200"
    assert not day.exists()  # its files went into the archive: nothing left that looks cached
    k = breaks_per_category(200) * 2 * 3  # per PSP, per slice
    breaks = data["recon"]["breaks_by_category"]
    assert {c: breaks[c] for c in ("amount_mismatch", "duplicate", "fee_variance", "missing_in_ledger",
                                   "missing_in_statement")} == dict.fromkeys(
        ("amount_mismatch", "duplicate", "fee_variance", "missing_in_ledger", "missing_in_statement"), k)
    assert breaks["payout_mismatch"] == 1 and "ambiguous" not in breaks
    counts = data["input"]["counts"]
    assert data["recon"]["sources"]["ledger"]["lines"] == counts["ledger"]
    assert data["floor"] is data["floor_persisted"] is data["pandas"] is None
    assert data["ratios"]["recon_over_floor"] is None
    # the archive's copies went once loaded: the run's directory holds the warehouse and reports
    archived = [Path(p) for p in data["recon"]["archived"].values()]
    assert len(archived) == 4 and not any(p.exists() for p in archived)
    # a second run cannot reuse a consumed day: refused before anything runs
    assert run.main(["--scale", "1200", "--slice-payments", "200", "--consume-input", "--repeat", "2",
                     "--dir", str(tmp_path / "bench"), "--results", str(tmp_path / "res")]) == 2
