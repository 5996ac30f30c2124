"""The pandera models: failures become quarantine rows (one per row and field), valid rows go on."""
from __future__ import annotations

from datetime import date, datetime

import polars as pl
import pytest

from recon.errors import IntegrityError, ParseError
from schemas.canonical import STATEMENT_COLUMNS, conform
from schemas.validation import ControlCheck, raise_on_failed, validate_statement

SHA = "cd" * 32


def lines(n: int, **overrides) -> pl.DataFrame:
    """n valid canonical payment lines (vectorised, so 1M rows build in well under a second)."""
    i = pl.int_range(0, n, dtype=pl.Int64, eager=True)
    frame = pl.select(
        (pl.lit(f"{SHA[:16]}:") + (i + 2).cast(pl.String)).alias("line_id"),
        pl.lit("wechatpay").alias("source"), pl.lit(SHA).alias("file_sha256"),
        (i + 2).alias("file_line"), pl.lit(date(2026, 11, 21)).alias("business_date"),
        pl.lit(datetime(2026, 11, 21, 1, 0)).dt.replace_time_zone("UTC").alias("booked_at"),
        pl.lit("payment").alias("txn_type"), (100 + i).alias("amount_minor"),
        pl.lit("CNY").alias("currency"), pl.lit(1, dtype=pl.Int64).alias("fee_minor"),
        (99 + i).alias("net_minor"), pl.lit("{}").alias("raw"),
    )
    frame = conform(frame)
    for column, (row, value) in overrides.items():
        frame = frame.with_columns(
            pl.when(pl.int_range(pl.len()) == row).then(pl.lit(value, dtype=STATEMENT_COLUMNS[column]))
            .otherwise(pl.col(column)).alias(column))
    return frame


def test_valid_frame_passes_whole():
    valid, quarantine = validate_statement(lines(5), file_name="f.csv", source="wechatpay")
    assert valid.height == 5 and quarantine.height == 0 and valid.schema == STATEMENT_COLUMNS


def test_each_failing_row_and_field_is_quarantined_once():
    frame = lines(8, amount_minor=(1, None), currency=(2, "XYZ"), txn_type=(3, "bonus"),
                  net_minor=(4, 5), booked_at=(5, None))
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) == 6).then(pl.lit("dup"))
                               .when(pl.int_range(pl.len()) == 7).then(pl.lit("dup"))
                               .otherwise(pl.col("line_id")).alias("line_id"))
    originals = pl.DataFrame({"file_line": [3], "amount_minor": ["1.234"]})
    valid, q = validate_statement(frame, file_name="f.csv", source="wechatpay", originals=originals)
    assert valid["file_line"].to_list() == [2]
    got = {(r["file_line"], r["field"]): (r["value"], r["reason"]) for r in q.to_dicts()}
    assert len(got) == q.height  # at most once per row and field
    assert got[(3, "amount_minor")] == ("1.234", "'1.234' is not an amount with at most 2 decimal places for CNY")
    assert got[(4, "currency")] == ("XYZ", "'XYZ' is not an ISO 4217 currency recon knows")
    assert got[(5, "txn_type")][0] == "bonus"
    assert got[(6, "net_minor")][1] == "net 5 is not amount 104 − fee 1 (minor units)"
    assert got[(7, "booked_at")] == (None, "booked_at is required but the line has no value for it")
    assert got[(8, "line_id")][1] == "line_id 'dup' occurs more than once"
    assert set(q["file_name"]) == {"f.csv"} and set(q["file_sha256"]) == {SHA}


def test_required_fee_and_sign():
    frame = lines(3, fee_minor=(0, None), amount_minor=(1, -5))
    valid, q = validate_statement(frame, file_name="f", source="s", required=("fee_minor",))
    assert valid.height == 1
    assert sorted(q.select("file_line", "field").rows()) == [
        (2, "fee_minor"), (3, "amount_minor"), (3, "net_minor")]
    assert "wrong sign for a payment" in q.filter(pl.col("field") == "amount_minor")["reason"].item()


def test_wrong_shape_is_a_parse_error_not_quarantine():
    with pytest.raises(ParseError, match="canonical shape"):
        validate_statement(lines(2).with_columns(pl.col("amount_minor").cast(pl.Float64)),
                           file_name="f", source="s")


def test_failed_control_total_names_expected_and_found():
    checks = [ControlCheck("a", "1", "1", True), ControlCheck("sum", "10.00", "9.99", False)]
    with pytest.raises(IntegrityError, match="'sum' does not balance: expected 10.00, found 9.99"):
        raise_on_failed(checks, "f.csv")


def test_one_million_rows_keep_every_good_row_and_quarantine_the_two_bad():
    # The speed of validation is measured by `make bench` (pandera's share of the loads), not here.
    frame = lines(1_000_000, amount_minor=(17, None), currency=(999_999, "ZZZ"))
    valid, q = validate_statement(frame, file_name="big", source="wechatpay", required=("fee_minor",))
    assert valid.height == 999_998 and q.height == 2
    assert sorted(q["field"].to_list()) == ["amount_minor", "currency"]
