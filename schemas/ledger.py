"""The internal ledger export (``ledger_YYYYMMDD.csv``) → LEDGER_COLUMNS, validated.

recon's own layout (the default ``[ledger]`` mapping) is read here: ``booked_at`` carries its own
UTC offset (``2026-11-21T09:15:02+08:00``) and is stored in UTC; ``channel`` becomes ``source``
(the configured source name the entry settles through). An export in the company's own layout
is read through its mapping by schemas/ledger_layout.py. Either way each entry gets the txn_type
it is matched with and, for one kept out of matching, its ``hold`` (``stored_type_and_hold``).
"""
from __future__ import annotations

from collections.abc import Iterator

import polars as pl

from recon.errors import ParseError
from recon.money import exponent_of, minor_expr
from schemas import quirks, textparts
from schemas.ledger_layout import DEFAULT, LedgerLayout, canonical, read_rows, stored_type_and_hold
from schemas.validation import conform_ledger, validate_ledger

COLUMNS = [
    "entry_id", "business_date", "booked_at", "channel", "txn_type", "merchant_reference",
    "psp_reference", "original_reference", "amount", "currency", "counterparty", "description",
]


def parse_ledger(data: bytes, *, name: str, sha256: str, layout: LedgerLayout = DEFAULT,
                 ) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(LEDGER_COLUMNS frame of valid entries, quarantine frame)."""
    (whole,) = parse_ledger_parts(data, name=name, sha256=sha256, layout=layout)
    return whole


def parse_ledger_parts(data: bytes, *, name: str, sha256: str, part_bytes: int | None = None,
                       layout: LedgerLayout = DEFAULT) -> Iterator[tuple[pl.DataFrame, pl.DataFrame]]:
    """The export as consecutive (valid, quarantine) parts of about ``part_bytes`` bytes. An
    export that repeats an entry_id is validated whole, so that every repeat is quarantined
    whichever parts they fall in (its ids are read once to know: that look-ahead leaves the line
    and field checks to the read of each part). An export in a custom layout is one part."""
    if layout.custom:
        yield _mapped(data, name=name, sha256=sha256, layout=layout)
        return
    quirks.require_columns(quirks.header_line(data, name), COLUMNS, name)
    ranges = quirks.part_ranges(data, part_bytes)
    unique = False  # known: no entry_id twice in the whole export (pandera need not look again)
    if len(ranges) > 1:
        if _repeats(_all_ids(data, ranges, name)):
            ranges = quirks.part_ranges(data, None)
        else:
            unique = True
    for start, stop, line in ranges:
        rows = textparts.read_part(data, start, stop, line, name)
        yield _part(rows, name=name, sha256=sha256, layout=layout, ids_unique=unique)


def _all_ids(data, ranges: list[tuple[int, int, int]], name: str) -> pl.Series:
    """Every entry_id of the export, as the parts' reads will find them. An export held whole
    with no quote character (the bulk exports) is read in one go, its entry_id column only: a row
    is then a line wherever the parts are cut, so the ids are the parts' ids. Anything else (an
    archive FileView, quoting, a read that fails) part by part, which says what it always said."""
    if isinstance(data, bytes) and b'"' not in data:
        try:
            return quirks.read_text_csv(data, name, columns=["entry_id"], checked=False)["entry_id"]
        except ParseError:
            pass
    return pl.concat([textparts.read_part(data, start, stop, line, name, columns=["entry_id"],
                                          checked=False)["entry_id"] for start, stop, line in ranges])


def _repeats(ids: pl.Series) -> bool:
    """Whether an id occurs twice: the ids' 64-bit hashes first (equal ids hash alike, so all
    hashes distinct is no repeated id, at a sixth of the cost of comparing the strings), the
    strings themselves only when two hashes are equal."""
    return ids.hash().n_unique() < ids.len() and bool(ids.is_duplicated().any())


def _mapped(data, *, name: str, sha256: str, layout: LedgerLayout) -> tuple[pl.DataFrame, pl.DataFrame]:
    frame, originals, refused = canonical(read_rows(data, name, layout), layout, name, sha256)
    required = ("booked_at",) if "booked_at" in layout.columns else ()
    valid, quarantine = validate_ledger(conform_ledger(frame), file_name=name, sha256=sha256,
                                        originals=originals, required=required)
    field, value = pl.col("field"), pl.lit("'") + pl.col("value").fill_null("") + pl.lit("'")
    quarantine = quarantine.with_columns(  # the mapping's own patterns, not recon's layout's
        pl.when((field == "business_date") & ("business_date" in layout.columns)).then(value + pl.lit(f" is not a date in date_format {layout.date_format!r}"))
        .when(field == "booked_at").then(value + pl.lit(f" is not a date-time in datetime_format "
                                                        f"{layout.datetime_format!r}"))
        .otherwise(pl.col("reason")).alias("reason"))
    return valid, pl.concat([refused, quarantine]).sort("file_line", maintain_order=True) \
        if refused.height else quarantine


def _part(rows: pl.DataFrame, *, name: str, sha256: str, layout: LedgerLayout,
          ids_unique: bool = False) -> tuple[pl.DataFrame, pl.DataFrame]:
    currency = _currency(rows)
    stored, hold = stored_type_and_hold(layout, pl.col("txn_type"), pl.col("channel"),
                                        pl.lit(None, pl.String))
    frame = conform_ledger(rows.select(
        "entry_id",
        pl.col("channel").alias("source"),
        pl.col("business_date").str.strip_chars().str.to_date("%Y-%m-%d", strict=False)
          .alias("business_date"),
        _offset_to_utc(pl.col("booked_at"), zulu=_has_z(rows["booked_at"])).alias("booked_at"),
        stored.alias("txn_type"),
        minor_expr(pl.col("amount"), exponent_of(rows, currency)).alias("amount_minor"),
        currency.alias("currency"),
        "merchant_reference", "psp_reference", "original_reference", "counterparty", "description",
        *(["receiver"] if "receiver" in rows.columns else []),  # optional: allocations (分账)
        hold.alias("hold"), "file_line",
    ))
    originals = rows.select("file_line", pl.col("amount").alias("amount_minor"),
                            pl.col("booked_at"), pl.col("business_date"), pl.col("currency"),
                            pl.col("txn_type"), pl.col("channel").alias("source"))
    return validate_ledger(frame, file_name=name, sha256=sha256, originals=originals, required=("booked_at",),
                           ids_unique=ids_unique)


def _currency(rows: pl.DataFrame) -> pl.Expr:
    """The currency trimmed and upper-cased; the column as it is when each of its few distinct
    values already is (judged on those values, not on every row)."""
    cleaned, text = pl.col("currency").str.strip_chars().str.to_uppercase(), pl.col("currency")
    if rows.select(text.unique()).select((cleaned == text).all()).item():  # .all() skips a null
        return text
    return cleaned


def _has_z(text: pl.Series) -> bool:
    return bool(text.str.contains("Z", literal=True).any())


def _offset_to_utc(text: pl.Expr, zulu: bool = True) -> pl.Expr:
    """ISO 8601 with an offset (``+08:00`` or ``Z``) → UTC; null when the offset is missing.
    ``zulu=False``: no value has a ``Z`` (the regular expression that rewrites it is left out)."""
    text = text.str.strip_chars()
    if zulu:
        text = text.str.replace(r"Z$", "+00:00")
    return (text.str.to_datetime("%Y-%m-%dT%H:%M:%S%:z", strict=False, time_unit="us")
            .dt.convert_time_zone("UTC"))
