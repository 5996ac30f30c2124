"""Split settlement (分账) cleared per order and receiver (rule allocation_receiver, the per-order
check sql/check_allocations.sql, the receivers' positions): a hand-written profit-sharing bill to
the published layout (tests/data/spec/wechatpay_profitsharing_orders_20261121.csv), the trade
bill's lines and a ledger as literal rows; both routes of the cascade.

The bill, per order (微信订单号 4200000000202611210000000001 … 5), receivers R1 = 1900000201 and
R2 = an openid; 解冻给分账方 rows release the rest to the 分账方 1900000100 itself:
  A: R1 15.00, R2 15.00 (one request), unfreeze 69.40  trade: 100.00 − fee 0.60 = 99.40  adds up
  B: R1 15.00, 回退 R1 5.00, unfreeze 34.73       trade: 49.70 and a refund −4.97     adds up
  C: R1 40.00 (not released)                      trade: 30.00 − 0.18 = 29.82         over-allocated
  D: R2 4.00 twice, unfreeze 1.00                 trade: 10.00 − 0.06 = 9.94          0.94 short
  E: R1 3.00 (not released)                       trade: 19.88; the ledger says R2     receiver differs
"""
from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from recon import warehouse
from recon.config import Matching
from recon.reports.receivers import ReceiverPosition, receiver_positions
from schemas import registry
from tests.tables import D, delivered, ledger, run_day, stmt, ts
from tests.worlds import config_head

UTC = timezone.utc
BILL = Path(__file__).parent / "data" / "spec" / "wechatpay_profitsharing_orders_20261121.csv"
A = "a" * 16  # the bill's line ids: its sha256 prefix (given as a*64) and line number
F = "f" * 16  # the trade bill's
R1, R2 = "1900000201", "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"
pytestmark = pytest.mark.usefixtures("route")


def order(n: int) -> str:
    return f"420000000020261121000000000{n}"


def with_bill(cfg):
    """``cfg`` with the 分账 source wechatpay_ps beside the trade source wechatpay."""
    trade = next(s for s in cfg.sources if s.name == "wechatpay")
    ps = dataclasses.replace(trade, name="wechatpay_ps", format="wechatpay_profitsharing", rate_card=None,
                             options={}, matching=Matching(rules=("allocation_receiver",)))
    return dataclasses.replace(cfg, sources=[*cfg.sources, ps])


def bill():
    parsed = registry.parse("wechatpay_profitsharing", BILL.read_bytes(), name=BILL.name, source="wechatpay_ps",
                            sha256="a" * 64, business_date=D, timezone="Asia/Shanghai")
    assert parsed.quarantine.height == 0
    return parsed.frame


def trade():
    def pay(n, amount, fee):
        return dict(merchant_reference=f"ORD{n}", psp_reference=order(n), amount_minor=amount, fee_minor=fee,
                    booked_at=ts(1))
    return stmt(pay(1, 10000, 60), pay(2, 5000, 30),
                dict(merchant_reference="RFD2", psp_reference="50300000012026112100000001", original_reference="ORD2",
                     txn_type="refund", amount_minor=-500, fee_minor=-3, booked_at=ts(5)),
                pay(3, 3000, 18), pay(4, 1000, 6), pay(5, 2000, 12))


def books():
    def pay(n, amount):
        return dict(entry_id=f"P{n}", merchant_reference=f"ORD{n}", amount_minor=amount, booked_at=ts(1))

    def alloc(entry_id, n, receiver, amount, at, kind="allocation", source="wechatpay_ps", ref=None):
        return dict(entry_id=entry_id, source=source, txn_type=kind, psp_reference=order(n), receiver=receiver,
                    merchant_reference=ref or f"AL-{entry_id}", amount_minor=amount, booked_at=at)
    return ledger(pay(1, 10000), pay(2, 5000), pay(3, 3000), pay(4, 1000), pay(5, 2000),
                  dict(entry_id="RF2", merchant_reference="RFD2", txn_type="refund", amount_minor=-500,
                       booked_at=ts(5)),
                  # one request (商户分账单号 PA1), two receivers, equal amounts: no duplicate
                  alloc("LA1", 1, R1, -1500, ts(2), ref="PA1"), alloc("LA2", 1, R2, -1500, ts(2), ref="PA1"),
                  alloc("LB1", 2, R1, -1500, ts(2)), alloc("LB2", 2, R1, 500, ts(6), kind="allocation_return"),
                  # booked on the trade channel: the order and receiver pair them all the same
                  alloc("LC1", 3, R1, -4000, ts(3), source="wechatpay"),
                  alloc("LD1", 4, R2, -400, ts(4, 30), source="wechatpay"),
                  alloc("LD2", 4, R2, -400, ts(3, 30), source="wechatpay"),
                  alloc("LE1", 5, R2, -300, ts(5), source="wechatpay"))


def load(con):
    for frame in (trade(), bill()):
        warehouse.insert_frame(con, "statement_lines", frame)
        delivered(con, frame)
    warehouse.load_ledger(con, books(), sha256="l" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=UTC))


def links(con):
    return {(e, ln): json.loads(ev) for e, ln, ev in con.execute(
        "SELECT ledger_entry_id, line_id, evidence FROM matches WHERE rule = 'allocation_receiver'").fetchall()}


def breaks(con):
    return sorted(con.execute(
        "SELECT category, source, reference, ledger_entry_id, line_id, ledger_amount_minor, "
        "statement_amount_minor, difference_minor FROM breaks WHERE status = 'open' "
        "AND category <> 'fee_variance' ORDER BY ALL").fetchall(), key=str)


@pytest.fixture
def day(con, cfg):
    load(con)
    cfg = with_bill(cfg)
    run_day(con, cfg, sources=("wechatpay", "wechatpay_ps"))
    return con, cfg


@pytest.mark.one_route  # no cascade here
def test_the_bill_reads_allocations_returns_and_unfreezes(con):
    rows = bill().sort("file_line").select("file_line", "txn_type", "amount_minor", "sub_merchant_id").rows()
    assert rows == [(2, "allocation", -1500, R1), (3, "allocation", -1500, R2), (4, "unfreeze", -6940, "1900000100"),
                    (5, "allocation", -1500, R1), (6, "allocation_return", 500, R1),
                    (7, "unfreeze", -3473, "1900000100"), (8, "allocation", -4000, R1),
                    (9, "allocation", -400, R2), (10, "allocation", -400, R2),
                    (11, "unfreeze", -100, "1900000100"), (12, "allocation", -300, R1)]


@pytest.mark.rule("allocation_receiver")
def test_allocations_link_per_order_and_receiver(day):
    con, _ = day
    got = links(con)
    assert {k: (ev.get("receiver"), ev.get("time_order")) for k, ev in got.items()} == {
        ("LA1", f"{A}:2"): (R1, None), ("LA2", f"{A}:3"): (R2, None),
        ("LB1", f"{A}:5"): (R1, None), ("LB2", f"{A}:6"): (R1, None),
        ("LC1", f"{A}:8"): (R1, None),
        # two equal allocations of one order to one receiver: in booking-time order
        ("LD2", f"{A}:9"): (R2, 1), ("LD1", f"{A}:10"): (R2, 2),
        # the unfreeze lines: closed, read by the per-order check
        (None, f"{A}:4"): (None, None), (None, f"{A}:7"): (None, None), (None, f"{A}:11"): (None, None)}
    assert got[(None, f"{A}:4")] == {"order": order(1), "unfreeze": True}


def test_the_per_order_check_and_what_the_receiver_mismatch_leaves(day):
    con, _ = day
    assert breaks(con) == [
        # C: 40.00 allocated, not released, more than the 29.82 settled
        ("allocation_mismatch", "wechatpay_ps", order(3), None, None, 2982, 4000, 1018),
        # D: 8.00 + unfrozen 1.00 = 9.00, the trade bill settled 9.94
        ("allocation_mismatch", "wechatpay_ps", order(4), None, None, 994, 900, -94),
        # E: the bill's 3.00 went to R1, the ledger's to R2: never paired across receivers
        ("missing_in_ledger", "wechatpay_ps", "PE1", None, f"{A}:12", None, -300, -300),
        ("missing_in_statement", "wechatpay", "AL-LE1", "LE1", None, -300, None, 300)]
    detail = con.execute("SELECT detail FROM breaks WHERE category = 'allocation_mismatch' "
                         "ORDER BY reference").fetchall()
    assert detail == [("allocated 4000 − returned 0 + unfrozen 0 = 4000; more than the 2982 settled in the "
                       "trade bill (not yet released) (minor units)",),
                      ("allocated 800 − returned 0 + unfrozen 100 = 900; settled in the trade bill 994 "
                       "(minor units)",)]


def test_receiver_positions(day):
    con, _ = day
    got = receiver_positions(con, f"run-{D}", D, ["wechatpay_ps"], ["a" * 64, "f" * 64])
    assert got == (ReceiverPosition(R1, "CNY", lines=5, allocated_minor=7300, returned_minor=500,
                                    open_minor=300, ledger_open_minor=0),
                   ReceiverPosition(R2, "CNY", lines=3, allocated_minor=2300, returned_minor=0,
                                    open_minor=0, ledger_open_minor=300))
    assert [p.net_minor for p in got] == [6800, 2300]


@pytest.mark.one_route  # the sheet is what it tests: its day runs on the default route
def test_the_receivers_sheet_and_summary_json(day, tmp_path):
    from datetime import date

    import openpyxl

    from recon.reports.model import RunSummary
    from recon.reports.summary import summary_json
    from recon.reports.workbook import write_workbook
    con, _ = day
    got = receiver_positions(con, f"run-{D}", D, ["wechatpay_ps"], ["a" * 64, "f" * 64])
    now = datetime(2026, 11, 22, 6, 30, tzinfo=UTC)
    summary = RunSummary(run_id="r1", business_date=date(2026, 11, 21), started_at=now, finished_at=now,
                         code_version="t", config_sha256="c", sources=(), ledger_entries=0, statement_lines=0,
                         matched_ledger=0, matched_statement=0, matched_by_rule={}, matched_amounts=(),
                         quarantined=0, breaks=(), receivers=got)
    wb = openpyxl.load_workbook(write_workbook(summary, tmp_path / "day.xlsx"))
    rows = [[c.value for c in r] for r in wb["Receivers"].iter_rows()]
    assert rows[0] == ["receiver", "currency", "lines", "allocated", "returned", "net", "open (bill)",
                       "open (ledger)"]
    assert rows[1:] == [[R1, "CNY", 5, 73, 5, 68, 3, 0], [R2, "CNY", 3, 23, 0, 23, 0, 3]]
    assert json.loads(summary_json(summary))["receivers"][1] == {
        "receiver": R2, "currency": "CNY", "lines": 3, "allocated": "23.00", "returned": "0.00",
        "net": "23.00", "open": "0.00", "ledger_open": "3.00"}


@pytest.mark.one_route  # no cascade here
def test_a_company_ledger_maps_its_allocations_and_receivers():
    from schemas.ledger import parse_ledger
    from schemas.ledger_layout import LedgerLayout
    layout = LedgerLayout(
        columns={"entry_id": "凭证号", "booked_at": "时间", "channel": "渠道", "txn_type": "类型",
                 "psp_reference": "微信订单号", "receiver": "分账接收方", "amount": "金额", "currency": "币种"},
        custom=True, datetime_format="%Y-%m-%d %H:%M:%S", timezone="Asia/Shanghai",
        types={"分账": "allocation", "分账回退": "allocation_return"}, channels={"微信分账": "wechatpay_ps"},
        psp_sources=("wechatpay", "wechatpay_ps"))
    data = ("凭证号,时间,渠道,类型,微信订单号,分账接收方,金额,币种\n"
            f"V1,2026-11-21 10:00:00,微信分账,分账,{order(1)},{R1},-20.00,CNY\n"
            f"V2,2026-11-21 14:00:00,微信分账,分账回退,{order(2)},{R1},5.00,CNY\n").encode()
    valid, quarantine = parse_ledger(data, name="ledger.csv", sha256="l" * 64, layout=layout)
    assert quarantine.height == 0
    assert valid.select("entry_id", "source", "txn_type", "psp_reference", "receiver", "amount_minor",
                        "hold").rows() == [
        ("V1", "wechatpay_ps", "allocation", order(1), R1, -2000, None),
        ("V2", "wechatpay_ps", "allocation_return", order(2), R1, 500, None)]


@pytest.mark.one_route  # the warehouse's column, not the route, is what it tests
def test_an_existing_warehouse_gains_the_receiver_column(cfg, tmp_path):
    path = tmp_path / "old.duckdb"
    con = warehouse.connect(path)
    con.execute("ALTER TABLE ledger_entries DROP COLUMN receiver")
    con.execute("DROP TABLE recon_schema")  # as an earlier version left it: no schema digest
    con.close()
    con = warehouse.connect(path)
    try:
        cols = [r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'ledger_entries' ORDER BY ordinal_position").fetchall()]
        assert cols[-1] == "receiver"  # added last, read by name
        load(con)
        run_day(con, with_bill(cfg), sources=("wechatpay", "wechatpay_ps"))
        assert len(links(con)) == 10
    finally:
        con.close()


PIPELINE_CONFIG = config_head() + """
[ledger]
directory = "inbox/ledger"
pattern = "books_{{date:%Y%m%d}}.csv"
datetime_format = "%Y-%m-%d %H:%M:%S"
default_source = "wechatpay"

[ledger.columns]
entry_id = "凭证号"
booked_at = "时间"
channel = "渠道"
txn_type = "类型"
psp_reference = "微信订单号"
receiver = "分账接收方"
amount = "金额"
currency = "币种"

[ledger.types]
"分账" = "allocation"
"分账回退" = "allocation_return"

[ledger.channels]
"微信分账" = "wechatpay_ps"

[[sources]]
name = "wechatpay"
kind = "psp"
format = "wechatpay_trade"
currency = "CNY"
  [sources.local]
  path = "inbox/wechatpay"
  pattern = "wechatpay_trade_{{date:%Y%m%d}}.csv"

[[sources]]
name = "wechatpay_ps"
kind = "psp"
format = "wechatpay_profitsharing"
timezone = "Asia/Shanghai"
currency = "CNY"
  [sources.local]
  path = "inbox/ps"
  pattern = "{bill}"
  [sources.matching]
  rules = ["allocation_receiver"]
"""


@pytest.mark.one_route  # the load and the config, end to end; the cascade's routes are above
def test_a_configured_bill_and_mapped_ledger_clear_through_the_pipeline(tmp_path, monkeypatch):
    import shutil

    from connectors.archive import Archive
    from connectors.local import fetch_local
    from recon import config, pipeline
    monkeypatch.chdir(tmp_path)
    (tmp_path / "recon.toml").write_text(PIPELINE_CONFIG.format(bill=BILL.name), "utf-8")
    for d in ("inbox/ledger", "inbox/ps", "inbox/wechatpay"):
        (tmp_path / d).mkdir(parents=True)
    shutil.copy(BILL, tmp_path / "inbox" / "ps")
    (tmp_path / "inbox" / "ledger" / "books_20261121.csv").write_text(
        "凭证号,时间,渠道,类型,微信订单号,分账接收方,金额,币种\n"
        f"V1,2026-11-21 10:00:00,微信分账,分账,{order(1)},{R1},-15.00,CNY\n"
        f"V2,2026-11-21 10:00:00,微信分账,分账,{order(1)},{R2},-15.00,CNY\n"
        f"V3,2026-11-21 14:00:00,微信分账,分账回退,{order(2)},{R1},5.00,CNY\n", "utf-8")
    cfg = config.load(tmp_path / "recon.toml")
    run_id = pipeline.new_run_id(D)
    pipeline.begin_run(cfg, run_id, D, sources=["wechatpay_ps"])
    ps = next(s for s in cfg.sources if s.name == "wechatpay_ps")
    archive = Archive(cfg.archive)
    (f,) = fetch_local(ps.local.path, ps.local.pattern, D, archive, source="wechatpay_ps", settle_s=0)
    assert pipeline.load_statement(cfg, ps, f, D, run_id).status == "loaded"
    (f,) = fetch_local(cfg.ledger.directory, cfg.ledger.pattern, D, archive, source="ledger", settle_s=0)
    assert pipeline.load_ledger_file(cfg, f, D, run_id).status == "loaded"
    result = pipeline.match(cfg, run_id, D, ["wechatpay_ps"])
    assert result.matched_by_rule == {"allocation_receiver": 6}  # 3 pairs and the 3 unfreeze lines
    con = warehouse.connect(cfg.warehouse)
    try:
        got = con.execute("SELECT reference, difference_minor FROM breaks WHERE run_id = ? "
                          "AND category = 'allocation_mismatch' ORDER BY reference", [run_id]).fetchall()
    finally:
        con.close()
    # no trade bill loaded: no order's payment is known, each is a break with what it shares out
    assert got == [(order(1), 9940), (order(2), 4473), (order(3), 4000), (order(4), 900), (order(5), 300)]


def test_a_later_return_that_makes_an_order_add_up_clears_its_break(day):
    from datetime import timedelta
    con, cfg = day
    nxt = D + timedelta(days=1)
    text = ("分账发起时间,分账方商户号,微信订单号,微信分账/回退单号,资金流向,商户分账/回退单号,分账接收方类型,"
            "分账接收方账号,金额（元）,业务状态,分账描述\n"
            f"`2026-11-22 09:00:00,`1900000100,`{order(3)},`30000000022026112200000001,`回退,`RC1,`MERCHANT_ID,"
            f"`{R1},`12.00,`SUCCESS,`多分回退\n"
            # a return of an order allocated before the warehouse's first bill: nothing to check it by
            f"`2026-11-22 09:30:00,`1900000100,`{order(9)},`30000000022026112200000002,`回退,`RZ1,`MERCHANT_ID,"
            f"`{R1},`1.00,`SUCCESS,`回退\n\n总条数,分账总金额,回退总金额\n`2,`0.00,`13.00\n").encode()
    frame = registry.parse("wechatpay_profitsharing", text, name="ps_20261122.csv", source="wechatpay_ps",
                           sha256="b" * 64, business_date=nxt, timezone="Asia/Shanghai").frame
    warehouse.insert_frame(con, "statement_lines", frame)
    delivered(con, frame)
    warehouse.load_ledger(con, ledger(dict(entry_id="LC2", source="wechatpay_ps", txn_type="allocation_return",
                                           psp_reference=order(3), receiver=R1, merchant_reference="AL-LC2",
                                           amount_minor=1200, business_date=nxt, booked_at=ts(1, day=22)),
                                      dict(entry_id="LZ1", source="wechatpay_ps", txn_type="allocation_return",
                                           psp_reference=order(9), receiver=R1, merchant_reference="AL-LZ1",
                                           amount_minor=100, business_date=nxt, booked_at=ts(1, 30, day=22))),
                          sha256="m" * 64, recorded_at=datetime(2026, 11, 23, tzinfo=UTC))
    run_day(con, cfg, day=nxt, sources=("wechatpay", "wechatpay_ps"))
    assert {("LC2", "bbbbbbbbbbbbbbbb:2"), ("LZ1", "bbbbbbbbbbbbbbbb:3")} <= set(links(con))
    # C: 40.00 − 12.00 = 28.00 ≤ 29.82 settled: cleared; D still 0.94 short, re-raised
    assert con.execute("SELECT reference, status, first_seen, detail LIKE 'cleared on %' FROM breaks "
                       "WHERE run_id = ? AND category = 'allocation_mismatch' ORDER BY reference",
                       [f"run-{nxt}"]).fetchall() == [(order(3), "auto_cleared", D, True),
                                                      (order(4), "open", D, False)]
