"""camt.053 against the public conformance corpus (real files from genkgo/camt and viafintech).

Every valid file is read and its own control totals checked; where genkgo's parse snapshot (.json)
sits beside a file, the entries (count, amount, currency) and balances must agree with it. Several
public fixtures were trimmed or made up by hand and do not balance: a pipeline must reject those
whole, so they are listed below with the arithmetic that fails, and genkgo's own numbers must
confirm the imbalance where a snapshot exists.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from pathlib import Path

import pytest

from recon.errors import IntegrityError, ParseError
from recon.money import to_minor
from schemas import camt053, camt_details, registry

CORPUS = Path(os.environ.get("RECON_CONFORMANCE_DIR",
                             Path(__file__).parents[2] / "shared/conformance")) / "camt053"
FILES = sorted(CORPUS.glob("*.xml")) if CORPUS.is_dir() else []

# file → the control total that fails, and why (checked by hand against the XML)
UNBALANCED = {
    "genkgo-camt053.v2.all-balance-types.xml": ("OPBD + Σ entries = CLBD", "1.01 + 8.85 ≠ 4.04"),
    "genkgo-camt053.v2.five.decimals.xml": ("OPBD + Σ entries = CLBD", "18.150 + 8.850 ≠ 27.050"),
    "genkgo-camt053.v2.minimal.xml": ("OPBD + Σ entries = CLBD", "CLBD is 27.00 SEK debit, entries EUR"),
    "genkgo-camt053.v2.minimal.ultimate.xml": ("OPBD + Σ entries = CLBD", "CLBD in SEK"),
    "genkgo-camt053.v2.with-party-ids.xml": ("OPBD + Σ entries = CLBD", "CLBD in SEK"),
    "genkgo-camt053.v3.xml": ("OPBD + Σ entries = CLBD", "CLBD in SEK"),
    "genkgo-camt053.v4.xml": ("OPBD + Σ entries = CLBD", "CLBD in SEK"),
    "genkgo-camt053.v8.xml": ("OPBD + Σ entries = CLBD", "CLBD in SEK"),
    "viafintech-053-valid_example_v8.xml": ("OPBD + Σ entries = CLBD",
                                            "82721.95 + 474.40 + 88.85 − 20.97 EUR ≠ 84515.25 CHF"),
    "viafintech-053-valid_example_with_batch.xml": ("OPBD + Σ entries = CLBD",
                                                    "3 of the 35 entries kept in the fixture"),
    "viafintech-053-valid_example_with_datetime.xml": ("TxsSummry TtlNtries NbOfNtries",
                                                       "14 entries announced, 1 present"),
    "viafintech-053-valid_example_with_debit.xml": ("PRCD + Σ entries = CLBD", "−33.06 − 10.00 ≠ 23.06"),
    "viafintech-053-valid_example_with_instdamt.xml": ("OPBD + Σ entries = CLBD", "100 + 4500.00 ≠ 4500.00"),
}
GENKGO_BALANCE = {"opening": ("OPBD", "PRCD"), "closing": ("CLBD",), "opening_available": ("OPAV",),
                  "closing_available": ("CLAV",), "forward_available": ("FWAV",),
                  "information": ("INFO",), "interim_available": ("ITAV",), "interim": ("ITBD",),
                  "expected_credit": ("XPCD",)}


def _params():
    if not FILES:
        return [pytest.param(None, marks=pytest.mark.skip(
            reason=f"conformance corpus not found at {CORPUS} (set RECON_CONFORMANCE_DIR)"))]
    return [pytest.param(p, id=p.name) for p in FILES]


def _parse(path: Path):
    data = path.read_bytes()
    return registry.parse(registry.identify(data, path.name), data, name=path.name, source="bank",
                          sha256=hashlib.sha256(data).hexdigest(), business_date=date(2026, 1, 1),
                          timezone="Europe/Berlin")


@pytest.mark.parametrize("path", _params())
def test_camt053_file(path: Path):
    data = path.read_bytes()
    if "wrong" in path.name or "invalid" in path.name:
        with pytest.raises(ParseError):
            _parse(path)
        return
    assert registry.identify(data, path.name) == "camt053"
    if b"Stmt>" not in data:  # namespace-detection fixture: a Document with no statement in it
        with pytest.raises(ParseError, match="at least one Stmt"):
            _parse(path)
        return
    if path.name in UNBALANCED:
        check, why = UNBALANCED[path.name]
        with pytest.raises(IntegrityError) as err:
            _parse(path)
        assert check in err.value.check, why
    else:
        parsed = _parse(path)
        assert parsed.checks == tuple(c for c in parsed.checks if c.ok)
        # one line per entry, or per TxDtls of a batch entry whose TxDtls carry amounts
        lines = sum(len(camt_details.lines(e)) for s in camt053.read_statements(data, path.name)
                    for e in s.entries)
        assert parsed.line_count == lines
        assert parsed.frame.height + parsed.quarantine["file_line"].n_unique() == lines


def _records(snapshot: dict) -> dict[str, tuple[dict, list[dict]]]:
    """Statement id → (genkgo record, the entries genkgo lists for it)."""
    records: dict[str, tuple[dict, list[dict]]] = {}
    for record in snapshot["getRecords"]:
        if isinstance(record, dict):
            records[record["getId"]] = (record, [])
    for entry in snapshot["getEntries"]:
        record = entry["getRecord"]
        records.setdefault(record["getId"], (record, []))[1].append(entry)
    return records


def _money(m: dict) -> tuple[int, str]:
    return int(m["getAmount"]), m["getCurrency"]["getCode"]


@pytest.mark.parametrize("path", [p for p in _params() if p.values[0] is None
                                  or p.values[0].with_suffix(".json").exists()])
def test_camt053_matches_genkgo_snapshot(path: Path):
    data = path.read_bytes()
    statements = {s.id: s for s in camt053.read_statements(data, path.name)}
    frame, _ = camt053.to_frame(list(statements.values()), sha256="0" * 64, source="bank",
                                business_date=date(2026, 1, 1), timezone="Europe/Berlin")
    amounts = iter(frame.select("amount_minor", "currency").rows())
    ours = {sid: [next(amounts) for e in s.entries for _ in camt_details.lines(e)]
            for sid, s in statements.items()}
    snapshot = json.loads(path.with_suffix(".json").read_text())
    for sid, (record, entries) in _records(snapshot).items():
        assert sid in statements
        if entries or not snapshot["getEntries"]:
            assert ours[sid] == [_money(e["getAmount"]) for e in entries]
        balances = statements[sid].balances
        for b in record["getBalances"]:
            amount, ccy = _money(b["getAmount"])
            mine = {(to_minor(balances[c]["amount"], balances[c]["ccy"])
                     * (-1 if balances[c]["ind"] == "DBIT" else 1), balances[c]["ccy"])
                    for c in GENKGO_BALANCE[b["getType"]] if c in balances}
            assert (amount, ccy) in mine, b["getType"]
        # genkgo's own numbers must agree with our verdict on the opening + entries = closing check
        kinds = {b["getType"]: _money(b["getAmount"]) for b in reversed(record["getBalances"])}
        if "opening" in kinds and "closing" in kinds and entries:
            (start, c0), (end, c1) = kinds["opening"], kinds["closing"]
            balanced = c0 == c1 and {_money(e["getAmount"])[1] for e in entries} == {c0} and \
                start + sum(_money(e["getAmount"])[0] for e in entries) == end
            assert balanced == (path.name not in UNBALANCED)
