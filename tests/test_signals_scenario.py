"""Risk signals on a generated world: six standard days, then one channel (Stripe) edited on
chosen days — a refund spike (extra refund lines) and a fee-rate drift (every charge's fee up by
one percent of its amount) — reconciled day by day through the nightly flow on the real sshd.
The two signals fire on exactly those channel-days and nowhere else, and land in the summary
JSON and the workbook's Channels sheet."""
from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from decimal import Decimal

import openpyxl
import pytest

from recon.generate import generate_days
from tests.receivers import config_copy
from tests.worlds import served

START = date(2026, 11, 2)
DAYS = 6
REFUND_SPIKE = {START + timedelta(days=4), START + timedelta(days=5)}
FEE_DRIFT = {START + timedelta(days=3), START + timedelta(days=5)}
pytestmark = pytest.mark.integration


def edit_stripe(path, *, refunds: bool, fees: bool) -> None:
    """Stripe itemized report of one day: ``refunds`` adds one refund line (not in the ledger,
    outside any payout) per two charges; ``fees`` raises each charge's fee by 1 % of its gross."""
    rows = list(csv.DictReader(io.StringIO(path.read_text("utf-8"))))
    header = list(rows[0])
    charges = [r for r in rows if r["reporting_category"] == "charge"]
    out = []
    for r in rows:
        if fees and r["reporting_category"] == "charge":
            extra = (Decimal(r["gross"]) / 100).quantize(Decimal("0.01"))
            r = {**r, "fee": str(Decimal(r["fee"]) + extra), "net": str(Decimal(r["net"]) - extra)}
        out.append(r)
    if refunds:
        for i, c in enumerate(charges[::2]):
            out.insert(-1, {**c, "balance_transaction_id": f"txn_SPIKE{i:05d}", "gross": f"-{c['gross']}",
                            "fee": "0.00", "net": f"-{c['gross']}", "reporting_category": "refund",
                            "source_id": f"re_SPIKE{i:05d}", "automatic_payout_id": "",
                            "automatic_payout_effective_at": "",
                            "refund_metadata[refund_id]": f"RFDSPIKE{i:05d}"})
    buf = io.StringIO()
    w = csv.DictWriter(buf, header, lineterminator="\n")
    w.writeheader()
    w.writerows(out)
    path.write_text(buf.getvalue(), "utf-8")


def test_refund_spike_and_fee_drift_fire_on_exactly_those_channel_days(prefect_harness, tmp_path, monkeypatch):
    from flows.nightly import nightly
    world = tmp_path / "world"
    days = generate_days(START, DAYS, world, seed=3, scale=100)
    for d in days:
        if d.business_date in REFUND_SPIKE | FEE_DRIFT:
            edit_stripe(d.paths["stripe"], refunds=d.business_date in REFUND_SPIKE,
                        fees=d.business_date in FEE_DRIFT)
    cfg = config_copy(tmp_path / "recon.toml", replace={
        'refund_rate_rise = "0.03"': 'refund_rate_rise = "0.15"',
        'chargeback_rate_rise = "0.01"': 'chargeback_rate_rise = "0.15"',
        'success_rate_drop = "0.05"': 'success_rate_drop = "0.15"',
        'fee_rate_drift = "0.0010"': 'fee_rate_drift = "0.0050"',
        "min_payments = 100": "min_payments = 20"})
    fired: dict[str, set] = {}
    results = {}
    with served(world, tmp_path, monkeypatch):
        for d in days:
            result = nightly(business_date=d.business_date, config_path=str(cfg))
            results[d.business_date] = result
            summary = json.loads(open(result["outputs"]["summary"], encoding="utf-8").read())
            for g in summary["signals"]:
                fired.setdefault(g["kind"], set()).add((g["source"], g["business_date"]))
    expect = lambda dates: {("stripe", d.isoformat()) for d in dates}  # noqa: E731
    assert fired.get("refund_rate_spike") == expect(REFUND_SPIKE)
    assert fired.get("fee_rate_drift") == expect(FEE_DRIFT)
    assert "success_rate_drop" not in fired and "chargeback_rate_spike" not in fired
    print("signals fired:", {k: sorted(v) for k, v in fired.items()})

    last = results[START + timedelta(days=5)]
    assert {(g["kind"], g["source"]) for g in last["signals"]} >= {("refund_rate_spike", "stripe"),
                                                                    ("fee_rate_drift", "stripe")}
    ws = openpyxl.load_workbook(last["outputs"]["workbook"])["Channels"]
    values = [[c for c in row] for row in ws.iter_rows(values_only=True)]
    head = next(i for i, r in enumerate(values) if r[0] == "signal")
    listed = {(r[0], r[1]) for r in values[head + 1:] if r[0] in ("refund_rate_spike", "fee_rate_drift")}
    assert listed == {("refund_rate_spike", "stripe"), ("fee_rate_drift", "stripe")}
