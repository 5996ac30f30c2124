"""The hard world's references: every unmatched one is in the ground truth, and the noisy ones
normalise to the ledger's (the generator's side of the matching rules' contract)."""
from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from recon.generate import generate_days
from tests.hard_world import DAYS, K, PREFIXES, SCALE, SEED, START, ledger, norm, psp_payments, truth


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("hard")
    return generate_days(START, DAYS, root, seed=SEED, scale=SCALE, scenario="hard")



def test_every_unmatched_reference_is_in_the_truth(world):
    """Ledger payments and PSP payment lines of a day, paired by normalised reference (and, for the
    Stripe lines without an order id, by amount and e-mail): whatever is left is a listed break,
    new on the day or open from an earlier one."""
    open_ledger: set[str] = set()  # ledger payments still waiting for their PSP line
    open_psp: set[str] = set()
    for g in world:
        d, t = g.business_date, truth(g)
        listed = {r["key"] for r in t}
        entries = [e for e in ledger(g) if e["txn_type"] == "payment"]
        refs = Counter(e["merchant_reference"] for e in entries)
        assert {k for k, n in refs.items() if n > 1} == {r["key"] for r in t if r["category"] == "duplicate"
                                                          and "ledger" in r["note"]}
        lines = [p for s in psp_payments(g).values() for p in s]
        with_ref = {norm(p["ref"]) for p in lines if p["ref"]}
        led = {norm(e["merchant_reference"]): e for e in entries}
        fuzzy = [p for p in lines if not p["ref"]]
        for p in fuzzy:  # fuzzy: exactly one (or, for an ambiguous charge, two) same amount + e-mail
            fits = [e for e in entries if not e["psp_reference"] and e["counterparty"] == p["party"]
                    and Decimal(e["amount"]) == p["amount"]]
            amb = [r for r in t if r["category"] == "ambiguous" and r["key"] == p["id"]]
            assert len(fits) == (2 if amb else 1), p
            if amb:
                assert all(e["merchant_reference"] in amb[0]["note"] for e in fits)
            for e in fits:
                led.pop(norm(e["merchant_reference"]))
        only_ledger = set(led) - with_ref
        only_psp = with_ref - set(led)
        new_ledger = {norm(r["key"]) for r in t if r["category"] in ("missing_in_statement", "timing")}
        new_psp = {norm(r["key"]) for r in t if r["category"] in ("missing_in_ledger", "timing")}
        # what is left over is listed today, or was listed before and its counterpart arrives today
        late_ledger, late_psp_lines = only_ledger - new_ledger, only_psp - new_psp
        assert late_ledger <= open_psp, (d, late_ledger - open_psp)
        assert late_psp_lines <= open_ledger, (d, late_psp_lines - open_ledger)
        assert not (late_ledger & listed) and not (late_psp_lines & listed)
        open_psp -= late_ledger
        open_ledger -= late_psp_lines
        open_ledger |= {norm(r["key"]) for r in t if r["clears_on"]
                        and r["category"] in ("missing_in_statement", "timing")}
        open_psp |= {norm(r["key"]) for r in t if r["clears_on"] and r["category"] == "missing_in_ledger"}
    assert not open_ledger and not open_psp  # everything due to clear within the world did


def test_noisy_references_normalise_to_the_ledgers(world):
    for g in world:
        led = {e["merchant_reference"]: e for e in ledger(g)}
        for source, lines in psp_payments(g).items():
            noisy = [p for p in lines if p["ref"] and p["ref"] not in led and norm(p["ref"]) in led]
            assert len(noisy) == 10 * K, (g.business_date, source)
            for p in noisy:
                e = led[norm(p["ref"])]
                assert e["psp_reference"] == "" and Decimal(e["amount"]) == (p["cfa"] if "cfa" in p else p["amount"])
                assert p["ref"] != norm(p["ref"])
            kinds = {("lower" if p["ref"].islower() else "spaces" if p["ref"] != p["ref"].strip()
                      else "prefix" if p["ref"].startswith(PREFIXES) else "inner") for p in noisy}
            assert len(kinds) >= 2
