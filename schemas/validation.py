"""Pandera models of the canonical frames, and failures turned into quarantine rows.

A row that fails a check is never dropped silently: it leaves the frame and becomes one quarantine
row per failing field, naming the file, the physical line, the field, the original text and the
reason. Frames are validated collected (``lazy=True`` collects every failure): on a LazyFrame
pandera would check the schema only. Money is never coerced (``coerce = False``): the parsers
convert text to minor units exactly and a null amount here means the text was not exact.

The data checks are pandera's built-in checks and two dataframe checks written as polars
expressions, so validating a million rows stays vectorised (see the timing in the tests).
"""
from __future__ import annotations

import copy
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import pandera.polars as pa
import polars as pl
from pandera.engines.polars_engine import DateTime
from pandera.errors import SchemaErrors

from recon.errors import IntegrityError, ParseError
from recon.money import EXPONENTS, HISTORIC, NO_MINOR_UNIT, unknown_currency
from schemas.canonical import LEDGER_COLUMNS, STATEMENT_COLUMNS, TXN_TYPES, conform

log = logging.getLogger(__name__)

QUARANTINE_COLUMNS: dict[str, pl.DataType] = {
    "file_sha256": pl.String,
    "file_name": pl.String,
    "source": pl.String,
    "file_line": pl.Int64,
    "field": pl.String,
    "value": pl.String,  # the original text from the file, not the converted value
    "reason": pl.String,
}
# The canonical statement columns of a format parsed without its raw copy (a line whose audit copy
# is its span in the archived file: recon.lineage).
WITHOUT_RAW = {c: t for c, t in STATEMENT_COLUMNS.items() if c != "raw"}
MONEY_FIELDS = ("amount_minor", "fee_minor", "net_minor", "orig_amount_minor")
_UTC = {"time_unit": "us", "time_zone": "UTC"}
_CURRENCIES = sorted(EXPONENTS)


@dataclass(frozen=True)
class ControlCheck:
    """One of the file's own control totals: what the file says vs what its lines add up to."""

    name: str
    expected: str
    found: str
    ok: bool


@dataclass(frozen=True)
class ParsedFile:
    frame: pl.DataFrame  # valid rows, STATEMENT_COLUMNS exactly (without raw when parsed raw=False)
    quarantine: pl.DataFrame  # QUARANTINE_COLUMNS
    checks: tuple[ControlCheck, ...]
    line_count: int  # statement lines read from the file (valid + quarantined)


def _sign_ok() -> pl.Expr:
    """Payments bring money in, refunds take it out (formats.md); other types may have either sign."""
    t, a = pl.col("txn_type"), pl.col("amount_minor")
    return (a.is_null() | ~((t == "payment") & (a <= 0)) & ~((t == "refund") & (a >= 0))).alias("ok")


class _Canonical(pa.DataFrameModel):
    """What every canonical frame is held to: exactly its columns, in order, types as parsed (no
    coercion), and amounts signed as their type says."""

    class Config:
        strict = True
        coerce = False
        ordered = True

    @pa.dataframe_check
    def amount_sign_matches_type(cls, data: pa.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(_sign_ok())


class StatementModel(_Canonical):
    line_id: str = pa.Field(unique=True)
    source: str
    file_sha256: str
    file_line: pl.Int64 = pa.Field(ge=1)
    business_date: pl.Date
    booked_at: DateTime = pa.Field(dtype_kwargs=_UTC)
    value_date: pl.Date = pa.Field(nullable=True)
    txn_type: str = pa.Field(isin=TXN_TYPES)
    amount_minor: pl.Int64
    currency: str = pa.Field(isin=_CURRENCIES)
    fee_minor: pl.Int64 = pa.Field(nullable=True)
    net_minor: pl.Int64 = pa.Field(nullable=True)
    fee_exact: str = pa.Field(nullable=True)
    orig_amount_minor: pl.Int64 = pa.Field(nullable=True)
    orig_currency: str = pa.Field(nullable=True, isin=_CURRENCIES)
    fx_rate: str = pa.Field(nullable=True)
    psp_reference: str = pa.Field(nullable=True)
    merchant_reference: str = pa.Field(nullable=True)
    original_reference: str = pa.Field(nullable=True)
    payout_id: str = pa.Field(nullable=True)
    end_to_end_id: str = pa.Field(nullable=True)
    bank_reference: str = pa.Field(nullable=True)
    payment_method: str = pa.Field(nullable=True)
    counterparty: str = pa.Field(nullable=True)
    description: str = pa.Field(nullable=True)
    status: str = pa.Field(nullable=True)
    merchant_id: str = pa.Field(nullable=True)
    sub_merchant_id: str = pa.Field(nullable=True)
    card_type: str = pa.Field(nullable=True)
    raw: str

    @pa.dataframe_check
    def net_is_amount_minus_fee(cls, data: pa.PolarsData) -> pl.LazyFrame:
        fee, net, amount = pl.col("fee_minor"), pl.col("net_minor"), pl.col("amount_minor")
        return data.lazyframe.select(
            (fee.is_null() | amount.is_null() | (net == amount - fee).fill_null(False)).alias("ok"))


class LedgerModel(_Canonical):
    entry_id: str = pa.Field(unique=True)
    source: str
    business_date: pl.Date
    booked_at: DateTime = pa.Field(dtype_kwargs=_UTC, nullable=True)  # required where mapped
    txn_type: str = pa.Field(isin=TXN_TYPES)
    amount_minor: pl.Int64
    currency: str = pa.Field(isin=_CURRENCIES)
    merchant_reference: str = pa.Field(nullable=True)
    psp_reference: str = pa.Field(nullable=True)
    original_reference: str = pa.Field(nullable=True)
    counterparty: str = pa.Field(nullable=True)
    description: str = pa.Field(nullable=True)
    receiver: str = pa.Field(nullable=True)
    status: str = pa.Field(nullable=True)
    hold: str = pa.Field(nullable=True)
    file_line: pl.Int64 = pa.Field(ge=1)


# A dataframe-level check is reported against the field it is about.
_CHECK_FIELD = {"net_is_amount_minus_fee": "net_minor", "amount_sign_matches_type": "amount_minor",
                "fee_is_stated": "fee_minor"}


def _fee_stated(data: pa.PolarsData) -> pl.LazyFrame:
    """A required fee is stated in minor units or, finer than them, exactly as text (fee_exact)."""
    return data.lazyframe.select((pl.col("fee_minor").is_not_null() | pl.col("fee_exact").is_not_null())
                                 .alias("ok"))


@lru_cache(maxsize=None)
def _ledger_schema(required: tuple[str, ...], unique: bool = True) -> pa.DataFrameSchema:
    schema = LedgerModel.to_schema()
    schema = schema.update_columns({c: {"nullable": False} for c in required}) if required else schema
    return schema if unique else schema.update_columns({"entry_id": {"unique": False}})


@lru_cache(maxsize=None)
def _statement_schema(required: tuple[str, ...], raw: bool = True, unique: bool = True) -> pa.DataFrameSchema:
    schema = StatementModel.to_schema() if raw else StatementModel.to_schema().remove_columns(["raw"])
    columns = [c for c in required if c != "fee_minor"]
    if columns:
        schema = schema.update_columns({c: {"nullable": False} for c in columns})
    if not unique:
        schema = schema.update_columns({"line_id": {"unique": False}})
    if "fee_minor" in required:
        schema = copy.deepcopy(schema)
        schema.checks = [*schema.checks, pa.Check(_fee_stated, name="fee_is_stated")]
    return schema


def validate_statement(frame: pl.DataFrame, *, file_name: str, source: str,
                       required: Iterable[str] = (), originals: pl.DataFrame | None = None,
                       raw: bool = True) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows, quarantine rows) of a canonical statement frame.

    ``required`` names nullable columns a format always fills (WeChat and Stripe always carry a
    fee). ``originals`` holds ``file_line`` and, per canonical field, the text it came from; without
    it the value shown is the converted one. ``raw=False``: the frame has no ``raw`` column.
    """
    schema = _statement_schema(tuple(sorted(required)), raw, _may_repeat(frame, "line_id"))
    return _validate(frame, schema, file_name=file_name, source=source, sha256=None,
                     originals=originals)


def validate_ledger(frame: pl.DataFrame, *, file_name: str, sha256: str | None = None,
                    originals: pl.DataFrame | None = None, required: Iterable[str] = ("booked_at",),
                    ids_unique: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    """``required``: booked_at, unless the export's mapping has no booking time. ``ids_unique``:
    the caller has found no entry_id twice in the whole export (schemas.ledger's look-ahead)."""
    unique = not ids_unique and _may_repeat(frame, "entry_id")
    return _validate(frame, _ledger_schema(tuple(sorted(required)), unique), file_name=file_name,
                     source="ledger", sha256=sha256, originals=originals)


def _may_repeat(frame: pl.DataFrame, column: str) -> bool:
    """Whether ``column`` may hold a value twice, i.e. whether pandera's unique check can fail:
    equal values hash alike, so all 64-bit hashes distinct means all values distinct (found at a
    sixth of the cost of pandera's comparison of the strings). Equal hashes, nulls, a missing
    column: the check runs and pandera reports what it finds."""
    return column not in frame.columns or frame[column].hash().n_unique() < frame.height


def _validate(frame, schema, *, file_name, source, sha256, originals):
    try:
        schema.validate(frame, lazy=True)
    except SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return frame, empty_quarantine()
    structural = cases.filter(pl.col("index").is_null())
    if structural.height:
        what = "; ".join(f"{r['column']}: {r['check']}" for r in structural.head(5).iter_rows(named=True))
        raise ParseError(file_name, None, f"the parsed frame does not have the canonical shape ({what})")
    cases = (cases.with_columns(
                 pl.col("index").cast(pl.UInt32),
                 pl.when(pl.col("schema_context") == "DataFrameSchema")
                   .then(pl.col("check").replace_strict(_CHECK_FIELD, default=pl.col("check")))
                   .otherwise(pl.col("column")).alias("field"))
             .unique(["index", "field"], keep="first", maintain_order=True))
    bad = frame.with_row_index("index").join(cases.select("index", "field", "check", "failure_case"),
                                              on="index", how="inner")
    quarantine = _quarantine_rows(bad, file_name=file_name, source=source, sha256=sha256,
                                  originals=originals)
    valid = frame.with_row_index("index").join(cases.select("index").unique(), on="index",
                                               how="anti").drop("index")
    log.info("%s: %d rows valid, %d rows quarantined (%d failures)", file_name, valid.height,
             cases["index"].n_unique(), quarantine.height)
    return valid, quarantine


def _quarantine_rows(bad: pl.DataFrame, *, file_name, source, sha256, originals) -> pl.DataFrame:
    """One row per failing (line, field); per-row Python only over the failures."""
    texts: dict[tuple[int, str], str | None] = {}
    if originals is not None:
        lines = bad.select("file_line").unique()
        for row in originals.join(lines, on="file_line", how="semi").iter_rows(named=True):
            for field, text in row.items():
                if field != "file_line":
                    texts[(row["file_line"], field)] = text
    out = []
    for row in bad.iter_rows(named=True):
        field, line = row["field"], row["file_line"]
        if (line, field) in texts:
            value = texts[(line, field)]
        else:
            value = None if row.get(field) is None else str(row.get(field))
        out.append({
            "file_sha256": row.get("file_sha256", sha256),
            "file_name": file_name,
            "source": source,
            "file_line": line,
            "field": field,
            "value": value,
            "reason": _reason(field, row["check"], value, row),
        })
    return pl.DataFrame(out, schema=QUARANTINE_COLUMNS) if out else empty_quarantine()


def _reason(field: str, check: str, value: str | None, row: dict) -> str:
    if check == "net_is_amount_minus_fee":
        return (f"net {row['net_minor']} is not amount {row['amount_minor']} − fee {row['fee_minor']} "
                f"(minor units)")
    if check == "amount_sign_matches_type":
        return f"amount {row['amount_minor']} has the wrong sign for a {row['txn_type']}"
    if check == "fee_is_stated":
        check = "not_nullable"
    if check == "field_uniqueness":
        return f"{field} {value!r} occurs more than once"
    if check.startswith("isin") and field in ("currency", "orig_currency"):
        if (value or "").strip().upper() in HISTORIC or (value or "").strip().upper() in NO_MINOR_UNIT:
            return unknown_currency(value)
        return f"{value!r} is not an ISO 4217 currency recon knows"
    if check.startswith("isin") and field == "txn_type":
        return f"{value!r} is not a transaction type recon knows ({', '.join(TXN_TYPES)})"
    if check == "not_nullable":
        if value in (None, ""):
            return f"{field} is required but the line has no value for it"
        if field in MONEY_FIELDS:
            currency = row.get("orig_currency" if field == "orig_amount_minor" else "currency")
            if currency in EXPONENTS:
                return (f"{value!r} is not an amount with at most {EXPONENTS[currency]} decimal "
                        f"places for {currency}")
            return f"{value!r} cannot be read as an amount: {unknown_currency(currency)}"
        if field == "booked_at":
            return f"{value!r} is not a date-time in the form this format uses"
        if field in ("business_date", "value_date"):
            return f"{value!r} is not a date (YYYY-MM-DD)"
        if field == "txn_type":
            return f"{value!r} is not a transaction type recon knows ({', '.join(TXN_TYPES)})"
        return f"{value!r} cannot be read as {field}"
    return f"{value!r} fails the check {check} on {field}"


def empty_quarantine() -> pl.DataFrame:
    return pl.DataFrame(schema=QUARANTINE_COLUMNS)


def raise_on_failed(checks: Iterable[ControlCheck], file_name: str) -> tuple[ControlCheck, ...]:
    """The file's control totals must all balance; otherwise it is rejected whole."""
    checks = tuple(checks)
    failed = [c for c in checks if not c.ok]
    if failed:
        first = failed[0]
        others = "" if len(failed) == 1 else f" (and {len(failed) - 1} more: " \
                                              f"{', '.join(c.name for c in failed[1:])})"
        err = IntegrityError(file_name, first.name + others, first.expected, first.found)
        err.checks = checks
        raise err
    return checks


def finish(frame: pl.DataFrame, checks: Iterable[ControlCheck], *, file_name: str, source: str,
           required: Iterable[str] = (), originals: pl.DataFrame | None = None,
           raw: bool = True) -> ParsedFile:
    """Control totals first (reject the file), then row validation (quarantine the rows).
    ``raw=False``: the parser left the ``raw`` copy out (STATEMENT_COLUMNS but raw)."""
    checks = raise_on_failed(checks, file_name)
    frame = conform(frame, STATEMENT_COLUMNS if raw else WITHOUT_RAW)
    valid, quarantine = validate_statement(frame, file_name=file_name, source=source,
                                           required=required, originals=originals, raw=raw)
    return ParsedFile(frame=valid, quarantine=quarantine, checks=checks, line_count=frame.height)


def conform_ledger(frame: pl.DataFrame) -> pl.DataFrame:
    return conform(frame, LEDGER_COLUMNS)
