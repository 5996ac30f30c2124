"""The nightly flow fanned out on Dask (prefect-dask) gets exactly what the single-process run gets.

Real parts only: the generated demo day served by a real OpenSSH sshd, Prefect's test harness, and
a real ``distributed.LocalCluster`` of two worker processes (one thread each) that runs the fetch
and parse tasks, while the flow's own process stores each file and matches.
"""
from __future__ import annotations

import asyncio
import json
import os
from pathlib import Path

import duckdb
import pytest

from recon import config
from recon.errors import ConfigError, ReconError
from recon.generate import generate_day
from tests.worlds import CONFIG, DAY, served

ROOT = Path(__file__).resolve().parents[1]
# Everything that decides a break, minus the run it was raised in.
BREAK_COLUMNS = ("break_id, business_date, category, source, currency, reference, psp_reference, "
                 "ledger_entry_id, line_id, ledger_amount_minor, statement_amount_minor, "
                 "difference_minor, booked_at, rule, detail, status, first_seen, cleared_on")


def _night(home: Path, world: Path, monkeypatch, flow, cluster: bool = False) -> dict:
    """One nightly run of ``world`` into its own warehouse and archive under ``home``; with
    ``cluster``, on an already running LocalCluster named by RECON_DASK_ADDRESS (its workers
    started with the run's environment, as a real cluster's would be), whose worker pids are
    returned in ``result["worker_pids"]``."""
    with served(world, home, monkeypatch):
        if not cluster:
            return flow(business_date=DAY, config_path=str(CONFIG))
        from distributed import Client, LocalCluster
        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as lc, Client(lc) as client:
            monkeypatch.setenv("RECON_DASK_ADDRESS", lc.scheduler_address)
            result = flow(business_date=DAY, config_path=str(CONFIG))
            return {**result, "worker_pids": client.run(os.getpid)}


def _tables(result: dict) -> dict:
    cfg = config.load(CONFIG)  # RECON_HOME of the run just made
    con = duckdb.connect(str(cfg.warehouse), read_only=True)
    try:
        run = result["run_id"]
        return {
            "breaks": con.execute(f"SELECT {BREAK_COLUMNS} FROM breaks WHERE run_id = ? ORDER BY break_id",
                                  [run]).fetchall(),
            "inputs": json.loads(con.execute("SELECT input_files FROM runs WHERE run_id = ?", [run]).fetchone()[0]),
            "files": con.execute("SELECT sha256, source, name, parse_status, line_count, control_total "
                                 "FROM files ORDER BY sha256").fetchall(),
            "lines": con.execute("SELECT * EXCLUDE (raw) FROM statement_lines ORDER BY line_id").fetchall(),
            "raw": con.execute("SELECT line_id, raw FROM statement_lines ORDER BY line_id").fetchall(),
            "ledger": con.execute("SELECT * EXCLUDE (recorded_at) FROM ledger_entries ORDER BY entry_id").fetchall(),
            "quarantine": con.execute("SELECT * EXCLUDE (run_id) FROM quarantine ORDER BY ALL").fetchall(),
            "matches": con.execute("SELECT * EXCLUDE (run_id) FROM matches ORDER BY ALL").fetchall(),
        }
    finally:
        con.close()


@pytest.mark.integration
def test_nightly_on_a_local_dask_cluster_finds_exactly_the_single_process_breaks(prefect_harness, tmp_path,
                                                                                 monkeypatch):
    from prefect.client.orchestration import get_client

    from flows import fanout
    from flows.nightly import nightly
    monkeypatch.delenv(fanout.ENV, raising=False)
    world = tmp_path / "world"
    generate_day(DAY, world, seed=7, scale=200)

    single = _night(tmp_path / "single", world, monkeypatch, nightly)
    expected = _tables(single)
    assert single["dask"] is None

    on_dask = nightly.with_options(task_runner=fanout.task_runner(fanout.parse_spec("local:2")))
    spread = _night(tmp_path / "dask", world, monkeypatch, on_dask)
    got = _tables(spread)

    assert len(expected["breaks"]) > 10
    for name in expected:
        assert got[name] == expected[name], name
    assert spread["sources"] == single["sources"] == {
        "ledger": "loaded", "wechatpay": "loaded", "stripe": "loaded", "bank": "loaded"}
    assert spread["breaks"] == single["breaks"] and spread["exit_code"] == single["exit_code"] == 1

    # Fetch and parse ran in the two worker processes, not here; the staging parquet is gone.
    dask = spread["dask"]
    assert len(dask["workers"]) == 2
    tasks = {p["task"]: p for p in dask["placement"]}
    names = {s["file_name"] for s in expected["inputs"]}
    parts = {f"match part {i}" for i in range(4)}  # the first reference pass: two partitions a worker
    assert set(tasks) == {"fetch wechatpay", "fetch stripe", "fetch bank"} | {f"parse {n}" for n in names} | parts
    for p in tasks.values():
        assert p["worker"] in dask["workers"] and p["pid"] != os.getpid(), p
    assert not (tmp_path / "dask" / "var" / "staging" / spread["run_id"]).exists()

    # The plain flow pointed at an existing cluster by RECON_DASK_ADDRESS (as a deployment is).
    elsewhere = _night(tmp_path / "address", world, monkeypatch, nightly, cluster=True)
    for name, value in _tables(elsewhere).items():
        assert value == expected[name], name
    assert elsewhere["dask"]["workers"] == sorted(elsewhere["worker_pids"])
    assert {p["task"] for p in elsewhere["dask"]["placement"]} == set(tasks)
    assert {(p["worker"], p["pid"]) for p in elsewhere["dask"]["placement"]} <= set(elsewhere["worker_pids"].items())

    async def task_names(flow_run_id):
        async with get_client() as client:
            run = await client.read_flow_run(flow_run_id)
            runs = await client.read_task_runs()
            return run, {t.name for t in runs if t.flow_run_id == run.id and t.state.is_completed()}

    run, completed = asyncio.run(task_names(spread["flow_run_id"]))
    assert run.name == "reconcile 2026-11-21" and run.state.is_completed()
    assert {f"parse {n}" for n in names} | {f"store {n}" for n in names} <= completed
    assert {"fetch wechatpay", "fetch ledger export", "match 2026-11-21", "reports 2026-11-21"} <= completed


def _config_with(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "recon.toml"
    text = CONFIG.read_text("utf-8").replace('"rate_cards/', f'"{CONFIG.parent}/rate_cards/')
    path.write_text(text + "\n" + table, "utf-8")
    return path


def test_where_to_run_from_the_config_and_the_environment(tmp_path, monkeypatch):
    from flows import fanout
    from recon.config_ops import DaskConfig
    monkeypatch.delenv(fanout.ENV, raising=False)
    assert config.load(CONFIG).dask is None
    assert fanout.resolve(config.load(CONFIG)) is None  # no table, no variable: Prefect's thread pool

    cfg = config.load(_config_with(tmp_path, '[dask]\naddress = "tcp://10.1.2.3:8786"\n'))
    assert fanout.resolve(cfg) == DaskConfig(address="tcp://10.1.2.3:8786")
    cfg = config.load(_config_with(tmp_path, "[dask]\nn_workers = 3\nthreads_per_worker = 2\n"))
    assert cfg.dask == DaskConfig(n_workers=3, threads_per_worker=2)
    # An address from an unset variable leaves Dask off.
    assert config.load(_config_with(tmp_path, '[dask]\naddress = "${RECON_TEST_NO_SUCH_VAR:-}"\n')).dask is None

    monkeypatch.setenv(fanout.ENV, "local:2")  # the environment wins over the file
    assert fanout.resolve(cfg) == DaskConfig(n_workers=2)
    monkeypatch.setenv(fanout.ENV, "off")
    assert fanout.resolve(cfg) is None
    assert fanout.parse_spec("scheduler.internal:8786") == DaskConfig(address="scheduler.internal:8786")
    assert fanout.parse_spec("local") == DaskConfig()

    for bad, key in (('[dask]\naddress = "tcp://h:8786"\nn_workers = 2\n', "dask.n_workers"),
                     ('[dask]\naddress = "http://h"\n', "dask.address"),
                     ("[dask]\nn_workers = 0\n", "dask.n_workers"),
                     ("[dask]\nworkers = 2\n", "dask.workers")):
        with pytest.raises(ConfigError) as e:
            config.load(_config_with(tmp_path, bad))
        assert e.value.key == key
    for bad in ("local:0", "tcp//nowhere", "dask"):
        with pytest.raises(ReconError, match="RECON_DASK_ADDRESS"):
            fanout.parse_spec(bad)

    runner = fanout.task_runner(DaskConfig(address="tcp://10.1.2.3:8786"))
    assert runner.address == "tcp://10.1.2.3:8786" and runner.cluster_kwargs == {}
    runner = fanout.task_runner(DaskConfig(n_workers=2))
    assert runner.address is None
    assert runner.cluster_kwargs == {"processes": True, "threads_per_worker": 1, "n_workers": 2}


def test_staged_parse_and_store_equal_a_direct_load_also_for_a_rejected_file(tmp_path, monkeypatch):
    """What a worker stages and the flow stores is what ``pipeline.load_*`` writes, rejections
    included (the task functions called in this process: the cluster run is the test above)."""
    import shutil

    from connectors.archive import Archive, Fetched
    from flows import fanout
    from recon import pipeline
    world = tmp_path / "world"
    day = generate_day(DAY, world, seed=3, scale=30)
    bad = tmp_path / "wechatpay_trade_20261121.csv"
    bad.write_bytes(day.paths["wechatpay"].read_bytes()[:-40] + b"\n1,2,3\n")  # the last row cut short
    results = {}
    for how in ("direct", "staged"):
        monkeypatch.setenv("RECON_HOME", str(tmp_path / how))
        cfg = config.load(CONFIG)
        archive = Archive(cfg.archive)
        statuses = []
        for source, path in (("ledger", day.paths["ledger"]), ("stripe", day.paths["stripe"]), ("wechatpay", bad)):
            tmp = archive.temp_path()
            shutil.copyfile(path, tmp)
            stored = archive.put(tmp)
            f = Fetched(source, str(path), path.name, stored.size, stored.sha256, stored.path, stored.new)
            if how == "direct":
                statuses.append(pipeline.load_ledger_file(cfg, f, DAY, "R") if source == "ledger" else
                                pipeline.load_statement(cfg, cfg.source(source), f, DAY, "R"))
                continue
            staged = fanout.prepare_on_worker.fn(fanout.ConfigRef(str(cfg.path), cfg.sha256), source, f, DAY, "R")
            assert staged.where.worker == "" and (staged.parts == 0) == bool(staged.error)
            statuses.append(fanout.store_task.fn(cfg, f, staged, DAY, "R"))
        assert how == "direct" or not [p for p in (fanout.staging_root(cfg) / "R").rglob("*") if p.is_file()]
        con = duckdb.connect(str(cfg.warehouse), read_only=True)
        try:
            results[how] = (statuses, con.execute("SELECT sha256, source, parse_status, line_count, control_total, "
                                                  "error FROM files ORDER BY sha256").fetchall(),
                            con.execute("SELECT count(*), sum(amount_minor) FROM statement_lines").fetchone(),
                            con.execute("SELECT count(*) FROM ledger_entries").fetchone())
        finally:
            con.close()
    assert [s.status for s in results["direct"][0]] == ["loaded", "loaded", "rejected"]
    assert results["staged"] == results["direct"]


def test_the_deployment_entrypoint_hands_out_the_importable_flow():
    """`prefect deploy flows/nightly.py:nightly` loads the file as a module named "nightly", which
    Dask workers cannot import when they unpickle the run's context (the deployment then failed
    with "No module named 'nightly'"); the file hands out the flow of the package module."""
    from prefect.flows import load_flow_from_entrypoint
    flow = load_flow_from_entrypoint(f"{ROOT / 'flows' / 'nightly.py'}:nightly")
    assert flow.fn.__module__ == "flows.nightly" and flow.name == "recon-nightly"
