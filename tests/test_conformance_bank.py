"""Bank formats against the public conformance corpus: camt.052/053/054, MT940/942, BAI2, bank CSV.

Every file is parsed by the format of its folder. A file broken on purpose (its name says
wrong/invalid/unsupported/parseError/invalid_checksum, or provenance says "negative test"), and
every public fixture that is itself inconsistent, must be rejected with the error listed below:
the check is never loosened to let a file through. Where the source project's expected result
sits beside a file (mt940 ``.yml`` from the mt940 package, camt ``.json`` from genkgo/camt), the
amounts, dates, references and balances must agree with it.
"""
from __future__ import annotations

import hashlib
import json
import os
from datetime import date
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pytest
import yaml

from recon import pan
from recon.errors import IntegrityError, ParseError
from recon.money import to_minor
from schemas import bai2, bankcsv, camt052, camt053, camt054, mt940, mt942, registry
from tests.conformance_csv_bank import CSV_MAPPINGS, CSV_REJECTED
from tests.conformance_table import record
from tests.test_conformance_camt import UNBALANCED as CAMT053_UNBALANCED

CORPUS = Path(os.environ.get("RECON_CONFORMANCE_DIR",
                             Path(__file__).resolve().parents[2] / "shared/conformance"))
FOLDERS = {"camt052": camt052, "camt053": camt053, "camt054": camt054, "mt940": mt940,
           "mt942": mt942, "bai2": bai2, "csv-bank": bankcsv}
BERLIN = ZoneInfo("Europe/Berlin")
EXPECTED_SUFFIXES = (".yml", ".json", ".expected", ".expected.txt")
BROKEN_MARKS = ("wrong", "invalid", "unsupported", "parseError", "invalid_checksum")
_FRAGMENT = "a unit-test snippet of single tags, not a statement (no :20: … :62F:)"

# file → (error, text the error must contain, why: checked by hand against the file)
REJECTED: dict[str, tuple[type, str, str]] = {
    **{f: (IntegrityError, check, why) for f, (check, why) in CAMT053_UNBALANCED.items()},
    "genkgo-camt053.v2.wrong.xml": (ParseError, "at least one Stmt", "malformed on purpose"),
    # camt.054 batch entries whose TxDtls (one line each) do not add up to the entry
    **{f"genkgo-camt054.{v}.xml": (IntegrityError, "Amt = Σ TxDtls amounts",
                                   "a 200000 SEK debit entry over TxDtls credits of 3.1 + 3.2 + "
                                   "3.2 CHF (made up by hand)") for v in ("v4", "v8")},
    "viafintech-general-invalid_namespace.xml": (ParseError, "at least one Stmt",
                                                 "camt.053 namespace, camt.052 body"),
    "viafintech-053-valid_namespace.xml": (ParseError, "at least one Stmt",
                                           "namespace test: a Document with no statement"),
    "viafintech-052-valid_namespace.xml": (ParseError, "at least one Rpt",
                                           "namespace test: a Document with no report"),
    # MT940: fixtures trimmed or typed by hand whose balances do not add up
    "wolph-jejik-ing.sta": (IntegrityError, ":62F:", "0.00 − 50.27 + 4.68 = −45.59 ≠ 3.47"),
    "wolph-jejik-knab.sta": (IntegrityError, ":62F:", "3058.98 − 7260 + 500 ≠ 798.98"),
    "wolph-jejik-abnamro.sta": (IntegrityError, ":62F:", "3236.28 − 321.44 ≠ 876.84 (trimmed)"),
    "wolph-jejik-postfinance.sta": (IntegrityError, ":62F:", "229.20 − 79.90 + 10.10 = 159.40 ≠ 159.60"),
    "wolph-jejik-rabobank.sta": (IntegrityError, ":62F:", "473.17 − 1213.28 ≠ 395.82"),
    "wolph-jejik-triodos.sta": (IntegrityError, ":62F:", "4975.09 − 715.70 ≠ 4370.79"),
    "wolph-mbank-with_newline_in_tnr.sta": (IntegrityError, ":62F:", "0.46 + 89.00 ≠ 860.17 (trimmed)"),
    "wolph-betterplace-sepa_snippet.sta": (IntegrityError, ":62F:", "second statement trimmed"),
    "wolph-betterplace-sepa_snippet_broken.sta": (IntegrityError, ":62F:", "broken on purpose"),
    **{f: (IntegrityError, ":62F:", "12345.12 − 233.15 ≠ 12345.98 (hand-made details test)")
       for f in ("wolph-self-provided-details_60-63.sta", "wolph-self-provided-malformed_details.sta",
                 "wolph-self-provided-overly_long_details.sta", "wolph-self-provided-whitespace.sta")},
    "wolph-self-provided-multiline.sta": (ParseError, "after the end of a message",
                                          "a stray :61: after the closing '-'"),
    "wolph-self-provided-raphaelm.sta": (ParseError, ":62M:", ":62M: without a currency"),
    "wolph-self-provided-invalid_statement.sta": (ParseError, ":20:", "not MT940 at all"),
    "wolph-self-provided-gv_codes.sta": (ParseError, "closing", "snippet without :62F:"),
    "wolph-self-provided-account_identification.sta": (ParseError, "closing", _FRAGMENT),
    "wolph-self-provided-empty_non_swift.sta": (ParseError, ":20:", _FRAGMENT),
    "wolph-self-provided-sparkassen.sta": (ParseError, ":20:", _FRAGMENT),
    "wolph-betterplace-empty_line.sta": (ParseError, "closing", _FRAGMENT),
    "wolph-cmxl-reference.sta": (ParseError, "closing", _FRAGMENT),
    **{f"wolph-{f}.sta": (ParseError, ":20:", _FRAGMENT) for f in (
        "betterplace-amount_formats", "betterplace-currency_in_25", "betterplace-empty_86",
        "betterplace-empty_entry_date", "betterplace-missing_crlf_at_end",
        "cmxl-account_balance_credit", "cmxl-account_balance_debit",
        "cmxl-account_identification_iban", "cmxl-account_identification_legacy",
        "cmxl-available_balance", "cmxl-closing_balance", "cmxl-statement_details",
        "cmxl-statement_line", "cmxl-statement_number")},
    "wolph-self-provided-raiffeisen-cmi.sta": (IntegrityError, ":62F:",
                                               "CP852 text reads; 25170637.10 + Σ = 24158423.60 ≠ "
                                               "25281687.60 (trimmed)"),
    # MT942
    "wolph-self-provided-mt942.sta": (IntegrityError, ":90D: sum", "one debit of 0.42, :90D: says 2.30"),
    "svirin-transactions.mt942": (IntegrityError, "sum of entries",
                                  ":34F: says DKK, :90D:/:90C: say EUR (hand-edited report)"),
    # BAI2
    "venturehacks-invalid_checksum_eod.bai2": (IntegrityError, "49 account 3333333333 control total",
                                               "negative test: 8325983 ≠ 8325982"),
    "venturehacks-daily_with_missing_continuation.bai2": (
        IntegrityError, "number of records", "49 counts 7 records, the account has 6"),
    **CSV_REJECTED,
}
OPTIONS = {"wolph-self-provided-raiffeisen-cmi.sta": {"encoding": "cp852"},  # Hungarian Raiffeisen
           **CSV_MAPPINGS}


def _files() -> list:
    if not CORPUS.is_dir():
        return [pytest.param(None, None, marks=pytest.mark.skip(
            reason=f"conformance corpus not found at {CORPUS} (set RECON_CONFORMANCE_DIR)"))]
    out = []
    for folder in FOLDERS:
        for path in sorted((CORPUS / folder).glob("*")):
            if path.is_file() and not path.name.endswith(EXPECTED_SUFFIXES):
                out.append(pytest.param(folder, path, id=f"{folder}/{path.name}"))
    return out


def _negative() -> set[str]:
    lines = (CORPUS / "provenance.tsv").read_text(encoding="utf-8").splitlines()
    return {ln.split("\t")[0].rpartition("/")[2] for ln in lines if "negative test" in ln}


def _parse(folder: str, path: Path):
    data = path.read_bytes()
    module = FOLDERS[folder]
    options = OPTIONS.get(path.name)
    extra = {"options": options} if options else {}
    return module.parse(data, name=path.name, source="bank", sha256=hashlib.sha256(data).hexdigest(),
                        business_date=date(2026, 1, 1), timezone="Europe/Berlin", **extra)


@pytest.mark.parametrize(("folder", "path"), _files())
def test_bank_file(folder: str, path: Path):
    fmt = FOLDERS[folder].NAME
    broken = any(m in path.name for m in BROKEN_MARKS) or path.name in _negative()
    try:
        if path.name in REJECTED or broken:
            error, text, why = REJECTED.get(path.name, ((ParseError, IntegrityError), "", "broken"))
            with pytest.raises(error) as err:
                _parse(folder, path)
            assert text in str(err.value), why
            assert path.name in str(err.value)
            record(fmt, path.name, "rejected")
            return
        data = path.read_bytes()
        if fmt != "bankcsv":
            assert registry.identify(data, path.name) == fmt
        parsed = _parse(folder, path)
        assert all(c.ok for c in parsed.checks)
        assert parsed.frame.height + parsed.quarantine["file_line"].n_unique() == parsed.line_count
        assert parsed.frame.schema["amount_minor"] == pl.Int64
        _compare_expected(folder, path, parsed)
        # No real statement here has a card number in its text: masking leaves every line as
        # sent (IBANs such as CH2801234000123456789 once lost their middle digits to it).
        assert pan.mask_frame_fast(parsed.frame, pan.STATEMENT_TEXT).equals(parsed.frame)
    except BaseException:
        record(fmt, path.name, "failed")
        raise
    record(fmt, path.name, "parsed")


# --- expected results beside the files -----------------------------------------------------------

def _compare_expected(folder: str, path: Path, parsed) -> None:
    yml, snapshot = path.with_suffix(".yml"), path.with_suffix(".json")
    if folder in ("mt940", "mt942") and yml.exists():
        _compare_mt940(yml, parsed)
    elif folder in ("camt052", "camt054") and snapshot.exists():
        _compare_genkgo(snapshot, parsed)


class _Loader(yaml.SafeLoader):
    """Reads the mt940 package's pickled-object YAML as plain data (no code is run)."""


def _python_object(loader, suffix, node):
    if isinstance(node, yaml.MappingNode):
        data: dict = {}
        yield data
        data.update(loader.construct_mapping(node, deep=True))
        return
    if isinstance(node, yaml.SequenceNode):
        seq = loader.construct_sequence(node, deep=True)
        if suffix.endswith("decimal.Decimal"):
            yield Decimal(seq[0])
        elif suffix.endswith(("models.Date", "models.DateTime")) and isinstance(seq[0], bytes):
            b = seq[0]
            yield date(b[0] * 256 + b[1], b[2], b[3])
        else:
            yield seq
        return
    yield loader.construct_scalar(node)


_Loader.add_multi_constructor("tag:yaml.org,2002:python/", _python_object)


def _compare_mt940(yml: Path, parsed) -> None:
    expected = yaml.load(yml.read_text(encoding="utf-8"), Loader=_Loader)  # noqa: S506 (safe loader)
    txns = [t["data"] for t in expected.get("transactions") or []]
    assert len(txns) == parsed.line_count
    rows = {r["file_line"]: r for r in parsed.frame.iter_rows(named=True)}
    quarantined = set(parsed.quarantine["file_line"].to_list())
    ours = [rows.get(line) for line in sorted(rows.keys() | quarantined)]
    for mine, theirs in zip(ours, txns, strict=True):
        if mine is None:
            continue  # quarantined (unknown currency, impossible date): its reason is the result
        amount = theirs["amount"]
        want = to_minor(amount["amount"], amount["currency"])
        if json.loads(mine["raw"])["mark"].startswith("R"):
            # the mt940 package signs a reversal of credit (RC) as a credit; SWIFT says it is a
            # debit, and the statement's own :60F: + Σ = :62F: (checked above) agrees
            want = -want
        assert mine["amount_minor"] == want
        assert mine["currency"] == amount["currency"]
        assert mine["value_date"] == theirs["date"]
        if theirs.get("bank_reference"):
            assert mine["bank_reference"] == theirs["bank_reference"].strip()
        if theirs.get("entry_date"):
            assert mine["booked_at"].astimezone(BERLIN).date() == theirs["entry_date"]


def _compare_genkgo(snapshot: Path, parsed) -> None:
    data = json.loads(snapshot.read_text(encoding="utf-8"))
    entries = data.get("getEntries") or []
    ours = parsed.frame.select("amount_minor", "currency").rows()
    theirs = [(int(e["getAmount"]["getAmount"]), e["getAmount"]["getCurrency"]["getCode"])
              for e in entries]
    if len(ours) == len(theirs):
        assert ours == theirs
    else:  # a line quarantined here: the rest must still be in genkgo's list
        assert set(ours) <= set(theirs)
