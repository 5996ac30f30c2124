"""Big files load a part at a time: the parts add up to exactly the whole, and a file found bad
part-way loads nothing."""
from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import date
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from recon import config, pipeline, warehouse
from recon.errors import IntegrityError
from recon.generate import generate_day
from schemas import registry
from schemas.ledger import parse_ledger, parse_ledger_parts
from tests.worlds import served

ROOT = Path(__file__).resolve().parents[1]
DAY = date(2026, 11, 21)
TZ = "Asia/Shanghai"


@pytest.fixture(scope="module")
def day_files(tmp_path_factory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("parts")
    g = generate_day(DAY, out, seed=5, scale=300)
    return {k: Path(p) for k, p in g.paths.items()}


def _mangle(data: bytes, line: int, old: bytes, new: bytes) -> bytes:
    """Replace the first ``old`` on physical line ``line`` (1-based) with ``new``."""
    lines = data.split(b"\n")
    assert old in lines[line - 1], (line, lines[line - 1][:80])
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    return b"\n".join(lines)


@pytest.mark.parametrize("key,fmt", [("wechatpay", "wechatpay_trade"), ("stripe", "stripe_itemized")])
def test_statement_parts_add_up_to_the_whole(day_files, key, fmt):
    data = day_files[key].read_bytes()
    if key == "stripe":  # a quarantined line in the middle: a currency recon does not know
        data = _mangle(data, 200, b",usd,", b",xyz,")
    sha = hashlib.sha256(data).hexdigest()
    args = dict(name=day_files[key].name, source=key, sha256=sha, business_date=DAY, timezone=TZ)
    whole = registry.parse(fmt, data, **args)
    parts = list(registry.parse_parts(fmt, data, **args, part_bytes=9000))
    assert len(parts) > 3 and len({p.frame.height for p in parts}) > 1
    assert_frame_equal(pl.concat([p.frame for p in parts]), whole.frame)
    assert_frame_equal(pl.concat([p.quarantine for p in parts]), whole.quarantine)
    assert sum(p.line_count for p in parts) == whole.line_count
    assert [c.ok for c in parts[-1].checks] == [c.ok for c in whole.checks]
    if key == "stripe":
        assert set(whole.quarantine["file_line"]) == {200}
        assert "currency" in whole.quarantine["field"].to_list()


def test_wechat_totals_are_checked_after_the_last_part(day_files):
    data = day_files["wechatpay"].read_bytes()
    lines = data.rstrip(b"\n").split(b"\n")
    assert lines[-2].startswith("总交易单数".encode())
    args = dict(name="wx.csv", source="wechatpay", sha256="ab" * 32, business_date=DAY, timezone=TZ)
    parts = list(registry.parse_parts("wechatpay_trade", data, **args, part_bytes=5000))
    assert parts[-1].frame.height == 0 and parts[-1].checks  # the last part carries the checks
    assert all(not p.checks for p in parts[:-1]) and all(c.ok for c in parts[-1].checks)
    bad = b"\n".join([*lines[:-1], lines[-1].replace(b"`", b"`9", 1)]) + b"\n"  # count no longer matches
    with pytest.raises(IntegrityError, match="总交易单数"):
        list(registry.parse_parts("wechatpay_trade", bad, **args, part_bytes=5000))
    with pytest.raises(IntegrityError, match="总交易单数"):  # whole: before any part
        next(registry.parse_parts("wechatpay_trade", bad, **args))


def test_ledger_parts_add_up_and_repeated_ids_are_found_across_parts(day_files):
    data = day_files["ledger"].read_bytes()
    data = _mangle(data, 150, b",USD,", b",USX,")  # quarantined in the middle
    whole, whole_q = parse_ledger(data, name="ledger.csv", sha256="cd" * 32)
    parts = list(parse_ledger_parts(data, name="ledger.csv", sha256="cd" * 32, part_bytes=7000))
    assert len(parts) > 3
    assert_frame_equal(pl.concat([v for v, _ in parts]), whole)
    assert_frame_equal(pl.concat([q for _, q in parts]), whole_q)
    assert set(whole_q["file_line"]) == {150}

    lines = data.rstrip(b"\n").split(b"\n")
    repeated = b"\n".join([*lines, lines[3]]) + b"\n"  # line 4's entry again as the last line
    whole, whole_q = parse_ledger(repeated, name="ledger.csv", sha256="cd" * 32)
    parts = list(parse_ledger_parts(repeated, name="ledger.csv", sha256="cd" * 32, part_bytes=7000))
    assert len(parts) == 1  # validated whole, so both copies are seen
    assert_frame_equal(parts[0][0], whole)
    assert set(whole_q.filter(pl.col("field") == "entry_id")["file_line"]) == {4, len(lines) + 1}



@pytest.mark.parametrize("quoted", [False, True])  # ids read in one go / part by part
def test_ledger_look_ahead_finds_a_repeat_whichever_way_it_reads_the_ids(day_files, quoted):
    lines = day_files["ledger"].read_bytes().rstrip(b"\n").split(b"\n")
    if quoted:  # a quoted description: the export is no longer read in one go
        lines[9] = lines[9].rsplit(b",", 1)[0] + b',"a, quoted note"'
    fields = lines[19].split(b",")  # line 20's currency trimmed and upper-cased as ever
    code, fields[9] = fields[9].decode(), b" " + fields[9].lower() + b" "
    lines[19] = b",".join(fields)
    repeated = b"\n".join([*lines, lines[3]]) + b"\n"
    parts = list(parse_ledger_parts(repeated, name="ledger.csv", sha256="cd" * 32, part_bytes=7000))
    assert len(parts) == 1
    valid, quarantine = parts[0]
    assert set(quarantine.filter(pl.col("field") == "entry_id")["file_line"]) == {4, len(lines) + 1}
    assert valid.height == len(lines) - 2  # both copies of the repeated entry kept out
    assert valid.filter(pl.col("file_line") == 20)["currency"].to_list() == [code]
    unique = list(parse_ledger_parts(b"\n".join(lines) + b"\n", name="ledger.csv", sha256="cd" * 32,
                                     part_bytes=7000))
    assert len(unique) > 3 and sum(v.height for v, _ in unique) == len(lines) - 1
    if quoted:
        assert "a, quoted note" in pl.concat([v for v, _ in unique])["description"].to_list()


@pytest.fixture
def world(tmp_path, monkeypatch):
    w = tmp_path / "world"
    generate_day(DAY, w, seed=9, scale=120)
    with served(w, tmp_path, monkeypatch):
        yield config.load(ROOT / "data" / "recon.toml")


@pytest.fixture
def stripe_file(world):
    """(config, a begun run, the Stripe source, its fetched file of the day)."""
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(world, run_id, DAY)
    stripe = next(s for s in world.sources if s.name == "stripe")
    return world, run_id, stripe, pipeline.fetch_source(world, stripe, DAY).files[0]


def _lines(cfg, sha: str) -> pl.DataFrame:
    con = warehouse.connect(cfg.warehouse)
    try:
        return pl.from_arrow(con.sql("SELECT * EXCLUDE (file_sha256) FROM statement_lines "
                                     "WHERE file_sha256 = ? ORDER BY file_line", params=[sha]).to_arrow_table())
    finally:
        con.close()


@pytest.mark.integration
def test_load_in_parts_stores_the_same_rows_and_a_late_failure_stores_none(stripe_file):
    cfg, run_id, stripe, f = stripe_file

    # A file whose third part turns out bad: the two parts already written are rolled back.
    good = list(pipeline.prepare_statement_parts(cfg, stripe, f, DAY, part_bytes=6000))
    assert len(good) > 3
    failing = [*good[:2], replace(good[0], frame=None, quarantine=None, error="part 3: boom", failed_check="")]
    status = pipeline.store_statement(cfg, failing, DAY, run_id)
    assert (status.status, status.error) == ("rejected", "part 3: boom")
    assert _lines(cfg, f.sha256).height == 0

    # Loaded in parts of ~6 kB vs whole: the same rows in the warehouse.
    con = warehouse.connect(cfg.warehouse)
    con.execute("DELETE FROM files WHERE sha256 = ?", [f.sha256])
    con.close()
    status = pipeline.store_statement(cfg, pipeline.prepare_statement_parts(cfg, stripe, f, DAY, 6000), DAY, run_id)
    in_parts = _lines(cfg, f.sha256)
    assert status.status == "loaded" and status.lines == in_parts.height == sum(p.frame.height for p in good)
    whole = pipeline.prepare_statement(cfg, stripe, f, DAY).frame
    assert in_parts["line_id"].to_list() == whole["line_id"].to_list()
    assert in_parts["amount_minor"].sum() == whole["amount_minor"].sum()


def test_a_short_row_in_a_later_part_is_refused_with_its_physical_line(day_files):
    from recon.errors import ParseError
    data = day_files["stripe"].read_bytes()
    lines = data.split(b"\n")
    lines[299] = lines[299].rsplit(b",", 3)[0]  # line 300 cut short by three fields
    data = b"\n".join(lines)
    args = dict(name="stripe.csv", source="stripe", sha256="ef" * 32, business_date=DAY, timezone=TZ)
    with pytest.raises(ParseError) as whole:
        registry.parse("stripe_itemized", data, **args)
    with pytest.raises(ParseError) as parted:
        list(registry.parse_parts("stripe_itemized", data, **args, part_bytes=9000))
    assert str(parted.value) == str(whole.value) and "line 300" in str(whole.value)


def test_file_view_answers_like_bytes(tmp_path, monkeypatch):
    import random

    from connectors.archive import FileView
    monkeypatch.setattr(FileView, "BLOCK", 7)  # searches cross many block edges
    rnd = random.Random(3)
    for case in range(40):
        data = bytes(rnd.choice(b"ab\n,`") for _ in range(rnd.randrange(0, 120)))
        path = tmp_path / f"f{case}"
        path.write_bytes(data)
        view = FileView(path)
        assert len(view) == len(data) and view[:] == data and view.startswith(data[:3])
        for _ in range(30):
            a, b = sorted(rnd.randrange(-5, len(data) + 5) for _ in range(2))
            sub = bytes(rnd.choice(b"ab\n,") for _ in range(rnd.randrange(1, 4)))
            assert view[a:b] == data[a:b]
            assert view.find(sub, a, b) == data.find(sub, a, b), (data, sub, a, b)
            assert view.rfind(sub, a, b) == data.rfind(sub, a, b), (data, sub, a, b)
            assert view.count(sub[:1], a, b) == data.count(sub[:1], a, b)


@pytest.mark.parametrize("key,fmt", [("wechatpay", "wechatpay_trade"), ("stripe", "stripe_itemized")])
def test_parts_read_from_a_file_view_equal_those_from_bytes(day_files, key, fmt, monkeypatch):
    from connectors.archive import FileView
    monkeypatch.setattr(FileView, "BLOCK", 1000)
    data = day_files[key].read_bytes()
    args = dict(name=day_files[key].name, source=key, sha256="ab" * 32, business_date=DAY, timezone=TZ)
    from_bytes = list(registry.parse_parts(fmt, data, **args, part_bytes=9000))
    from_view = list(registry.parse_parts(fmt, FileView(day_files[key]), **args, part_bytes=9000))
    assert len(from_view) == len(from_bytes) > 3
    for a, b in zip(from_view, from_bytes):
        assert_frame_equal(a.frame, b.frame)
    view_ledger = list(parse_ledger_parts(FileView(day_files["ledger"]), name="l.csv", sha256="cd" * 32,
                                          part_bytes=7000))
    bytes_ledger = list(parse_ledger_parts(day_files["ledger"].read_bytes(), name="l.csv", sha256="cd" * 32,
                                           part_bytes=7000))
    assert len(view_ledger) == len(bytes_ledger) > 3
    assert_frame_equal(pl.concat([v for v, _ in view_ledger]), pl.concat([v for v, _ in bytes_ledger]))


@pytest.mark.integration
def test_a_load_killed_part_way_is_cleared_by_the_next_run_and_loads_once(stripe_file):
    cfg, run_id, stripe, f = stripe_file
    whole = pipeline.prepare_statement(cfg, stripe, f, DAY).frame

    def killed():  # two parts stored, then the process dies (here: an exception) mid-file
        parts = pipeline.prepare_statement_parts(cfg, stripe, f, DAY, part_bytes=6000)
        yield next(parts)
        yield next(parts)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pipeline.store_statement(cfg, killed(), DAY, run_id)
    con = warehouse.connect(cfg.warehouse)
    try:
        assert warehouse.file_seen(con, f.sha256)["parse_status"] == "loading"
        assert 0 < _lines(cfg, f.sha256).height < whole.height  # half a file is in the table …
    finally:
        con.close()
    assert pipeline.already_loaded(cfg, f, "psp") is None  # … but it does not count as loaded

    nxt = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, nxt, DAY)  # the next run clears what the killed one left
    assert _lines(cfg, f.sha256).height == 0
    status = pipeline.load_statement(cfg, stripe, f, DAY, nxt)
    lines = _lines(cfg, f.sha256)
    assert status.status == "loaded" and status.lines == lines.height == whole.height
    assert lines["line_id"].n_unique() == lines.height  # each line once
    assert lines["amount_minor"].sum() == whole["amount_minor"].sum()


def test_trace_finds_a_source_line_block_by_block_like_a_whole_read(tmp_path, monkeypatch):
    import random

    import recon.audit as audit
    from connectors.archive import FileView
    monkeypatch.setattr(audit, "_BLOCK", 5)
    monkeypatch.setattr(FileView, "BLOCK", 3)
    rnd = random.Random(5)

    def whole_read(data: bytes, line: int):  # physical lines end in \n; a \r before it is not shown
        lines = data.split(b"\n")[:-1] if data.endswith(b"\n") else data.split(b"\n")
        return lines[line - 1].rstrip(b"\r") if 1 <= line <= len(lines) else None

    for case in range(200):
        data = bytes(rnd.choice(b"ab\n\r") for _ in range(rnd.randrange(0, 60)))
        path = tmp_path / f"f{case}"
        path.write_bytes(data)
        for source in (data, FileView(path)):
            for line in range(0, data.count(b"\n") + 3):
                start = audit._line_start(source, line)
                found = None if start < 0 else audit._lines_from(source, start, 1)[0]
                assert found == whole_read(data, line), (data, line)


def test_a_checkpoint_keeps_each_parts_row_groups_as_committed(tmp_path):
    """Each part commits whole row groups and one partial one; a checkpoint must not merge those
    (merging read back and recompressed every part, a cost that grows with the file). Two commits of
    130,000 rows stay 2 + 2 row groups after a checkpoint, where merging made them 3."""
    con = warehouse.connect(tmp_path / "w.duckdb")
    try:
        con.execute("CREATE TABLE t (id BIGINT, text VARCHAR)")
        for start in (0, 130_000):
            with warehouse.transaction(con):
                con.execute("INSERT INTO t SELECT i, 'line ' || i FROM range($a, $b) r(i)",
                            {"a": start, "b": start + 130_000})
        con.execute("CHECKPOINT")
        groups = con.execute("SELECT count(DISTINCT row_group_id) FROM pragma_storage_info('t')").fetchone()[0]
        assert con.execute("SELECT count(*), sum(id) FROM t").fetchone() == (260_000, 259_999 * 130_000)
        assert groups == 4
    finally:
        con.close()
