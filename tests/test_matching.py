"""The matching cascade on tiny literal tables: input rows → expected matches and breaks."""
from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from recon import config, ratecard, warehouse
from recon.matching import run_cascade
from recon.money import percent_of
from schemas.canonical import STATEMENT_COLUMNS, conform
from tests.tables import D, UTC, delivered, ledger, stmt, ts

ROOT = Path(__file__).resolve().parents[1]


def run(con, cfg, sources=("wechatpay",)):
    return run_cascade(con, cfg, run_id="r1", business_date=D, sources=list(sources),
                       watermark=datetime(2100, 1, 1, tzinfo=UTC))


def breaks(con):
    return {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT category, reference, ledger_amount_minor, statement_amount_minor, difference_minor "
        "FROM breaks ORDER BY 1, 2").fetchall()}


def load(con, led, st):
    warehouse.insert_frame(con, "statement_lines", st)
    delivered(con, st)
    warehouse.load_ledger(con, led, sha256="l" * 64, recorded_at=datetime(2026, 11, 22, tzinfo=UTC))


@pytest.mark.usefixtures("route")
def test_cascade_truth_table(con, cfg):
    # fee 0.60 %: 10000 → 60; 5000 → 30; refund −2000 returns −12
    load(con,
         ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000, booked_at=ts(1)),
                dict(entry_id="L2", merchant_reference="ord2 ", amount_minor=5000, booked_at=ts(2)),
                dict(entry_id="L3", merchant_reference="ORD3", amount_minor=7000, booked_at=ts(3)),
                dict(entry_id="L4", merchant_reference="ORD4", amount_minor=4000, booked_at=ts(4)),
                dict(entry_id="L5", merchant_reference="RFD1", amount_minor=-2000, txn_type="refund",
                     booked_at=ts(5)),
                # 23:59:40 Shanghai = 15:59:40 UTC: just before the cut-off
                dict(entry_id="L6", merchant_reference="ORD6", amount_minor=3000, booked_at=ts(15, 59, 40)),
                dict(entry_id="L7", merchant_reference="X7", psp_reference="42000007", amount_minor=900,
                     booked_at=ts(6))),
         stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1)),
              dict(merchant_reference="ORD2", amount_minor=5000, fee_minor=30, booked_at=ts(2)),
              dict(merchant_reference="ORD3", amount_minor=6900, fee_minor=41, booked_at=ts(3)),
              dict(merchant_reference="ORD5", amount_minor=1000, fee_minor=6, booked_at=ts(7)),
              dict(merchant_reference="RFD1", amount_minor=-2000, fee_minor=-12, txn_type="refund",
                   booked_at=ts(5)),
              dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1)),
              dict(merchant_reference="ORD8", amount_minor=8000, fee_minor=50, booked_at=ts(1)),
              # 00:00:05 Shanghai on the 21st = 16:00:05 UTC on the 20th: just after the cut-off
              dict(merchant_reference="ORD9", amount_minor=1200, fee_minor=7, booked_at=ts(16, 0, 5, day=20)),
              dict(merchant_reference="WXONLY", psp_reference="42000007", amount_minor=900, fee_minor=5,
                   booked_at=ts(6))))
    result = run(con, cfg)
    assert result.matched_by_rule == {"exact_reference": 4}  # ORD1, ORD2 (normalised), RFD1, by psp ref L7
    assert breaks(con) == {
        ("amount_mismatch", "ORD3"): (7000, 6900, -100),
        ("duplicate", "ORD1"): (None, 10000, 10000),
        ("fee_variance", "ORD8"): (48, 50, 2),
        ("missing_in_ledger", "ORD5"): (None, 1000, 1000),
        ("missing_in_ledger", "ORD8"): (None, 8000, 8000),
        ("missing_in_statement", "ORD4"): (4000, None, -4000),
        ("timing", "ORD6"): (3000, None, -3000),
        ("timing", "ORD9"): (None, 1200, 1200),
    }
    # every open item ended matched or in a break; nothing matched twice
    assert con.execute("SELECT count(*) FROM work_ledger WHERE state IS NULL").fetchone()[0] == 2
    assert con.execute("SELECT count(line_id) = count(DISTINCT line_id) FROM matches").fetchone()[0]


@pytest.mark.usefixtures("route")
def test_ambiguous_candidates_are_not_picked(con, cfg):
    load(con,
         ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=100, booked_at=ts(1)),
                dict(entry_id="L2", merchant_reference="ORD1", amount_minor=200, booked_at=ts(2))),
         stmt(dict(merchant_reference="ORD1", amount_minor=150, fee_minor=1, booked_at=ts(1))))
    result = run(con, cfg)
    assert result.matched_by_rule == {}
    assert con.execute("SELECT count(*) FROM matches").fetchone()[0] == 0


@pytest.mark.usefixtures("route")
def test_payout_three_way(con, cfg):
    st = stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, payout_id="WX1-20261121",
                   booked_at=ts(1)),
              dict(merchant_reference="ORD2", amount_minor=5000, fee_minor=30, payout_id="WX1-20261121",
                   booked_at=ts(2)))
    s_line = dict(merchant_reference="ch", amount_minor=1000, fee_minor=59, payout_id="po_1", booked_at=ts(1))
    stripe = stmt(s_line, dict(merchant_reference=None, psp_reference="po_1", txn_type="payout",
                               amount_minor=-941, fee_minor=0, payout_id="po_1", booked_at=ts(9)),
                  source="stripe", currency="USD")
    stripe = stripe.with_columns(pl.col("line_id").str.replace("^f+", "stripe"))
    bank = stmt(dict(end_to_end_id="WX1-20261121", amount_minor=14900, txn_type="transfer", booked_at=ts(1, day=22)),
                dict(end_to_end_id="po_1", amount_minor=941, txn_type="transfer", booked_at=ts(1, day=22),
                     currency="USD"),
                dict(end_to_end_id="NOTHING", amount_minor=5, txn_type="transfer", booked_at=ts(1, day=22)),
                source="bank").with_columns(pl.col("line_id").str.replace("^f+", "bank"))
    for frame in (st, stripe, bank):
        warehouse.insert_frame(con, "statement_lines", frame)
    run(con, cfg, sources=("wechatpay", "stripe", "bank"))
    got = {(r[0], r[1]): r[2:] for r in con.execute(
        "SELECT category, reference, ledger_amount_minor, statement_amount_minor FROM breaks "
        "WHERE category IN ('payout_mismatch', 'unsettled', 'missing_in_ledger') AND source <> 'stripe' "
        "AND source <> 'wechatpay' OR category = 'payout_mismatch' ORDER BY 1, 2").fetchall()}
    # WeChat: items net 14910, bank credited 14900 → short by 10; Stripe: 941 = 941 → matched.
    assert got == {("payout_mismatch", "WX1-20261121"): (14910, 14900),
                   ("missing_in_ledger", "NOTHING"): (None, 5)}
    assert con.execute("SELECT payout_id FROM matches WHERE kind = 'payout_bank' ORDER BY 1").fetchall() == [
        ("WX1-20261121",), ("po_1",)]



WRITTEN = ("matches", "breaks", "fee_report", "open_items", "reversal_links")


def _truth_table_day(con):
    load(con,
         ledger(("L1", "ORD1", 10000, 1), ("L3", "ORD3", 7000, 3), ("L4", "ORD4", 4000, 4)),
         stmt(("ORD1", 10000, 60, 1), ("ORD3", 6900, 41, 3),
              dict(merchant_reference="RFD9", original_reference="ORD1", amount_minor=-500,
                   fee_minor=-3, txn_type="refund", booked_at=ts(5)),
              ("ORD8", 8000, 50, 1)))


@pytest.mark.parametrize("fails_at", ["carry_forward", "record"])
def test_a_cascade_that_fails_after_its_first_pass_leaves_the_warehouse_as_it_was(con, cfg, monkeypatch,
                                                                               fails_at):
    # The first pass runs (and its working sets are narrowed) before the run's transaction opens;
    # every write to the warehouse is in that transaction, with the caller's record() last.
    import sql
    _truth_table_day(con)
    real = sql.execute
    passes = []

    def failing(con_, name, *args, **kwargs):
        passes.append(name)
        if name == fails_at:
            raise RuntimeError("disk full")
        return real(con_, name, *args, **kwargs)

    def record(con_, result):
        assert result.matched_by_rule == {"exact_reference": 1}  # ORD1, inside the transaction
        assert con_.execute("SELECT rule FROM matches WHERE run_id = 'r1' ORDER BY rule").fetchall() == [
            ("exact_reference",), ("reference_mismatch",)]  # ORD1 linked; ORD3 paired for its difference
        if fails_at == "record":
            raise RuntimeError("disk full")

    monkeypatch.setattr(sql, "execute", failing)
    with pytest.raises(RuntimeError, match="disk full"):
        run_cascade(con, cfg, run_id="r1", business_date=D, sources=["wechatpay"],
                    watermark=datetime(2100, 1, 1, tzinfo=UTC), record=record)
    assert "set_aside" in passes  # it did get past the first pass
    assert {t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in WRITTEN} == dict.fromkeys(WRITTEN, 0)

    # The same day again on the same connection: the whole result, once.
    monkeypatch.setattr(sql, "execute", real)
    result = run(con, cfg)
    assert result.matched_by_rule == {"exact_reference": 1}
    assert breaks(con) == {
        ("amount_mismatch", "ORD3"): (7000, 6900, -100),
        ("fee_variance", "ORD8"): (48, 50, 2),
        ("missing_in_ledger", "ORD8"): (None, 8000, 8000),
        ("missing_in_ledger", "RFD9"): (None, -500, -500),
        ("missing_in_statement", "ORD4"): (4000, None, -4000),
    }
    assert con.execute("SELECT r.txn_type, o.merchant_reference FROM reversal_links r "
                       "JOIN statement_lines o ON o.line_id = r.original_line_id").fetchall() == [("refund", "ORD1")]
    assert con.execute("SELECT txn_type, count, gross_minor, actual_fee_minor, expected_fee_minor "
                       "FROM fee_report ORDER BY txn_type").fetchall() == [
        ("payment", 3, 24900, 151, 60 + 41 + 48), ("refund", 1, -500, -3, -3)]



def test_the_fee_check_prices_the_runs_lines_once_and_skips_duplicates_in_its_breaks(con, cfg, caplog):
    # 0.60 %: 10000 → 60, 8000 → 48, 4000 → 24. ORD1 is delivered twice (the repeat charged 70: a
    # duplicate, never a fee variance, and not in the report: positions leave it out too); ORD8 is charged 50 (a variance); a
    # second file of the day that the run does not read (inputs) is neither priced nor checked,
    # nor counted in the working set.
    caplog.set_level("INFO", logger="recon.matching")
    load(con,
         ledger(dict(entry_id="L1", merchant_reference="ORD1", amount_minor=10000, booked_at=ts(1))),
         stmt(dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=60, booked_at=ts(1)),
              dict(merchant_reference="ORD1", amount_minor=10000, fee_minor=70, booked_at=ts(2)),
              dict(merchant_reference="ORD8", amount_minor=8000, fee_minor=50, booked_at=ts(3))))
    other = stmt(dict(merchant_reference="ORD4", amount_minor=4000, fee_minor=99, booked_at=ts(4)))
    warehouse.insert_frame(con, "statement_lines", other.with_columns(
        pl.lit("e" * 64).alias("file_sha256"), pl.col("line_id").str.replace("^f+", "e" * 16)))
    run_cascade(con, cfg, run_id="r1", business_date=D, sources=["wechatpay"],
                watermark=datetime(2100, 1, 1, tzinfo=UTC), inputs=["f" * 64])
    assert con.execute("SELECT category, reference, ledger_amount_minor, statement_amount_minor FROM breaks "
                       "WHERE category IN ('fee_variance', 'duplicate') ORDER BY 1").fetchall() == [
        ("duplicate", "ORD1", None, 10000), ("fee_variance", "ORD8", 48, 50)]
    assert con.execute("SELECT source, currency, payment_method, txn_type, count, gross_minor, actual_fee_minor, "
                       "expected_fee_minor FROM fee_report").fetchall() == [
        ("wechatpay", "CNY", "JSAPI", "payment", 2, 18000, 60 + 50, 60 + 48)]
    assert "Working set for 2026-11-21: 1 ledger entries, 3 PSP lines, 0 bank lines" in caplog.text


from hypothesis import assume, given, settings, strategies as st  # noqa: E402


TIERED = ROOT / "tests" / "data" / "rate_cards" / "tiered.toml"


@settings(max_examples=300, deadline=None)
@given(amount=st.integers(min_value=-10**12, max_value=10**12),
       txn_type=st.sampled_from(["payment", "refund", "chargeback"]),
       source=st.sampled_from(["wechatpay", "stripe"]))
def test_sql_expected_fee_equals_rate_card(amount, txn_type, source):
    """The SQL macro and recon.ratecard agree to the minor unit (one rounding rule)."""
    cfg = config.load(ROOT / "data" / "recon.toml")
    card = ratecard.load(cfg.source(source).rate_card)
    con = _fee_con(cfg)
    got = con.execute("SELECT line_fee(?, NULL, NULL, ?::BIGINT, ?, ?)",
                      [source, amount, txn_type, D]).fetchone()[0]
    assert got == card.expected_fee(amount, txn_type, D)


@settings(max_examples=300, deadline=None)
@given(amount=st.one_of(st.integers(min_value=-10**17, max_value=10**17),
                        st.sampled_from([5, -5, 50, 9_999_999_999, 10_000_000_000, -10_000_000_000,
                                         10**17])),
       micro=st.one_of(st.integers(min_value=0, max_value=999_999_999_999),
                       st.sampled_from([0, 100_000, 500_000, 1_000_000, 1_000_001, 29_000])))
def test_sql_percent_minor_is_exact_on_both_branches(amount, micro):
    """|amount| × rate in minor units, half away from zero, as recon.money.percent_of: the 64-bit
    branch (|amount| < 10^10, rate <= 1) and the 128-bit one alike, ties (5 × 0.1, 50 × 0.01)
    included, without an overflow error up to 10^17 minor units and a rate of 999999.999999 while
    the fee itself fits in a BIGINT."""
    assume(abs(amount) * micro < 9 * 10**24)  # a fee of 9 × 10^18 minor units or more: no BIGINT
    rate = Decimal(micro).scaleb(-6)
    con = _fee_con(config.load(ROOT / "data" / "recon.toml"))
    got = con.execute("SELECT percent_minor(?::BIGINT, ?::DECIMAL(12, 6))", [amount, rate]).fetchone()[0]
    assert got == percent_of(abs(amount), rate)


@settings(max_examples=400, deadline=None)
@given(amount=st.one_of(st.integers(min_value=-10**9, max_value=10**9),
                        st.sampled_from([0, 99_999, 100_000, 100_001, -100_000, 9_999_999,
                                         10_000_000, 10_000_001])),
       txn_type=st.sampled_from(["payment", "refund", "chargeback"]),
       method=st.sampled_from(["card", "wallet", None]),
       card_type=st.sampled_from(["amex", "visa", None]),
       day=st.sampled_from([date(2025, 6, 1), D, date(2027, 1, 1), date(2019, 1, 1)]))
def test_sql_line_fee_equals_rate_card_with_tiers_and_card_types(amount, txn_type, method,
                                                                   card_type, day):
    """Rate selection (method, card type, amount band, validity) and arithmetic agree."""
    card = ratecard.load(TIERED)
    con = _fee_con(config.load(ROOT / "data" / "recon.toml"))
    got = con.execute("SELECT line_fee('tiered', ?, ?, ?::BIGINT, ?, ?)",
                      [method, card_type, amount, txn_type, day]).fetchone()[0]
    assert got == card.expected_fee(amount, txn_type, day, method, card_type)


def test_tiers_and_card_types_select_the_expected_rate():
    card = ratecard.load(TIERED)
    assert card.expected_fee(10_000, "payment", D, "card", "visa") == 270 + 25  # dated 2026 rate
    assert card.expected_fee(10_000, "payment", date(2027, 1, 1), "card", "visa") == 310 + 30
    assert card.expected_fee(1_000, "payment", D, "card", "amex") == 50  # 3.5 % = 35 → min 0.50
    assert card.expected_fee(100_000, "payment", D, "card", "amex") == 2_500  # 2.5 % tier
    assert card.expected_fee(10_000_000, "payment", D, "card", "amex") == 100_000  # 1 %, no cap
    assert card.expected_fee(20_000_000, "payment", D, "card", "amex") == 150_000  # max 1500
    assert card.expected_fee(-100_000, "refund", D, "card", "amex") == -2_500
    assert card.expected_fee(10_000, "payment", D, "wallet", "amex") == 290 + 30  # '*' method


_CON = {}


def _fee_con(cfg):
    if "con" not in _CON:
        con = warehouse.connect(":memory:")
        cards = {s.name: ratecard.load(s.rate_card) for s in cfg.sources if s.rate_card}
        warehouse.load_rate_cards(con, {**cards, "tiered": ratecard.load(TIERED)})
        _CON["con"] = con
    return _CON["con"]


@pytest.mark.parametrize("card_from", ["raw", "canonical", "canonical-legacy", "other-field"])
def test_line_fees_table_macro_equals_rate_card_for_every_line(card_from):
    """The set-based line_fees (fee check, fee report) picks the same rate as line_fee per line:
    a grid over methods, card types, bands and days. The card type comes from the raw field the
    card names (raw), from the canonical card_type when that field is the format's own (canonical:
    raw holds none), from raw for lines loaded before card_type existed (canonical-legacy: NULL),
    and from raw when the card names another field than the format's (other-field: card_type
    holds a wrong brand that must not be read)."""
    card = ratecard.load(TIERED)
    con = warehouse.connect(":memory:")
    own_field = {"canonical": "card_brand", "canonical-legacy": "card_brand", "other-field": "brand"}
    warehouse.load_rate_cards(con, {"tiered": card}, {"tiered": own_field.get(card_from)})
    amounts = (0, 1_000, 10_000, 99_999, 100_000, 100_001, 9_999_999, 10_000_000, 10_000_001,
               10_000_000_000, 123_456_789_012)
    grid = [(a if t != "refund" else -a, t, m, c, d)
            for a in amounts for t in ("payment", "refund", "chargeback")
            for m in ("card", "wallet", None) for c in ("amex", "visa", None)
            for d in (date(2019, 1, 1), date(2025, 6, 1), D, date(2027, 1, 1))]
    lines = pl.DataFrame(
        {"line_id": [f"L{i}" for i in range(len(grid))], "source": "tiered", "file_sha256": "f",
         "file_line": list(range(1, len(grid) + 1)), "business_date": [g[4] for g in grid],
         "txn_type": [g[1] for g in grid], "amount_minor": [g[0] for g in grid], "currency": "USD",
         "fee_minor": 0, "payment_method": [g[2] for g in grid],
         "raw": ['{"card_brand":"' + g[3] + '"}' if g[3] else "{}" for g in grid]})
    if card_from == "canonical":
        lines = lines.with_columns(raw=pl.lit("{}"), card_type=pl.Series([g[3] or "" for g in grid]))
    elif card_from == "other-field":
        lines = lines.with_columns(card_type=pl.lit("amex"))
    warehouse.insert_frame(con, "statement_lines", conform(lines, STATEMENT_COLUMNS))
    got = {}
    for day in sorted({g[4] for g in grid}):
        got.update(con.execute("SELECT line_id, expected_fee FROM line_fees(?)", [day]).fetchall())
    expected = {f"L{i}": card.expected_fee(a, t, d, m, c) for i, (a, t, m, c, d) in enumerate(grid)
                if t in ("payment", "refund")}
    assert got == expected


def test_warehouse_from_before_the_canonical_columns_is_upgraded_and_prices_its_lines(tmp_path):
    """A warehouse written before merchant_id / sub_merchant_id / card_type (and rate_cards'
    card_canonical) gains them when opened; its old lines (NULL there) are priced from raw."""
    path = tmp_path / "old.duckdb"
    con = warehouse.connect(path)
    for c in ("merchant_id", "sub_merchant_id", "card_type"):
        con.execute(f"ALTER TABLE statement_lines DROP COLUMN {c}")
    con.execute("ALTER TABLE rate_cards DROP COLUMN card_canonical")
    con.execute("DROP TABLE recon_schema")  # as an earlier version left it: no schema digest
    line = dict(line_id="L1", source="tiered", file_sha256="f", file_line=2, business_date=D,
                txn_type="payment", amount_minor=10_000_000, currency="USD", fee_minor=0,
                payment_method="card", raw='{"card_brand":"amex"}')
    con.execute(f"INSERT INTO statement_lines ({', '.join(line)}) VALUES ({', '.join('?' * len(line))})",
                list(line.values()))
    con.close()
    con = warehouse.connect(path)
    try:
        cols = {r[0] for r in con.execute("SELECT column_name FROM information_schema.columns "
                                          "WHERE table_name = 'statement_lines'").fetchall()}
        assert {"merchant_id", "sub_merchant_id", "card_type"} <= cols
        card = ratecard.load(TIERED)
        warehouse.load_rate_cards(con, {"tiered": card}, {"tiered": "card_brand"})
        assert con.execute("SELECT bool_and(card_canonical) FROM rate_cards").fetchone() == (True,)
        assert con.execute("SELECT card_type FROM statement_lines").fetchone() == (None,)
        got = con.execute("SELECT expected_fee FROM line_fees(?)", [D]).fetchall()
        assert got == [(card.expected_fee(10_000_000, "payment", D, "card", "amex"),)] == [(100_000,)]
        assert card.expected_fee(10_000_000, "payment", D, "card", None) != 100_000  # amex is priced
    finally:
        con.close()
