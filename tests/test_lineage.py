"""A line's audit copy is the archive (recon/lineage.py): spans found from file_line and the bytes,
traced back to exactly the source bytes, old warehouses still traced, a changed archive refused."""
from __future__ import annotations

import gzip
import json
import os
import random
import re
import shutil
from datetime import date
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pytest

from connectors.archive import Archive, ArchiveCorrupted
from connectors.local import fetch_local
from recon import audit, config, lineage, pipeline, warehouse
from recon.generate import generate_day
from tests.worlds import config_head, local_psp

ROOT = Path(__file__).resolve().parents[1]
SPEC = Path(__file__).parent / "data" / "spec" / "wechatpay"
DAY = date(2026, 11, 21)

CONFIG = config_head("{home}") + """
[ledger]
directory = "{world}/ledger"
pattern = "ledger_{{date:%Y%m%d}}.csv"
""" + local_psp("wechatpay", "wechatpay_trade", "CNY", "wechatpay_trade_{{date:%Y%m%d}}.csv", extra="{wechat_card}\n") \
  + local_psp("stripe", "stripe_itemized", "USD", "stripe_itemized_{{date:%Y%m%d}}.csv.gz")

# A WeChat rate card whose card type is read from 付款银行, a field the parser does not copy.
WECHAT_CARD = """
source = "wechatpay"
currency = "CNY"
card_type_field = "付款银行"

[[rates]]
method = "*"
percent = "0.60"
fixed = "0.00"
valid_from = "2020-01-01"
refund_returns_fee = false

[[rates]]
method = "*"
card_type = "CMB_DEBIT"
percent = "0.20"
fixed = "0.00"
valid_from = "2020-01-01"
refund_returns_fee = false
"""


def physical_lines(data: bytes, enc: str) -> list[bytes]:
    """The reference: every physical line's bytes (CR, CRLF or LF end one), BOM dropped."""
    text = data.decode(enc).removeprefix("\ufeff")
    return [ln.encode(enc) for ln in re.split(r"\r\n|\r|\n", text)]


# --- the spans themselves --------------------------------------------------------------------

@pytest.mark.parametrize("enc,bom", [("utf-8", b""), ("utf-8", b"\xef\xbb\xbf"), ("gb18030", b""),
                                     ("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff"),
                                     ("utf-16-le", b"")])
@pytest.mark.parametrize("block", [1, 3, 16, 1 << 20])
def test_spans_equal_the_physical_lines_whatever_the_encoding_line_ends_and_blocks(enc, bom, block, monkeypatch):
    monkeypatch.setattr(lineage, "_BLOCK", block)
    rng = random.Random(f"{enc}{bom}{block}")
    for _ in range(20):
        lines = ["".join(rng.choice("ab,`中文\u0a0d") for _ in range(rng.randint(0, 8)))
                 for _ in range(rng.randint(1, 30))]
        if not bom and enc.startswith("utf-16"):  # recognised by its NUL bytes: mostly ASCII
            lines = ["abcd" + ln.replace("中", "a").replace("文", "b") for ln in lines]
        text = "".join(ln + rng.choice(["\n", "\r\n", "\r"]) for ln in lines)
        if rng.random() < 0.5:
            text = text.rstrip("\r\n")
        data = bom + text.encode(enc)
        expected = [ln.encode(enc) for ln in re.split(r"\r\n|\r|\n", text)]
        if text.endswith(("\n", "\r")):
            expected.pop()
        spans = lineage.Spans(data)
        got = []
        for start in range(1, len(expected) + 1, 4):  # part by part, in file order
            off, n = spans.locate(np.arange(start, min(start + 4, len(expected) + 1)))
            got += [data[o:o + k] for o, k in zip(off.tolist(), n.tolist())]
        assert got == expected
        pick = np.array(sorted(rng.sample(range(1, len(expected) + 1), min(3, len(expected)))))
        off, n = lineage.Spans(data).locate(pick)  # lines skipped (quarantined) in between
        assert [data[o:o + k] for o, k in zip(off.tolist(), n.tolist())] == [expected[i - 1] for i in pick]
    with pytest.raises(lineage.LineOutsideFile, match="line 99 is not in the file's"):
        lineage.Spans(b"a\nb\n").locate(np.array([99]))


def test_file_spans_are_the_same_mapped_and_read_a_range_at_a_time(tmp_path, monkeypatch):
    """FileSpans maps an archived file read whole elsewhere, and reads a big one (here: every file)
    through Archive.open's FileView: the same spans either way, CRLF cut across 5-byte blocks."""
    monkeypatch.setattr(lineage, "_BLOCK", 5)
    data = b"\xef\xbb\xbfh,x\r\na,1\r\n\r\nbb,22\rc,3\nlast"
    (tmp_path / "f.csv").write_bytes(data)
    sha = Archive(tmp_path / "archive").put(tmp_path / "f.csv").sha256
    frame = pl.DataFrame({"file_line": [2, 4, 5, 6], "raw": ["", "", "", ""]})
    spans = [lineage.FileSpans(tmp_path / "archive", sha, "f.csv", "stripe_itemized").with_spans(frame)]
    monkeypatch.setattr(lineage, "_WHOLE_BELOW", 0)  # every file read as a big one
    spans.append(lineage.FileSpans(tmp_path / "archive", sha, "f.csv", "stripe_itemized").with_spans(frame))
    for got in spans:
        assert "raw" not in got.columns
        assert [data[o:o + n] for o, n in zip(got["byte_offset"], got["byte_length"])] == \
            [b"a,1", b"bb,22", b"c,3", b"last"]


@pytest.mark.parametrize("name,enc", [("all_current_gbk.csv", "gb18030"), ("all_current_utf16.csv", "utf-16"),
                                      ("all_current_bom_crlf.csv", "utf-8"), ("all_older_cr.csv", "utf-8"),
                                      ("all_current_mixed.csv", "utf-8")])
def test_wechat_spec_bills_each_parsed_line_spans_its_own_bytes(name, enc):
    """Every parsed line of the published WeChat bills (GBK, UTF-16, BOM+CRLF, CR-only): the span
    of its file_line holds its merchant order number and decodes to that physical line."""
    from schemas import registry
    data = (SPEC / name).read_bytes()
    fmt = registry.identify(data, name)
    assert lineage.spanned(fmt)
    parsed = registry.parse(fmt, data, name=name, source="wx", sha256="0" * 64, business_date=DAY,
                            timezone="Asia/Shanghai")
    assert parsed.frame.height > 0
    off, n = lineage.Spans(data).locate(parsed.frame["file_line"].to_numpy())
    reference = physical_lines(data, "utf-8-sig" if enc == "utf-8" else enc)
    for row, o, k in zip(parsed.frame.iter_rows(named=True), off.tolist(), n.tolist()):
        text = lineage.decode_line(data[o:o + k], data[:4096])
        assert text.encode("utf-8") == reference[row["file_line"] - 1].decode(
            "utf-8-sig" if enc == "utf-8" else enc).encode("utf-8")
        assert f"`{row['merchant_reference']}," in text


# --- loaded, traced, migrated, tampered ---------------------------------------------------------

@pytest.fixture
def loaded(tmp_path):
    """A WeChat GBK bill (the published sample) and a gzip-wrapped Stripe report of the generated
    day, loaded by the pipeline's own prepare and store steps."""
    world = tmp_path / "world"
    generate_day(DAY, world, seed=5, scale=30)
    shutil.copy(SPEC / "all_current_gbk.csv", world / "wechatpay" / f"wechatpay_trade_{DAY:%Y%m%d}.csv")
    for p in (world / "wechatpay").glob("*"):
        if p.name != f"wechatpay_trade_{DAY:%Y%m%d}.csv":
            p.unlink()
    plain = world / "stripe" / f"stripe_itemized_{DAY:%Y%m%d}.csv"
    (world / "stripe" / (plain.name + ".gz")).write_bytes(gzip.compress(plain.read_bytes()))
    card = tmp_path / "wechat_card.toml"
    card.write_text(WECHAT_CARD, "utf-8")
    path = tmp_path / "recon.toml"
    path.write_text(CONFIG.format(home=tmp_path / "var", world=world,
                                  wechat_card=f'rate_card = "{card}"'), "utf-8")
    cfg = config.load(path)
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    for s in cfg.sources:
        [f] = fetch_local(s.local.path, s.local.pattern, DAY, Archive(cfg.archive), source=s.name)
        assert pipeline.load_statement(cfg, s, f, DAY, run_id).status == "loaded"
    return cfg, run_id, world


def _lines(cfg, source: str) -> list[tuple]:
    con = warehouse.connect(cfg.warehouse)
    try:
        return warehouse.rows(con, "SELECT line_id, file_sha256, file_line, byte_offset, byte_length, raw "
                                   "FROM statement_lines WHERE source = ? ORDER BY file_line", [source])
    finally:
        con.close()


def _break_on(cfg, run_id: str, line_id: str, source: str) -> str:
    """A break row on ``line_id`` (what trace starts from)."""
    con = warehouse.connect(cfg.warehouse)
    try:
        con.execute("INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, "
                    "line_id, difference_minor, rule) SELECT ?, ?, ?, 'missing_in_ledger', ?, currency, "
                    "line_id, 0, 'test' FROM statement_lines WHERE line_id = ?",
                    [run_id, "b" + line_id[-8:].replace(":", "0"), DAY, source, line_id])
    finally:
        con.close()
    return "b" + line_id[-8:].replace(":", "0")


def test_loaded_lines_keep_spans_not_raw_and_trace_reaches_exactly_their_bytes(loaded):
    cfg, run_id, world = loaded
    archive = Archive(cfg.archive)
    gbk = (SPEC / "all_current_gbk.csv").read_bytes()
    wx = _lines(cfg, "wechatpay")
    assert wx and all(raw is None and off is not None for *_, off, _, raw in wx)
    reference = physical_lines(gbk, "gb18030")
    for _, sha, line, off, length, _ in wx:  # the archived bytes as delivered: GBK, CRLF
        assert lineage.line_bytes(archive, sha, off, length) == reference[line - 1]
        assert gbk[off:off + length] == reference[line - 1]

    plain = (world / "stripe" / f"stripe_itemized_{DAY:%Y%m%d}.csv").read_bytes()
    st = _lines(cfg, "stripe")
    assert len(st) > 20 and all(raw is None for *_, raw in st)
    reference = plain.split(b"\n")
    for _, sha, line, off, length, _ in st:  # the gzip member's bytes: the offsets are into it
        assert lineage.line_bytes(archive, sha, off, length) == reference[line - 1].rstrip(b"\r")

    for source, (line_id, sha, line, off, length, _) in (("wechatpay", wx[1]), ("stripe", st[7])):
        t = audit.trace(cfg, _break_on(cfg, run_id, line_id, source), run_id)
        [ln] = t["statement_lines"]
        expected = (gbk.decode("gb18030") if source == "wechatpay" else plain.decode()).splitlines()[line - 1]
        assert (ln["byte_offset"], ln["byte_length"]) == (off, length) and ln["raw_bytes"] == expected
        assert f"    | {expected}" in audit.format_trace(t)


def test_a_rate_card_field_the_parser_does_not_copy_is_read_from_the_archive(loaded):
    """付款银行 is not stored (no raw): the fee check reads it from the archived bill, and prices
    each line as it would from the raw copy."""
    from recon import matching
    cfg, _, _ = loaded
    con = warehouse.connect(cfg.warehouse)
    try:
        assert lineage.read_card_fields(con, cfg, DAY) == 3
        got = dict(warehouse.rows(con, "SELECT s.file_line, c.card_type FROM line_card_field c "
                                       "JOIN statement_lines s USING (line_id)"))
        query = ("SELECT s.file_line, f.expected_fee FROM line_fees(?) f JOIN statement_lines s "
                 "USING (line_id) WHERE f.source = 'wechatpay'")
        fees = dict(warehouse.rows(con, query, [DAY]))
        con.execute("DELETE FROM line_card_field")
        unread = dict(warehouse.rows(con, query, [DAY]))
    finally:
        con.close()
    assert got == {2: "CMB_DEBIT", 3: "CMB_DEBIT", 4: "OTHERS"}
    # 0.20 % of 125.00 CNY, the CMB_DEBIT rate (the refund: no fee returned); line 4's fee is finer
    # than a fen (fee_exact), so not priced. Without the field: the 0.60 % of every card.
    assert fees == {2: 25, 3: 0} and unread == {2: 75, 3: 0}
    assert matching.lineage is lineage


def test_a_warehouse_of_the_old_layout_migrates_and_still_traces(loaded, monkeypatch):
    """Lines loaded before spans existed (raw kept, no byte columns) trace by line number as
    before once the warehouse gains the columns."""
    cfg, run_id, _ = loaded
    monkeypatch.setattr(lineage, "SPANNED", frozenset())  # how earlier versions stored lines
    con = warehouse.connect(cfg.warehouse)
    try:
        con.execute("DELETE FROM statement_lines")
        con.execute("DELETE FROM files")
    finally:
        con.close()
    for s in cfg.sources:
        [f] = fetch_local(s.local.path, s.local.pattern, DAY, Archive(cfg.archive), source=s.name)
        pipeline.load_statement(cfg, s, f, DAY, run_id)
    old = duckdb.connect(str(cfg.warehouse))
    old.execute("ALTER TABLE statement_lines DROP COLUMN byte_offset")
    old.execute("ALTER TABLE statement_lines DROP COLUMN byte_length")
    old.execute("DROP TABLE recon_schema")  # as an earlier version left it: no schema digest
    old.close()
    monkeypatch.undo()
    line_id, sha, line, off, length, raw = _lines(cfg, "wechatpay")[0]  # connect() migrated it
    assert off is None and length is None and json.loads(raw)["商户订单号"] == "ORD-1001"
    t = audit.trace(cfg, _break_on(cfg, run_id, line_id, "wechatpay"), run_id)
    [ln] = t["statement_lines"]
    assert "ORD-1001" in ln["raw_bytes"] and ln["byte_offset"] is None


def test_a_changed_archive_is_refused_not_quoted(loaded):
    cfg, run_id, _ = loaded
    line_id, sha, line, off, length, _ = _lines(cfg, "wechatpay")[0]
    path = Archive(cfg.archive).path(sha)
    os.chmod(path, 0o600)
    data = bytearray(path.read_bytes())
    data[off] ^= 0x01
    path.write_bytes(bytes(data))
    bid = _break_on(cfg, run_id, line_id, "wechatpay")
    with pytest.raises(ArchiveCorrupted, match=f"is corrupted: expected sha256 {sha}.*archive-corrupted"):
        audit.trace(cfg, bid, run_id)
    from recon import cli
    assert cli.main(["trace", bid, "--config", str(cfg.path)]) == 2
