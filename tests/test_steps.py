"""The cascade's steps (recon/steps.py): what each declares it reads and writes is what its SQL
names, every read was written by an earlier step of the run, and RECON_KEEP_STEPS keeps each
step's tables."""
from __future__ import annotations

from importlib import resources

import duckdb
import pytest

import sql
from recon import matching, steps
from recon import rules as registry
from recon.partitions import Partitions, partition_candidates
from tests.tables import D, delivered, ledger, run_day, stmt, ts, with_matching
from tests.test_rules import load

SQL_STEPS = sorted([name for name, s in steps.STEPS.items() if not s.python]
                   + list({r.sql for r in registry.RULES.values()}))


def work_tables(name: str) -> set[str]:
    """The work_* names sql/<name>.sql uses, as DuckDB's own tokenizer reads them (not in comments
    or strings)."""
    text = sql.render(name, key="merchant_reference")
    tokens = duckdb.tokenize(text)
    raw = text.encode()  # the tokens' offsets count bytes
    found = set()
    for (start, kind), nxt in zip(tokens, [*tokens[1:], (len(raw), None)]):
        word = raw[start:nxt[0]].decode().strip().strip('"')
        if kind == duckdb.token_type.identifier and word.startswith("work_"):
            found.add(word)
    return found


@pytest.mark.parametrize("name", SQL_STEPS)
def test_each_step_declares_the_work_tables_its_sql_uses(name):
    st = steps.step(name)
    declared = {*st.reads, *st.writes, *st.drops, *st.local}
    used = work_tables(name)
    assert used <= declared, f"{name}.sql uses {sorted(used - declared)} without declaring them"
    if st.reads != steps.RULE_READS:  # a rule's step is its contract: it may leave a part unused
        assert declared <= used, f"{name} declares {sorted(declared - used)}, which its SQL does not use"


def test_every_sql_file_of_the_cascade_is_a_step():
    """The files matching.py and routes.py run are all declared (the reports' and checks' queries
    read the warehouse only)."""
    cascade = {p.stem for p in resources.files(sql).iterdir()
               if p.name.endswith(".sql") and work_tables(p.stem) and p.stem not in ("ddl",)}
    assert cascade <= set(SQL_STEPS), sorted(cascade - set(SQL_STEPS))


def _replay(done: list[tuple[str, str]]) -> None:
    """Each step's reads (and drops) were written by an earlier step and not dropped since."""
    live: set[str] = set()
    for name, label in done:
        st = steps.step(name)
        missing = {*st.reads, *st.drops} - live
        assert not missing, f"{label} reads {sorted(missing)} before any step wrote them"
        live = (live - set(st.drops)) | set(st.writes)


def _day(con):
    load(con,
         ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000, booked_at=ts(1)),
                dict(entry_id="L2", merchant_reference="ORD2", amount_minor=3000, booked_at=ts(2)),
                dict(entry_id="L3", merchant_reference="ORD2", amount_minor=2000, booked_at=ts(2)),
                dict(entry_id="L4", merchant_reference="ORD4", amount_minor=4000, booked_at=ts(4))),
         stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1)),
              dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1)),
              dict(merchant_reference="ORD2", amount_minor=5000, fee_minor=30, booked_at=ts(2)),
              dict(merchant_reference="RFD9", original_reference="ORD1", amount_minor=-500,
                   fee_minor=-3, txn_type="refund", booked_at=ts(5)),
              dict(merchant_reference="ORD8", amount_minor=8000, fee_minor=50, booked_at=ts(1))))


def _partitions(tmp_path):
    return Partitions(2, tmp_path / "parts", lambda args: [partition_candidates(**a) for a in args])


@pytest.mark.one_route  # it chooses its routes itself
@pytest.mark.parametrize("route", ["bulk", "reference"])
@pytest.mark.parametrize("rules, partitioned", [
    (tuple(registry.RULES), False),  # the first pass marks the duplicates on the bulk route
    (tuple(registry.RULES), True),
    (("normalized_reference", "aggregate_reference"), False),  # bulk: one join, no marks
    (("fuzzy", "exact_reference"), False),  # no reference pass first
    ((), False),
])
def test_every_read_was_written_by_an_earlier_step(con, cfg, tmp_path, monkeypatch, route, rules, partitioned):
    runners: list[steps.Runner] = []

    class Recorded(steps.Runner):
        def __init__(self, *a, **k):
            super().__init__(*a, **k)
            runners.append(self)

    monkeypatch.setattr(matching, "Runner", Recorded)
    _day(con)
    con.execute("INSERT INTO runs (run_id, business_date, started_at, status, code_version, config_sha256) "
                "VALUES ('r1', ?, now(), 'running', 't', 't')", [D])
    from datetime import datetime, timezone
    matching.run_cascade(con, with_matching(cfg, "wechatpay", rules=rules), run_id="r1", business_date=D,
                         sources=["wechatpay"], watermark=datetime(2100, 1, 1, tzinfo=timezone.utc),
                         route=route, partitions=_partitions(tmp_path) if partitioned else None)
    (runner,) = runners
    names = [name for name, _ in runner.done]
    _replay(runner.done)
    assert names[:3] == ["work_rules", "work_pending", "work_inputs"]
    assert names[-1] == "carry_forward"
    if rules and rules[0] == "exact_reference" and route == "bulk" and not partitioned:
        assert "mark_duplicates_first_pass" in names and "mark_duplicates_day" not in names
    else:
        assert "mark_duplicates_day" in names and "mark_duplicates_first_pass" not in names
    assert ("partitioned_candidates" in names) == partitioned
    assert ("first_pass" in names) == (route == "bulk" and bool(rules) and rules[0] != "fuzzy"
                                       and not partitioned)


def test_a_step_whose_reads_no_earlier_step_wrote_is_refused(con):
    run = steps.Runner(con)
    with pytest.raises(RuntimeError, match="step mark_matched reads work_ledger, work_stmt, work_links"):
        run.sql("mark_matched", {"state": "matched"})
    assert run.done == []


def test_keep_steps_writes_each_steps_tables_as_parquet(con, cfg, tmp_path, monkeypatch, route):
    keep = tmp_path / "steps"
    monkeypatch.setenv("RECON_KEEP_STEPS", str(keep))
    _day(con)
    run_day(con, cfg)
    folders = sorted(p.name for p in keep.iterdir())
    assert folders[:5] == ["01_work_rules", "02_work_pending", "03_work_inputs", "04_card_fields",
                           "05_work_sets"]
    assert folders[-1].endswith("_carry_forward")
    assert any(f.endswith("_match_reference_close.psp_reference") for f in folders)
    read = duckdb.connect()
    assert read.execute(f"SELECT source, rules FROM '{keep}/01_work_rules/work_rules.parquet'").fetchall() == [
        ("wechatpay", list(cfg.sources[0].matching.rules))]
    # the duplicate marks: the second ORD1 line, whichever route marked it
    (marks,) = [p for p in keep.glob("*_mark_duplicates*/work_duplicate_lines.parquet")]
    assert read.execute(f"SELECT line_id FROM '{marks}'").fetchall() == [(f"{'f' * 16}:3",)]
    # after the first pass is set aside, work_stmt holds what stayed open
    (aside,) = [p for p in keep.glob("*_set_aside/work_stmt.parquet")]
    assert sorted(r[0] for r in read.execute(f"SELECT merchant_reference FROM '{aside}'").fetchall()) == [
        "ORD1", "ORD2", "ORD8", "RFD9"]
