"""Text of the generated files, built with polars expressions from integers (never floats)."""
from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import polars as pl

from recon.generate.spec import TIMEZONE


def money(col: pl.Expr, exponent: int = 2) -> pl.Expr:
    """Int64 minor units → decimal text in major units (``-12.05``), exact for negatives too."""
    unit = 10**exponent
    a = col.abs()
    return pl.concat_str([
        pl.when(col < 0).then(pl.lit("-")).otherwise(pl.lit("")),
        (a // unit).cast(pl.String), pl.lit("."), (a % unit).cast(pl.String).str.zfill(exponent),
    ])


def money_text(minor: int, exponent: int = 2) -> str:
    unit = 10**exponent
    sign = "-" if minor < 0 else ""
    return f"{sign}{abs(minor) // unit}.{abs(minor) % unit:0{exponent}d}"


def local_time(day: date, seconds: pl.Expr) -> pl.Expr:
    """Seconds after local midnight of ``day`` → an Asia/Shanghai timestamp."""
    midnight = datetime(day.year, day.month, day.day)
    return (pl.lit(midnight) + pl.duration(seconds=seconds)).dt.replace_time_zone(TIMEZONE)


def stamps(day: date, seconds: int) -> tuple[str, str]:
    """(UTC, local) ``YYYY-MM-DD HH:MM:SS`` of one instant given as seconds after local midnight."""
    local = datetime(day.year, day.month, day.day, tzinfo=ZoneInfo(TIMEZONE)) + timedelta(seconds=seconds)
    f = "%Y-%m-%d %H:%M:%S"
    return local.astimezone(timezone.utc).strftime(f), local.strftime(f)


def stamp(ts: pl.Expr, fmt: str = "%Y-%m-%d %H:%M:%S") -> pl.Expr:
    return ts.dt.strftime(fmt)


def utc_stamp(ts: pl.Expr) -> pl.Expr:
    return ts.dt.convert_time_zone("UTC").dt.strftime("%Y-%m-%d %H:%M:%S")


def padded(col: pl.Expr, width: int) -> pl.Expr:
    return col.cast(pl.String).str.zfill(width)


def day_text(ordinal: pl.Expr, days: set[int]) -> pl.Expr:
    """A date ordinal column → ``YYYYMMDD`` text (the few distinct days are mapped, not parsed)."""
    mapping = {o: date.fromordinal(o).strftime("%Y%m%d") for o in sorted(days)}
    return ordinal.replace_strict(mapping, return_dtype=pl.String)


def pick(index: pl.Expr, values: tuple[str, ...]) -> pl.Expr:
    return index.replace_strict(dict(enumerate(values)), return_dtype=pl.String)


def empty_as_null(frame: pl.DataFrame) -> pl.DataFrame:
    """Empty text → null, so that ``write_csv(null_value="")`` writes an empty field, not ``""``."""
    return frame.with_columns(pl.when(pl.col(pl.String) != "").then(pl.col(pl.String)).name.keep())
