"""The real scenario's world (recon.generate.real): every file parses as delivered, the truth and
the files tie, the config it is read with loads, and its scoring runs end to end."""
from __future__ import annotations

import csv
import re
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest

from recon import config
from recon.eval_real import breakdown, read_items, write_config
from recon.generate.real import generate_real_days
from recon.generate.real_psp import payout_of
from schemas import registry
from schemas.ledger import parse_ledger

START = date(2026, 11, 2)
FORMATS = {"wechatpay": "wechatpay_trade", "wechatpay_profitsharing": "wechatpay_profitsharing",
           "stripe": "stripe_itemized", "bank": "camt053"}


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("real")
    return out, generate_real_days(START, 4, out, seed=3, scale=60)


@pytest.fixture(scope="module")
def cfg(world, tmp_path_factory):
    path, dropped = write_config(tmp_path_factory.mktemp("cfg") / "real.toml", config.load)
    return config.load(path), dropped


def _parse(kind: str, path: Path, d: date, cfg):
    source = next(s for s in cfg.sources if s.name == kind)
    return registry.parse(FORMATS[kind], path.read_bytes(), name=path.name, source=kind, sha256="0" * 64,
                          business_date=d, timezone="Asia/Shanghai", options=source.options or None)


def test_every_file_parses_with_nothing_quarantined(world, cfg):
    _, days = world
    loaded, _ = cfg
    for g in days:
        for kind in FORMATS:
            parsed = _parse(kind, g.paths[kind], g.business_date, loaded)
            assert parsed.quarantine.height == 0, (g.paths[kind].name, parsed.quarantine.to_dicts()[:3])
            assert parsed.frame.height == g.counts[kind] > 0, g.paths[kind].name
            assert all(c.ok for c in parsed.checks), g.paths[kind].name
        entries, quarantine = parse_ledger(g.paths["ledger"].read_bytes(), name=g.paths["ledger"].name,
                                           sha256="0" * 64, layout=loaded.ledger.layout)
        assert quarantine.height == 0 and entries.height == g.counts["ledger"]


def test_ledger_reads_types_statuses_and_indicator(world, cfg):
    _, days = world
    g = days[0]
    entries, _ = parse_ledger(g.paths["ledger"].read_bytes(), name="b.csv", sha256="0" * 64,
                              layout=cfg[0].ledger.layout)
    held = Counter(entries.filter(pl.col("hold").is_not_null())["hold"].to_list())
    assert held["status failed"] + held["status pending"] == 2 * max(2, 60 // 40)
    refunds = entries.filter(pl.col("txn_type") == "refund")
    assert refunds.height > 0 and (refunds["amount_minor"] < 0).all()
    assert refunds["psp_reference"].is_null().all()  # no PSP refund id, only the original order
    assert (refunds["merchant_reference"] == refunds["original_reference"]).all()
    stripe_payout = entries.filter((pl.col("source") == "stripe") & (pl.col("merchant_reference") == "ABR-S-20261102"))
    assert stripe_payout["psp_reference"].to_list() == [payout_of(3, START)]
    bank = entries.filter(pl.col("source") == "bank")
    assert bank.height >= 2 and set(bank["currency"]) <= {"CNY", "USD"}


def test_payouts_tie_across_psp_file_ledger_and_bank(world, cfg):
    out, days = world
    loaded, _ = cfg
    nets, bank = {}, {}
    for g in days:
        stripe = _parse("stripe", g.paths["stripe"], g.business_date, loaded).frame
        wechat = _parse("wechatpay", g.paths["wechatpay"], g.business_date, loaded).frame
        nets[g.business_date] = {"stripe": int(stripe["net_minor"].sum()), "wechatpay": int(wechat["net_minor"].sum())}
        assert set(stripe["payout_id"]) == {payout_of(3, g.business_date)}
        lines = _parse("bank", g.paths["bank"], g.business_date, loaded).frame
        bank[g.business_date] = lines
        ledger, _ = parse_ledger(g.paths["ledger"].read_bytes(), name="b.csv", sha256="0" * 64,
                                 layout=loaded.ledger.layout)
        payouts = ledger.filter(pl.col("txn_type") == "payout").sort("source")
        assert payouts["amount_minor"].to_list() == [-nets[g.business_date]["stripe"], -nets[g.business_date]["wechatpay"]]
    for d in list(nets)[:-1]:
        nxt = bank[d + timedelta(days=1)]
        wx = nxt.filter(pl.col("counterparty") == "财付通支付科技有限公司")
        assert wx["amount_minor"].to_list() == [nets[d]["wechatpay"]] and wx["end_to_end_id"].is_null().all()
        st = nxt.filter(pl.col("description").str.contains("po_"))
        if d == START:  # the world's one truly unsettled payout
            assert st.height == 0
        elif d == START + timedelta(days=1):  # ... and its one short payout credit
            truth = list(csv.DictReader((out / f"ground_truth_{d + timedelta(days=1):%Y%m%d}.csv").open()))
            short = next(r for r in truth if r["category"] == "payout_mismatch")
            assert short["key"] == payout_of(3, d)
            assert st["amount_minor"].to_list() == [int(Decimal(short["statement_amount"]) * 100)]
            assert 0 < nets[d]["stripe"] - st["amount_minor"][0] <= max(50_000, nets[d]["stripe"] // 2)
        else:
            assert st["amount_minor"].to_list() == [nets[d]["stripe"]]
            assert re.search(r"\bpo_[A-Za-z0-9]{24}\b", st["description"][0]).group(0) == payout_of(3, d)


def test_truth_is_consistent_with_the_files(world):
    out, days = world
    totals = Counter()
    for g in days:
        rows = list(csv.DictReader(g.paths["truth"].open(encoding="utf-8")))
        ledger = g.paths["ledger"].read_text(encoding="utf-8")
        psp = {k: g.paths[k].read_text(encoding="utf-8") for k in ("wechatpay", "stripe")}
        for r in rows:
            totals[r["category"]] += 1
            if r["category"] == "missing_in_statement":
                assert r["key"] in ledger and r["key"] not in psp[r["source"]]
            if r["category"] == "missing_in_ledger" and r["source"] != "bank":
                assert r["key"] not in ledger and r["key"] in psp[r["source"]]
            if r["category"] == "duplicate":
                assert psp[r["source"]].count(r["key"]) == 2
        assert g.counts["truth"] == len(rows)
    assert totals["unsettled"] == 1 and totals["payout_mismatch"] == 1 and totals["timing"] >= 8 and totals["missing_in_ledger"] >= 10
    for kind in ("amount_mismatch", "duplicate", "fee_variance", "missing_in_statement"):
        assert totals[kind] == 8, kind  # one per PSP and day
    items = read_items(out)
    assert items[("bank", "")] == "bank-only bank_charge (ledger side)"
    assert sum(1 for c in items.values() if c.startswith("分账")) > 0


def test_timing_items_are_within_fifteen_minutes_of_midnight(world):
    _, days = world
    for g in days:
        for r in csv.DictReader(g.paths["truth"].open(encoding="utf-8")):
            if r["category"] == "timing":
                times = re.findall(r"(\d\d):(\d\d):(\d\d)", r["note"])
                ledger, psp = [int(h) * 3600 + int(m) * 60 + int(s) for h, m, s in times]
                assert 86_400 - ledger <= 900 and psp < 900, r["note"]


def test_same_seed_same_bytes(world, tmp_path):
    out, days = world
    again = generate_real_days(START, 4, tmp_path, seed=3, scale=60)
    for a, b in zip(days, again):
        for kind, path in a.paths.items():
            assert path.read_bytes() == b.paths[kind].read_bytes(), path.name


def test_breakdown_names_causes():
    d = START
    truth = {(d, "timing", "wechatpay", "ORD1"), (d, "unsettled", "stripe", "po_1")}
    found = {(d, "missing_in_statement", "wechatpay", "ORD1"), (d, "missing_in_ledger", "bank", "X1"),
             (d + timedelta(days=1), "unsettled", "stripe", "po_1")}
    items = {("wechatpay", "ORD1"): "cross-midnight (up to 15 min)", ("bank", "X1"): "bank credit"}
    lines = breakdown(found, truth, items)
    assert lines == [
        "false breaks by category and cause: 3",
        "     1  missing_in_ledger    bank                    bank credit",
        "     1  missing_in_statement wechatpay               cross-midnight (up to 15 min); expected as timing",
        "     1  unsettled            stripe                  not an item of the scenario; expected as unsettled on day -1",
        "misses by category and cause: 2",
        "     1  timing               wechatpay               cross-midnight (up to 15 min); raised as missing_in_statement",
        "     1  unsettled            stripe                  injected break; raised as unsettled on day +1",
    ]
