"""camt TxDtls against genkgo/camt's parse snapshots (.json beside the real files in
../shared/conformance): per TxDtls, the references and amounts recon reads (and splits batch
entries by) must be the ones genkgo lists in ``getTransactionDetails``."""
from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from recon.money import to_minor
from schemas import camt052, camt053, camt054

ROOT = Path(os.environ.get("RECON_CONFORMANCE_DIR", Path(__file__).parents[2] / "shared/conformance"))
MODULES = {"camt052": camt052, "camt053": camt053, "camt054": camt054}
SNAPSHOTS = sorted(p for folder in MODULES for p in (ROOT / folder).glob("genkgo-*.json")) \
    if ROOT.is_dir() else []


def _params():
    if not SNAPSHOTS:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"conformance corpus not found at {ROOT} (set RECON_CONFORMANCE_DIR)"))]
    return [pytest.param(p, id=f"{p.parent.name}/{p.stem}") for p in SNAPSHOTS]


def _theirs(entry: dict) -> list[tuple]:
    """genkgo's TxDtls of one entry: (|amount| minor or None, currency, EndToEndId)."""
    out = []
    for t in entry.get("getTransactionDetails") or []:
        t = entry["getTransactionDetail"] if t == "__RECURSIVITY__" else t
        money = t.get("getAmount")
        out.append((None if money is None else abs(int(money["getAmount"])),
                    None if money is None else money["getCurrency"]["getCode"],
                    (t.get("getReference") or {}).get("getEndToEndId")))
    return out


@pytest.mark.parametrize("snapshot", _params())
def test_txdtls_agree_with_genkgo(snapshot: Path):
    xml = snapshot.with_suffix(".xml")
    module = MODULES[snapshot.parent.name]
    records = {s.id: s.entries for s in module.read_statements(xml.read_bytes(), xml.name)}
    snapshot_entries = json.loads(snapshot.read_text(encoding="utf-8"))["getEntries"]
    # genkgo lists the entries of the records it was asked about (one of a multi-statement file)
    ids = list(dict.fromkeys(e["getRecord"]["getId"] for e in snapshot_entries))
    entries = [e for rid in ids for e in records[rid]]
    theirs = [_theirs(e) for e in snapshot_entries]
    assert len(entries) == len(theirs)
    compared = 0
    for ours, their in zip(entries, theirs, strict=True):
        assert len(ours["details"]) == len(their)
        for tx, (amount, ccy, e2e) in zip(ours["details"], their, strict=True):
            assert tx["EndToEndId"] == e2e
            if amount is not None:  # genkgo signs TxDtls by the entry's CdtDbtInd: compare |amount|
                assert (to_minor(tx["TxAmt"], tx["TxAmt@Ccy"]), tx["TxAmt@Ccy"]) == (amount, ccy)
                compared += 1
    if snapshot.stem in ("genkgo-camt054.v4", "genkgo-camt054.v8"):
        assert compared == 3  # the batch recon splits (and rejects: 9.50 CHF under 200000 SEK)
