"""Files written by hand, independently of recon's generator, as a merchant receives them.

tests/data/indie/README.md names the published source of each choice. Every file must load as
delivered: the lines, amounts (minor units), dates and references below are asserted literally,
and nothing is quarantined.
"""
from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest

from connectors.archive import Archive
from connectors.local import fetch_local
from recon import config, pipeline, warehouse
from recon.errors import ParseError
from schemas import registry
from tests.worlds import config_head

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data" / "indie"
DAY = date(2026, 11, 20)
RECON = [sys.executable, "-m", "recon.cli", "-q"]


def _parse(name: str, fmt: str):
    data = (DATA / name).read_bytes()
    assert registry.identify(data, name) == fmt
    return registry.parse(fmt, data, name=name, source=fmt, sha256=hashlib.sha256(data).hexdigest(),
                          business_date=DAY, timezone="Asia/Shanghai")


def _cli_parse(name: str) -> tuple[int, str]:
    out = subprocess.run(RECON + ["parse", str(DATA / name), "--date", "2026-11-20", "--timezone",
                                  "Asia/Shanghai"], capture_output=True, text=True, cwd=ROOT)
    return out.returncode, out.stderr


def _cols(parsed, *names: str) -> list[tuple]:
    return parsed.frame.select(*names).rows()


def test_wechat_all_bill_with_a_comma_in_a_product_name_and_a_revoked_order():
    parsed = _parse("wechatpay_all_20261120.csv", "wechatpay_trade")
    assert parsed.quarantine.height == 0
    assert _cols(parsed, "file_line", "txn_type", "amount_minor", "fee_minor", "net_minor", "psp_reference",
                 "merchant_reference", "original_reference", "description", "status") == [
        (2, "payment", 10000, 60, 9940, "4200002871202611200153882761", "E20261120000311A1", None, "咖啡 大杯",
         "SUCCESS"),
        (3, "payment", 5850, 35, 5815, "4200002871202611200287760142", "E20261120094157B7", None,
         "会员月卡（连续包月）", "SUCCESS"),
        # 商品名称 with a comma, written unquoted by WeChat: one field, not two
        (4, "payment", 123456, 741, 122715, "4200002871202611200391125517", "E20261120121530C2", None,
         "年货礼盒,2件", "SUCCESS"),
        (5, "refund", -3000, -18, -2982, "50300908012026112001234567890", "R20261120150244",
         "E20261119201113Z9", "咖啡 大杯", "REFUND"),
        # a revoked (撤销) micropay order carries its refund columns: a reversal, not an unknown type
        (6, "refund", -1200, 0, -1200, "50300908012026112009999999999", "E20261120183000F1",
         "E20261120183000F1", "便利店", "REVOKED"),
    ]
    first = parsed.frame.row(0, named=True)
    assert str(first["booked_at"]) == "2026-11-19 16:03:11+00:00"  # 00:03:11 Beijing time
    assert (first["merchant_id"], first["sub_merchant_id"], first["payment_method"]) == ("1900000109", "", "JSAPI")
    assert len(parsed.checks) == 7


def test_stripe_payout_reconciliation_itemized_5_with_quoted_descriptions_and_metadata():
    parsed = _parse("payout_reconciliation.itemized.5_20261120.csv", "stripe_itemized")
    assert parsed.quarantine.height == 0
    assert _cols(parsed, "file_line", "txn_type", "amount_minor", "fee_minor", "net_minor", "currency",
                 "psp_reference", "merchant_reference", "original_reference", "payout_id", "description") == [
        (2, "payment", 4590, 163, 4427, "USD", "ch_3QmA1bLkdIwHu7ix1Ks0aa01", "E-1001", None,
         "po_1QmZx2LkdIwHu7ix0Abc1234", "Order E-1001, 2 items"),
        (3, "payment", 125000, 3655, 121345, "USD", "ch_3QmA9cLkdIwHu7ix0Pq7bb02", "E-1002", None,
         "po_1QmZx2LkdIwHu7ix0Abc1234", 'Invoice "INV-77", annual plan'),
        (4, "refund", -1250, 0, -1250, "USD", "re_3QmB2dLkdIwHu7ix1Yx9cc03", None, "E-0990",
         "po_1QmZx2LkdIwHu7ix0Abc1234", "REFUND FOR CHARGE (Order E-0990)"),
        (5, "chargeback", -2000, 1500, -3500, "USD", "dp_1QmB7eLkdIwHu7ixk2Lmdd04", "E-0950", "E-0950",
         "po_1QmZx2LkdIwHu7ix0Abc1234", "Chargeback withdrawal for ch_3Qm0"),
        # refund_failure brings the refund's money back: an adjustment, not a refund of the wrong sign
        (6, "adjustment", 1250, 0, 1250, "USD", "re_3QmB2dLkdIwHu7ix1Yx9cc03", "E-0990", "E-0990",
         "po_1QmZx2LkdIwHu7ix0Abc1234", "REFUND FAILURE"),
        # a Stripe fee with no source object: its balance transaction is the reference
        (7, "fee", -320, 0, -320, "USD", "txn_1QmC9gLkdIwHu7ixBq7Hgg06", None, None,
         "po_1QmZx2LkdIwHu7ix0Abc1234", "Billing - Usage Fee (2026-11-18)"),
    ]
    row = parsed.frame.row(1, named=True)
    # `created` is in the report run's timezone (Asia/Shanghai here); the report has no created_utc
    assert (str(row["booked_at"]), str(row["value_date"])) == ("2026-11-17 15:58:10+00:00", "2026-11-19")
    assert parsed.frame.row(1, named=True)["counterparty"] is None  # empty customer_email


def test_camt053_v08_two_accounts_prefixed_namespace_batch_and_free_text():
    parsed = _parse("camt.053.001.08_20261120.xml", "camt053")
    assert parsed.quarantine.height == 0
    assert _cols(parsed, "file_line", "amount_minor", "currency", "end_to_end_id", "bank_reference",
                 "counterparty", "description", "value_date") == [
        # EndToEndId NOTPROVIDED: no reference; the payer is Pty/Nm
        (61, 138565, "CNY", None, "CMB20261119A0000917", "财付通支付科技有限公司", "1900000109 20261119 结算",
         date(2026, 11, 19)),
        # no NtryDtls, proprietary BkTxCd: the text is AddtlNtryInf
        (98, -1500, "CNY", None, "CMB20261119F0000001", None, "账户管理费 2026-11", date(2026, 11, 19)),
        # TxDtls without an amount: the entry's; the creditor named on a debit; Ustrd before AddtlNtryInf
        (114, -99747, "CNY", "PAY-SUP-88120", "CMB20261119D0000533", "上海某某包装材料有限公司",
         "发票 INV-2026-0417", date(2026, 11, 19)),
        # Stripe's payout id only in AddtlNtryInf
        (188, 121022, "USD", None, "CMB20261119U0000042", None,
         "STRIPE PAYMENTS UK LTD STRIPE PAYOUT po_1QlYw1LkdIwHu7ix9Zyx0987", date(2026, 11, 19)),
        # a batch of two salaries: one line per TxDtls, each with its own references
        (228, -120000, "USD", "SAL-202611-007", "CMB20261119U0000043-1", "Jane Doe", None, date(2026, 11, 19)),
        (243, -82500, "USD", "SAL-202611-008", "CMB20261119U0000043-2", "John Roe", None, date(2026, 11, 19)),
    ]
    booked = [str(b) for b in parsed.frame["booked_at"]]
    assert booked[:3] == ["2026-11-18 16:00:00+00:00", "2026-11-18 16:00:00+00:00", "2026-11-19 06:22:31+00:00"]
    names = [c.name for c in parsed.checks]
    assert "Stmt CNY-20261119-0001: OPBD + Σ entries = CLBD" in names
    assert "Stmt USD-20261119-0001: OPBD + Σ entries = CLBD" in names


def test_camt053_v08_default_namespace_bom_crlf_prcd_short_amounts_and_a_quiet_account():
    parsed = _parse("camt.053.001.08_quiet_day_20261121.xml", "camt053")
    assert parsed.quarantine.height == 0
    assert _cols(parsed, "file_line", "amount_minor", "currency", "end_to_end_id", "bank_reference",
                 "counterparty", "description") == [
        # a batch whose TxDtls carry their amounts in AmtDtls/TxAmt; Ustrd repeated, joined
        (29, 100000, "CNY", "INV-2026-1001", "2026112000017", "Beispiel AG", "Rechnung INV-2026-1001 Kunde 4711"),
        # only a structured creditor reference (RF…): it is the remittance text
        (35, 50000, "CNY", "INV-2026-1002", "2026112000017", "Zweite KG", "RF18539007547034"),
        # amounts written "1500", "7.5": whole and one-decimal; RvslInd does not flip CdtDbtInd
        (43, 750, "CNY", None, "2026112000018", None, "Storno Gebuehr"),
        (54, -1200, "CNY", None, "2026112000019", None, "Kontofuehrung 11/2026"),
    ]
    # BookgDt 2026-11-20+08:00 and 2026-11-20 (Asia/Shanghai) are the same midnight
    assert {str(b) for b in parsed.frame["booked_at"]} == {"2026-11-19 16:00:00+00:00"}
    names = [c.name for c in parsed.checks]
    assert "Stmt CNY-20261120: PRCD + Σ entries = CLBD" in names
    assert "Stmt USD-20261120: OPBD + Σ entries = CLBD" in names  # no entries: opening = closing
    assert "Stmt CNY-20261120: TxsSummry TtlDbtNtries Sum" in names


@pytest.mark.parametrize("name, fmt, lines", [
    ("wechatpay_all_20261120.csv", "wechatpay_trade", 5),
    ("payout_reconciliation.itemized.5_20261120.csv", "stripe_itemized", 6),
    ("camt.053.001.08_20261120.xml", "camt053", 6),
    ("camt.053.001.08_quiet_day_20261121.xml", "camt053", 4),
])
def test_recon_parse_reads_each_file_cleanly(name, fmt, lines):
    rc, err = _cli_parse(name)
    assert rc == 0, err
    assert f"{name}: {fmt}, {lines} lines, 0 quarantine rows" in err


LEDGER_CONFIG = config_head() + """
[ledger]
directory = "inbox"
pattern = "{pattern}"
{mapping}
{sources}"""
SOURCE = """
[[sources]]
name = "{name}"
kind = "{kind}"
format = "{fmt}"
currency = "{cur}"
{extra}  [sources.sftp]
  host = "127.0.0.1"
  user = "recon"
  private_key = "key"
  known_hosts = "known_hosts"
  pattern = "{name}_{{date:%Y%m%d}}.csv"
"""


def _load_ledger(tmp_path: Path, mapping: str, export: str, caplog) -> tuple[object, list[tuple], int]:
    """Load ``export`` through the [ledger] mapping file ``mapping`` as the nightly run does:
    (load status, ledger_entries rows, quarantine row count)."""
    sources = "".join(SOURCE.format(name=n, kind=k, fmt=f, cur=c, extra=e) for n, k, f, c, e in (
        ("wechatpay", "psp", "wechatpay_trade", "CNY", ""), ("stripe", "psp", "stripe_itemized", "USD", ""),
        ("bank", "bank", "camt053", "CNY", 'payouts_for = ["wechatpay", "stripe"]\n')))
    path = tmp_path / "recon.toml"
    path.write_text(LEDGER_CONFIG.format(mapping=(DATA / mapping).read_text("utf-8"), sources=sources,
                                         pattern=export.replace("20261120", "{date:%Y%m%d}")),
                    encoding="utf-8")
    cfg = config.load(path)
    (tmp_path / "inbox").mkdir()
    shutil.copy(DATA / export, tmp_path / "inbox")
    run_id = pipeline.new_run_id(DAY)
    pipeline.begin_run(cfg, run_id, DAY)
    (f,) = fetch_local(cfg.ledger.directory, cfg.ledger.pattern, DAY, Archive(cfg.archive), source="ledger")
    with caplog.at_level(logging.INFO):
        status = pipeline.load_ledger_file(cfg, f, DAY, run_id)
    con = warehouse.connect(cfg.warehouse)
    try:
        rows = con.execute("SELECT entry_id, source, business_date::VARCHAR, strftime(booked_at AT TIME ZONE 'UTC', "
                           "'%Y-%m-%d %H:%M:%S'), txn_type, amount_minor, currency, merchant_reference, "
                           "original_reference, status, hold, file_line, description FROM ledger_entries "
                           "ORDER BY entry_id").fetchall()
        quarantined = con.execute("SELECT count(*) FROM quarantine").fetchone()[0]
    finally:
        con.close()
    return status, rows, quarantined


def test_chinese_erp_ledger_export_through_a_ledger_mapping(tmp_path, caplog):
    status, rows, quarantined = _load_ledger(tmp_path, "ledger_cn.toml", "ledger_cn_20261120.csv", caplog)
    assert (status.status, status.lines, status.quarantined) == ("loaded", 11, 0)
    assert rows[1][12] == "会员月卡,连续包月"  # a quoted comma, GBK decoded
    rows = [r[:12] for r in rows]
    d = "2026-11-20"
    assert quarantined == 0
    assert rows == [
        ("JZ-1120-001", "wechatpay", d, "2026-11-19 16:03:11", "payment", 10000, "CNY", "E20261120000311A1", None,
         "成功", None, 3),
        ("JZ-1120-002", "wechatpay", d, "2026-11-20 01:41:57", "payment", 5850, "CNY", "E20261120094157B7", None,
         "成功", None, 4),
        ("JZ-1120-003", "wechatpay", d, "2026-11-20 04:15:30", "payment", 123456, "CNY", "E20261120121530C2", None,
         "成功", None, 5),
        ("JZ-1120-004", "wechatpay", d, "2026-11-20 07:02:44", "refund", -3000, "CNY", "R20261120150244",
         "E20261119201113Z9", "成功", None, 6),
        ("JZ-1120-005", "wechatpay", d, "2026-11-20 08:10:00", "payment", 8800, "CNY", "E20261120161000D4", None,
         "失败", "status 失败", 7),
        ("JZ-1120-006", "stripe", d, "2026-11-20 09:45:12", "payment", 4590, "USD", "E-1003", None,
         "处理中", "status 处理中", 8),
        ("JZ-1120-007", "stripe", d, "2026-11-20 10:00:00", "refund", -101250, "USD", "E-0991", "E-0991",
         "成功", None, 9),
        ("JZ-1120-008", "wechatpay", d, "2026-11-20 01:00:00", "payout", 138565, "CNY", None, None,
         "成功", "payout: left to the clearing", 10),
        ("JZ-1120-009", "bank", d, "2026-11-20 02:00:00", "transfer", -1500, "CNY", None, None, "成功", None, 11),
        ("JZ-1120-010", "bank", d, "2026-11-20 06:22:31", "transfer", -99747, "CNY", "PAY-SUP-88120", None,
         "成功", None, 12),
        ("JZ-1120-011", "bank", d, "2026-11-20 03:00:00", "transfer", -120000, "USD", "SAL-202611-007", None,
         "成功", None, 13),
    ]


def test_german_journal_with_soll_haben_columns_a_blank_row_and_a_totals_line(tmp_path, caplog):
    """CP1252, `;`, decimal comma with thousands dots, Soll (money in) / Haben (money out) columns,
    a `;` inside a quoted Buchungstext, a bare `"` inside an unquoted one, a line break inside a
    quoted one, a row of separators only and a `Summe` line at the end (footer_rows = 1)."""
    status, rows, quarantined = _load_ledger(tmp_path, "buchungen.toml", "buchungen_20261120.csv", caplog)
    assert (status.status, status.lines, status.quarantined, quarantined) == ("loaded", 6, 0, 0)
    d = "2026-11-20"
    assert rows == [
        ("B-2001", "stripe", d, "2026-11-20 01:12:44", "payment", 4590, "USD", "E-1001", None, "gebucht", None, 2,
         "Bestellung E-1001; 2 Artikel"),
        ("B-2002", "stripe", d, "2026-11-20 15:58:10", "payment", 125000, "USD", "E-1002", None, "gebucht", None, 3,
         'Rechnung "INV-77"'),
        ("B-2003", "stripe", d, "2026-11-20 06:03:05", "refund", -1250, "USD", "E-0990", "E-0990", "gebucht", None,
         4, "Erstattung E-0990"),
        ("B-2004", "stripe", d, "2026-11-20 02:00:00", "payment", 9900, "USD", "E-1004", None, "storniert",
         "status storniert", 5, "Zahlung abgebrochen"),
        ("B-2005", "bank", d, "2026-11-20 04:00:00", "transfer", -82500, "USD", "SAL-202611-008", None, "gebucht",
         None, 6, "Gehalt November"),
        ("B-2006", "bank", d, "2026-11-20 04:05:00", "transfer", 100000, "CNY", "INV-2026-1001", None, "gebucht",
         None, 7, "Zahlungseingang\nBeispiel AG"),
    ]
    assert "buchungen_20261120.csv: 1 footer line(s) not read as entries: Summe;;;;;;;;2.394,90;837,50;;;;" \
        in caplog.text
    assert "buchungen_20261120.csv: 1 empty row(s) not read as entries" in caplog.text


def test_wechat_fundflow_bill_with_a_comma_and_a_quote_in_a_remark():
    from tests.psp_samples import wx_fundflow
    rows = [
        ("2026-11-21 09:15:02", "4200001", "F0001", "交易", "交易", "收入", "100.00", "1100.00", "系统", "", "ORD0001"),
        ("2026-11-21 18:00:00", "WD20261121", "F0002", "提现", "提现", "支出", "1000.00", "100.00", "商户",
         'T+1,"人工"', "WD1"),
    ]
    data = wx_fundflow(rows, ("2", "1", "100.00", "1", "1000.00"))
    parsed = registry.parse("wechatpay_fundflow", data, name="fundflow.csv", source="wx", sha256="0" * 64,
                            business_date=DAY, timezone="Asia/Shanghai")
    assert parsed.quarantine.height == 0
    assert _cols(parsed, "file_line", "txn_type", "amount_minor", "payout_id", "description") == [
        (2, "payment", 10000, None, "交易"),
        (3, "payout", -100000, "WD20261121", '提现 T+1,"人工"'),
    ]


def test_a_quoted_line_break_in_a_stripe_description_is_text(tmp_path):
    """RFC 4180 allows a line break inside a quoted field (a charge description set through the
    API): the row is read whole and numbered by the line it starts on."""
    data = (DATA / "payout_reconciliation.itemized.5_20261120.csv").read_bytes().replace(
        b'"Order E-1001, 2 items"', b'"Order E-1001,\r\n2 items"')
    parsed = registry.parse("stripe_itemized", data, name="multiline.csv", source="stripe", sha256="0" * 64,
                            business_date=DAY, timezone="Asia/Shanghai")
    assert parsed.quarantine.height == 0
    assert _cols(parsed, "file_line", "amount_minor", "description")[:3] == [
        (2, 4590, "Order E-1001,\r\n2 items"), (4, 125000, 'Invoice "INV-77", annual plan'),
        (5, -1250, "REFUND FOR CHARGE (Order E-0990)")]
    blank = data.replace(b"\nmissing", b"").replace(b"E-1002\n", b"E-1002\n\n")
    with pytest.raises(ParseError, match="blank lines or quoted line breaks"):
        registry.parse("stripe_itemized", blank, name="blank.csv", source="stripe", sha256="0" * 64,
                       business_date=DAY, timezone="Asia/Shanghai")


@pytest.mark.parametrize("source, export, lines", [
    ("wechatpay", "wechatpay_all_20261120.csv", 5),
    ("stripe", "payout_reconciliation.itemized.5_20261120.csv", 6),
    ("bank", "camt.053.001.08_20261120.xml", 6),
])
def test_the_nightly_load_stores_every_line(tmp_path, caplog, source, export, lines):
    """As `recon run` stores them: a CNY bank source takes the USD account's lines as they are."""
    _load_ledger(tmp_path, "ledger_cn.toml", "ledger_cn_20261120.csv", caplog)
    cfg = config.load(tmp_path / "recon.toml")
    src = next(s for s in cfg.sources if s.name == source)
    inbox = tmp_path / source
    inbox.mkdir()
    shutil.copy(DATA / export, inbox)
    (f,) = fetch_local(inbox, export.replace("20261120", "{date:%Y%m%d}"), DAY, Archive(cfg.archive),
                       source=source)
    status = pipeline.load_statement(cfg, src, f, DAY, pipeline.new_run_id(DAY))
    assert (status.status, status.lines, status.quarantined) == ("loaded", lines, 0)
    con = warehouse.connect(cfg.warehouse)
    try:
        stored = con.execute("SELECT currency, count(*), sum(amount_minor) FROM statement_lines GROUP BY 1 "
                             "ORDER BY 1").fetchall()
    finally:
        con.close()
    assert stored == {"wechatpay": [("CNY", 5, 135106)], "stripe": [("USD", 6, 127270)],
                      "bank": [("CNY", 3, 37318), ("USD", 3, -81478)]}[source]


def test_the_span_of_a_row_with_a_quoted_line_break_covers_all_its_lines(tmp_path):
    """The archive is the audit copy (recon.lineage): a row read across two physical lines is
    stored with a span over both, so trace quotes it whole; its neighbours keep their own line."""
    from connectors.archive import Archive
    from recon import lineage
    data = (DATA / "payout_reconciliation.itemized.5_20261120.csv").read_bytes().replace(
        b'"Order E-1001, 2 items"', b'"Order E-1001,\r\n2 items"')
    parsed = registry.parse("stripe_itemized", data, name="multiline.csv", source="stripe", sha256="0" * 64,
                            business_date=DAY, timezone="Asia/Shanghai")
    staged = tmp_path / "multiline.csv"
    staged.write_bytes(data)
    sha = Archive(tmp_path / "archive").put(staged).sha256
    spanned = lineage.FileSpans(tmp_path / "archive", sha, "multiline.csv", "stripe_itemized").with_spans(parsed.frame)
    texts = {r["file_line"]: data[r["byte_offset"]:r["byte_offset"] + r["byte_length"]]
             for r in spanned.iter_rows(named=True)}
    assert texts[2].count(b"\r\n") == 1 and b'"Order E-1001,\r\n2 items"' in texts[2]
    assert not texts[2].endswith((b"\r", b"\n")) and texts[2].split(b"\r\n")[0].endswith(b"E-1001,")
    assert b"\n" not in texts[4] and b'Invoice ""INV-77""' in texts[4]
