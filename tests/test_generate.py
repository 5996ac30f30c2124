"""The synthetic world generator: formats, internal consistency, injected breaks, determinism.

Files are read back here with the csv module and Decimal, independently of the generator's code.
"""
from __future__ import annotations

import csv
import hashlib
import io
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import defusedxml.ElementTree as ET
import numpy as np
import pytest

from recon import ratecard
from recon.generate import GeneratedDay, generate_day, generate_days
from recon.generate.fees import expected_fees
from recon.money import to_minor

D = date(2026, 11, 21)
CARDS = Path(__file__).resolve().parents[1] / "data" / "rate_cards"
NS = {"c": "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"}
WX_HEADER = ("交易时间,公众账号ID,商户号,特约商户号,设备号,微信订单号,商户订单号,用户标识,交易类型,交易状态,付款银行,"
             "货币种类,应结订单金额,代金券金额,微信退款单号,商户退款单号,退款金额,充值券退款金额,退款类型,退款状态,"
             "商品名称,商户数据包,手续费,费率,订单金额,申请退款金额,费率备注").split(",")
CATEGORIES = ("missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate", "timing",
              "fee_variance")


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> GeneratedDay:
    return generate_day(D, tmp_path_factory.mktemp("world"), seed=7, scale=300)


def wechat_rows(path: Path) -> tuple[list[dict], list[str], list[str]]:
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")  # the published bill starts with a UTF-8 BOM
    lines = data[3:].decode("utf-8").split("\r\n")
    assert lines[-1] == "" and all("\n" not in line for line in lines)
    body = lines[1:-3]
    rows = []
    for line in body:
        fields = line.split(",")
        assert len(fields) == 27 and all(f.startswith("`") for f in fields), line
        rows.append(dict(zip(WX_HEADER, (f[1:] for f in fields))))
    return rows, lines[-3].split(","), lines[-2].split(","), lines[0].split(",")


def csv_rows(path: Path) -> list[dict]:
    raw = path.read_bytes().decode("utf-8")
    assert "\r" not in raw
    return list(csv.DictReader(io.StringIO(raw)))


def truth(g: GeneratedDay) -> list[dict]:
    return csv_rows(g.paths["truth"])


def keys(g: GeneratedDay, category: str, source: str | None = None) -> set[str]:
    return {r["key"] for r in truth(g) if r["category"] == category and source in (None, r["source"])}


def dec(text: str) -> Decimal:
    return Decimal(text) if text else Decimal(0)


def psp_lines(g: GeneratedDay) -> list[dict]:
    """Both PSP files as (source, merchant_reference, signed amount, fee, method, time) dicts."""
    out = []
    for r in wechat_rows(g.paths["wechatpay"])[0]:
        refund = r["交易状态"] == "REFUND"
        out.append({"source": "wechatpay", "ref": r["商户退款单号"] if refund else r["商户订单号"],
                    "amount": -dec(r["退款金额"]) if refund else dec(r["应结订单金额"]),
                    "fee": dec(r["手续费"]), "method": r["交易类型"], "time": r["交易时间"]})
    for r in csv_rows(g.paths["stripe"]):
        if r["reporting_category"] == "payout":
            continue
        refund = r["reporting_category"] == "refund"
        out.append({"source": "stripe", "amount": dec(r["gross"]), "fee": dec(r["fee"]), "method": "card",
                    "ref": r["refund_metadata[refund_id]"] if refund else r["payment_metadata[order_id]"],
                    "time": r["created"]})
    return out


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    def digests(out: Path, seed: int) -> dict[str, str]:
        g = generate_day(D, out, seed=seed, scale=80)
        return {k: hashlib.sha256(p.read_bytes()).hexdigest() for k, p in g.paths.items()}

    first, again, other = digests(tmp_path / "a", 7), digests(tmp_path / "b", 7), digests(tmp_path / "c", 8)
    assert first == again
    assert all(first[k] != other[k] for k in first)


def test_layout_and_counts(day):
    root = day.paths["truth"].parent
    assert {k: p.relative_to(root).as_posix() for k, p in day.paths.items()} == {
        "ledger": "ledger/ledger_20261121.csv", "wechatpay": "wechatpay/wechatpay_trade_20261121.csv",
        "stripe": "stripe/stripe_itemized_20261121.csv", "bank": "bank/camt053_20261121.xml",
        "truth": "ground_truth_20261121.csv"}
    assert day.counts["ledger"] == len(csv_rows(day.paths["ledger"]))
    assert day.counts["stripe"] == len(csv_rows(day.paths["stripe"]))
    assert day.counts["wechatpay"] == len(wechat_rows(day.paths["wechatpay"])[0])
    assert day.counts["truth"] == len(truth(day))


def test_wechat_bill_structure_and_summary(day):
    rows, summary_header, summary, header = wechat_rows(day.paths["wechatpay"])
    assert header == WX_HEADER
    assert summary_header == ["总交易单数", "应结订单总金额", "退款总金额", "充值券退款总金额", "手续费总金额",
                              "订单总金额", "申请退款总金额"]
    assert all(v.startswith("`") for v in summary)
    total = lambda col: sum(Decimal(r[col]) for r in rows)  # noqa: E731
    assert [v[1:] for v in summary] == [
        str(len(rows)), str(total("应结订单金额")), str(total("退款金额")), str(total("充值券退款金额")),
        str(total("手续费")), str(total("订单金额")), str(total("申请退款金额"))]
    for r in rows:
        assert r["商户号"] == "1900000109" and r["货币种类"] == "CNY" and r["费率"] == "0.60%"
        if r["交易状态"] == "REFUND":
            assert r["应结订单金额"] == "0.00" and r["退款金额"] == r["申请退款金额"] != "0.00"
            assert r["微信退款单号"].startswith("50") and r["商户退款单号"].startswith("RFD")
            assert r["退款类型"] == "ORIGINAL" and r["退款状态"] == "SUCCESS" and Decimal(r["手续费"]) <= 0
        else:
            assert r["交易状态"] == "SUCCESS" and r["应结订单金额"] == r["订单金额"]
            assert r["微信退款单号"] == r["商户退款单号"] == "0" and r["退款金额"] == "0.00"
        assert r["交易时间"].startswith("2026-11-21 ") and len(r["微信订单号"]) == 28
        assert len(r["手续费"].split(".")[1]) == 5  # 手续费 to five decimals, as WeChat writes it
    assert len(summary[4].split(".")[1]) == 5


def test_stripe_payout_row_is_minus_the_sum_of_net(day):
    rows = csv_rows(day.paths["stripe"])
    payouts = [r for r in rows if r["reporting_category"] == "payout"]
    assert len(payouts) == 1 and rows[-1] is payouts[0]
    po = payouts[0]["source_id"]
    assert po.startswith("po_") and payouts[0]["gross"] == payouts[0]["net"] and payouts[0]["fee"] == "0.00"
    for r in rows:
        assert Decimal(r["net"]) == Decimal(r["gross"]) - Decimal(r["fee"])
        assert r["automatic_payout_id"] == po and r["currency"] == "usd"
        assert r["automatic_payout_effective_at"] == "2026-11-22 00:00:00"
        assert r["created"].startswith("2026-11-21 ")
    assert Decimal(payouts[0]["net"]) == -sum(Decimal(r["net"]) for r in rows[:-1])
    assert {r["reporting_category"] for r in rows[:-1]} == {"charge", "refund"}
    assert all(Decimal(r["fee"]) == 0 for r in rows if r["reporting_category"] == "refund")


def test_camt053_balances_and_payouts(tmp_path):
    # the bank file of D (booked D) credits the payouts of D-1: a world of both days
    before, g = generate_days(D - timedelta(days=1), 2, tmp_path, seed=7, scale=300)
    doc = ET.parse(g.paths["bank"]).getroot()
    wx_rows = wechat_rows(before.paths["wechatpay"])[0]
    wx_payout = sum(Decimal(r["应结订单金额"]) - Decimal(r["退款金额"]) - Decimal(r["手续费"]) for r in wx_rows)
    stripe = csv_rows(before.paths["stripe"])
    payouts = {"WX1900000109-20261120": wx_payout, stripe[-1]["source_id"]: -Decimal(stripe[-1]["net"])}
    short = {r["key"]: r for r in truth(g) if r["category"] == "payout_mismatch"}
    assert len(short) == 1
    # on the world's first day the credits are of payouts recon never saw: missing in the ledger
    first = {(r["category"], r["key"][:3]) for r in truth(before) if r["source"] == "bank"}
    assert first == {("missing_in_ledger", "WX1"), ("missing_in_ledger", "po_")}
    assert "WX1900000109-20261119" in {r["key"] for r in truth(before)}
    seen = {}
    for stmt in doc.iterfind("c:BkToCstmrStmt/c:Stmt", NS):
        sign = lambda node: Decimal(node.findtext("c:Amt", namespaces=NS)) * (  # noqa: E731
            1 if node.findtext("c:CdtDbtInd", namespaces=NS) == "CRDT" else -1)
        bal = {b.findtext("c:Tp/c:CdOrPrtry/c:Cd", namespaces=NS): sign(b) for b in stmt.iterfind("c:Bal", NS)}
        entries = list(stmt.iterfind("c:Ntry", NS))
        amounts = [sign(e) for e in entries]
        assert bal["OPBD"] + sum(amounts) == bal["CLBD"]
        totals = stmt.find("c:TxsSummry/c:TtlNtries", NS)
        assert int(totals.findtext("c:NbOfNtries", namespaces=NS)) == len(entries)
        assert Decimal(totals.findtext("c:Sum", namespaces=NS)) == sum(abs(a) for a in amounts)
        assert sign(totals.find("c:TtlNetNtry", NS)) == sum(amounts)
        for e, amount in zip(entries, amounts):
            # as banks fill them: a cross-border credit (XBCT, the USD account) has only ValDt
            cross_border = e.findtext("c:BkTxCd/c:Domn/c:Fmly/c:SubFmlyCd", namespaces=NS) == "XBCT"
            assert e.findtext("c:BookgDt/c:Dt", namespaces=NS) == (None if cross_border
                                                                  else "2026-11-21")
            assert e.findtext("c:ValDt/c:Dt", namespaces=NS) == "2026-11-21"
            assert e.findtext("c:Sts/c:Cd", namespaces=NS) == "BOOK"
            seen[e.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=NS)] = amount
    assert seen.keys() == payouts.keys()
    for pid, payout in payouts.items():
        if pid in short:
            assert Decimal(short[pid]["ledger_amount"]) == payout
            assert Decimal(short[pid]["statement_amount"]) == seen[pid] <= payout - 1
        else:
            assert seen[pid] == payout


@pytest.mark.parametrize("scale,k", [(300, 1), (2_000, 3)])
def test_ground_truth_has_every_category_k_times(tmp_path, scale, k):
    g = generate_day(D, tmp_path, seed=3, scale=scale)
    counted = Counter((r["category"], r["source"]) for r in truth(g))
    for source in ("wechatpay", "stripe"):
        for category in CATEGORIES:
            assert counted[category, source] == (2 * k if category == "timing" else k), (category, source)
    # a world of one day: the bank's credits are of payouts recon never saw (the day before)
    assert sum(v for (c, _), v in counted.items() if c == "payout_mismatch") == 0
    assert counted["missing_in_ledger", "bank"] == 2
    lines = [r["key"] for r in truth(g) if r["category"] != "timing"]
    assert len(lines) == len(set(lines)), "two injected breaks on one item"
    assert g.counts["timing"] == 4 * k and g.counts["payout_mismatch"] == 0


def test_ledger_and_psp_files_agree_except_the_injected_breaks(day):
    ledger = {r["merchant_reference"]: r for r in csv_rows(day.paths["ledger"])}
    lines = psp_lines(day)
    psp = Counter(r["ref"] for r in lines)
    amounts = {r["ref"]: r["amount"] for r in lines}
    timing = keys(day, "timing")
    only_ledger = keys(day, "missing_in_statement") | {k for k in timing if k not in psp}
    only_psp = (keys(day, "missing_in_ledger", "wechatpay") | keys(day, "missing_in_ledger", "stripe")
                | {k for k in timing if k not in ledger})  # (the bank's are payout credits)
    assert only_ledger == set(ledger) - set(psp)
    assert only_psp == set(psp) - set(ledger)
    assert len(timing) == 4 and len(only_ledger) == 2 + 2 and len(only_psp) == 2 + 2
    assert {k for k, n in psp.items() if n > 1} == keys(day, "duplicate")
    differ = {k for k in set(ledger) & set(psp) if Decimal(ledger[k]["amount"]) != amounts[k]}
    assert differ == keys(day, "amount_mismatch")
    for r in truth(day):
        if r["category"] == "amount_mismatch":
            assert abs(Decimal(r["ledger_amount"]) - Decimal(r["statement_amount"])) >= 1
    with_ref = sum(bool(r["psp_reference"]) for r in ledger.values()) / len(ledger)
    assert 0.6 < with_ref < 0.8
    for r in ledger.values():
        assert r["business_date"] == "2026-11-21" and r["booked_at"].startswith("2026-11-21T")
        assert r["booked_at"].endswith("+08:00")
        assert (r["txn_type"] == "refund") == r["amount"].startswith("-") == bool(r["original_reference"])


def test_psp_time_is_within_two_seconds_of_the_ledger(day):
    ledger = {r["merchant_reference"]: r["booked_at"][11:19] for r in csv_rows(day.paths["ledger"])}
    timing = keys(day, "timing")
    secs = lambda t: int(t[:2]) * 3600 + int(t[3:5]) * 60 + int(t[6:8])  # noqa: E731
    for r in psp_lines(day):
        if r["ref"] in ledger and r["ref"] not in timing:
            assert 0 <= secs(r["time"][11:19]) - secs(ledger[r["ref"]]) <= 2, r


def test_fees_follow_the_rate_card_except_the_injected_overcharges(day):
    cards = {s: ratecard.load(CARDS / f"{s}.toml") for s in ("wechatpay", "stripe")}
    over = {r["key"]: r for r in truth(day) if r["category"] == "fee_variance"}
    seen = set()
    for r in psp_lines(day):
        ccy = cards[r["source"]].currency
        kind = "refund" if r["amount"] < 0 else "payment"
        expected = cards[r["source"]].expected_fee(to_minor(r["amount"], ccy), kind, D, r["method"])
        fee = to_minor(r["fee"], ccy)
        if r["ref"] in over:
            seen.add(r["ref"])
            assert 1 <= fee - expected <= 500
            assert (to_minor(over[r["ref"]]["ledger_amount"], ccy), to_minor(over[r["ref"]]["statement_amount"], ccy)) \
                == (expected, fee)
        else:
            assert fee == expected, r
    assert seen == set(over)


def test_vectorised_fees_equal_the_rate_card():
    rng = np.random.default_rng(1)
    amount = np.concatenate([np.arange(0, 3_000), rng.integers(0, 10**9, 20_000)]).astype(np.int64)
    refund = rng.random(len(amount)) < 0.5
    for name, methods in (("wechatpay", ("JSAPI", "APP")), ("stripe", ("card",))):
        card = ratecard.load(CARDS / f"{name}.toml")
        method = rng.integers(0, len(methods), len(amount))
        got = expected_fees(card, amount, refund, D, method, methods)
        want = [card.expected_fee(int(a), "refund" if r else "payment", D, methods[m])
                for a, r, m in zip(amount, refund, method)]
        assert got.tolist() == want


def test_refunds_and_cut_off_lines_agree_with_the_days_around(tmp_path):
    days = {d: generate_day(d, tmp_path, seed=11, scale=60) for d in (D - timedelta(days=i) for i in range(-1, 8))}
    ledgers = {d: {r["merchant_reference"]: r for r in csv_rows(g.paths["ledger"])} for d, g in days.items()}
    lines = {d: {r["ref"]: r for r in psp_lines(g)} for d, g in days.items()}
    everything = {k: v for led in ledgers.values() for k, v in led.items()}
    refunded = Counter()
    for ref, r in ledgers[D].items():
        if r["txn_type"] == "refund":
            original = everything[r["original_reference"]]
            refunded[r["original_reference"]] += 1
            assert -Decimal(r["amount"]) <= Decimal(original["amount"])
            assert any(r["original_reference"] in lines[d] for d in lines)
            assert r["original_reference"] not in {t["key"] for g in days.values() for t in truth(g)}
    assert refunded and max(refunded.values()) == 1
    for g_day, nxt in ((D - timedelta(days=1), D), (D, D + timedelta(days=1))):
        late = {k for k in keys(days[nxt], "timing") if k in lines[nxt] and k not in ledgers[nxt]}
        assert late and late == {k for k in keys(days[g_day], "timing") if k in ledgers[g_day]}
        for k in late:
            assert ledgers[g_day][k]["booked_at"][11:16] == "23:59"
            assert lines[nxt][k]["time"][11:16] == "00:00"
            assert Decimal(ledgers[g_day][k]["amount"]) == lines[nxt][k]["amount"]


def test_too_small_a_world_is_refused(tmp_path):
    with pytest.raises(ValueError, match="scale"):
        generate_day(D, tmp_path, scale=5)


def test_a_day_generated_in_slices_is_one_consistent_day(tmp_path):
    """A day too big for one world is written a slice at a time (the 100M bench day): every
    reference is new in its slice, the ledger is numbered on across slices, WeChat's summary and
    Stripe's payout row add up over the whole file, the bank credits the whole day's payouts."""
    from recon.generate.day import generate_day_sliced

    g = generate_day_sliced(D, tmp_path, seed=7, scale=450, slice_scale=150)
    assert set(g.paths) == {"ledger", "wechatpay", "stripe", "bank"}
    ledger = csv_rows(g.paths["ledger"])
    assert [r["entry_id"] for r in ledger] == [f"LE20261121{i:09d}" for i in range(1, len(ledger) + 1)]
    assert g.counts["ledger"] == len(ledger)
    # three slices of one world each: about three times one slice's rows, and no payment
    # reference twice except the injected duplicates (one slice's k per PSP each)
    one = generate_day(D, tmp_path / "one", seed=7000, scale=150)
    assert abs(len(ledger) - 3 * one.counts["ledger"]) < 0.05 * len(ledger)
    payments = Counter(r["merchant_reference"] for r in ledger if r["txn_type"] == "payment")
    assert max(payments.values()) == 1
    lines = psp_lines(g)
    repeated = Counter(r["ref"] for r in lines)
    k = sum(1 for r in truth(one) if r["category"] == "duplicate")
    assert sum(n - 1 for n in repeated.values()) == 3 * k  # k per PSP per slice, both PSPs
    rows, _, summary, _ = wechat_rows(g.paths["wechatpay"])
    assert g.counts["wechatpay"] == len(rows) == int(summary[0][1:])
    assert Decimal(summary[1][1:]) == sum(Decimal(r["应结订单金额"]) for r in rows)
    assert Decimal(summary[4][1:]) == sum(Decimal(r["手续费"]) for r in rows)
    stripe = csv_rows(g.paths["stripe"])
    assert [r["reporting_category"] for r in stripe].count("payout") == 1
    assert stripe[-1]["reporting_category"] == "payout" and g.counts["stripe"] == len(stripe)
    assert Decimal(stripe[-1]["net"]) == -sum(Decimal(r["net"]) for r in stripe[:-1])
    doc = ET.parse(g.paths["bank"]).getroot()
    credits = {e.findtext("c:NtryDtls/c:TxDtls/c:Refs/c:EndToEndId", namespaces=NS):
               Decimal(e.findtext("c:Amt", namespaces=NS)) for e in doc.iter(f"{{{NS['c']}}}Ntry")}
    wx_payout = sum(Decimal(r["应结订单金额"]) - Decimal(r["退款金额"]) - Decimal(r["手续费"]) for r in rows)
    due = {"WX1900000109-20261121": wx_payout, stripe[-1]["source_id"]: -Decimal(stripe[-1]["net"])}
    assert credits.keys() == due.keys()
    assert sorted(credits[p] == due[p] for p in due) == [False, True]  # one payout credited short
    again = generate_day_sliced(D, tmp_path / "again", seed=7, scale=450, slice_scale=150)
    assert all(g.paths[k].read_bytes() == again.paths[k].read_bytes() for k in g.paths)
