"""Exact money: integer minor units, ISO 4217 exponents and the one rounding rule.

Every amount in recon travels as a signed integer count of the currency's minor unit
(cents, fen, yen, fils). Text becomes minor units here and only here, and a Decimal result
becomes minor units through :func:`round_minor` and only that function, so there is exactly
one rounding rule: half-up, ties away from zero (Python's ``ROUND_HALF_UP``), which is what
DuckDB's ``round()`` does too, so SQL and Python agree to the unit.
"""
from __future__ import annotations

import csv
import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from importlib.resources import files

import polars as pl

# ISO 4217 minor-unit exponents of every current code (list one), and the withdrawn codes (list
# three) so that they are refused by name; both from recon/iso4217.csv, the maintenance agency's
# published lists. A code without a minor unit (funds, metals, XXX) or unknown is refused, never
# guessed: a wrong exponent would put an amount off by a factor of 10 or 100.
def _load_iso4217() -> tuple[dict[str, int], dict[str, str], dict[str, str], str]:
    text = (files("recon") / "iso4217.csv").read_text(encoding="utf-8")
    published = re.search(r'Pblshd="([^"]+)"', text)
    exponents, historic, no_minor = {}, {}, {}
    for row in csv.DictReader(line for line in text.splitlines() if not line.startswith("#")):
        if row["status"] == "historic":
            historic[row["code"]] = row["withdrawn"]
        elif row["minor_units"].isdigit():
            exponents[row["code"]] = int(row["minor_units"])
        else:
            no_minor[row["code"]] = row["name"]
    return exponents, historic, no_minor, published.group(1) if published else "(undated)"


EXPONENTS, HISTORIC, NO_MINOR_UNIT, PUBLISHED = _load_iso4217()
MAX_EXPONENT = 6  # text with more significant fraction digits than this is refused outright
_MAX_INT_DIGITS = 15  # keeps |minor| well inside Int64 for every exponent above


class MoneyError(ValueError):
    """A value that cannot be an exact amount in its currency."""


def exponent(currency: str) -> int:
    try:
        return EXPONENTS[currency.upper()]
    except KeyError:
        raise MoneyError(unknown_currency(currency)) from None


def unknown_currency(currency: str | None) -> str:
    """Why ``currency`` has no exponent: historic, without a minor unit, or not ISO 4217 at all."""
    code = (currency or "").strip().upper()
    if code in HISTORIC:
        return f"historic currency code {code} (withdrawn {HISTORIC[code]}): ISO 4217 lists it " \
               f"as no longer in use; ask the sender which current currency the amounts are in"
    if code in NO_MINOR_UNIT:
        return f"{code} ({NO_MINOR_UNIT[code]}) has no minor unit in ISO 4217: recon keeps no " \
               f"amounts in it"
    return f"unknown currency {currency!r}: expected an ISO 4217 code (list one published " \
           f"{PUBLISHED})"


def to_minor(text: str | Decimal | int, currency: str) -> int:
    """Exact conversion of a decimal amount to minor units; refuses anything inexact.

    >>> to_minor("12.30", "CNY"), to_minor("-5", "JPY"), to_minor("1.250", "KWD")
    (1230, -5, 1250)
    """
    e = exponent(currency)
    if isinstance(text, int):
        return text * 10**e
    try:
        d = Decimal(text.strip().replace(",", "")) if isinstance(text, str) else text
    except InvalidOperation:
        raise MoneyError(f"{text!r} is not a decimal amount") from None
    if not d.is_finite():
        raise MoneyError(f"{text!r} is not a finite amount")
    scaled = d.scaleb(e)
    if scaled != scaled.to_integral_value():
        raise MoneyError(f"{text!r} has more than {e} decimal places for {currency}")
    return int(scaled)


def to_decimal(minor: int, currency: str) -> Decimal:
    """Minor units back to a Decimal with exactly the currency's places (12.30, not 12.3)."""
    e = exponent(currency)
    return Decimal(minor).scaleb(-e).quantize(Decimal(1).scaleb(-e))


def format_amount(minor: int, currency: str) -> str:
    return f"{to_decimal(minor, currency)}"


def round_minor(value: Decimal) -> int:
    """The single rounding rule: a Decimal count of minor units, half-up (ties away from zero)."""
    return int(value.quantize(Decimal(1), rounding=ROUND_HALF_UP))


def percent_of(minor: int, rate: Decimal) -> int:
    """``minor × rate`` rounded by the rule (rate as a fraction: 0.006 for 0.6 %)."""
    return round_minor(Decimal(minor) * rate)


# --- vectorised parsing for polars frames -------------------------------------------------------

# Up to 6 significant fraction digits and any trailing zeros (WeChat writes 手续费 as 0.75000).
_AMOUNT_RE = r"^\s*[+-]?[0-9]{1,15}(?:\.[0-9]{0,6}0*)?\s*$"  # ASCII digits: \d also matches "１"


def exponent_expr(currency: pl.Expr) -> pl.Expr:
    """Per-row exponent for a currency column (null for an unknown currency)."""
    return currency.str.to_uppercase().replace_strict(EXPONENTS, default=None, return_dtype=pl.Int64)


def exponent_of(rows: pl.DataFrame, currency: pl.Expr) -> pl.Expr | int:
    """``exponent_expr(currency)`` for ``rows``, or the one exponent all their currencies share.

    A settlement file is nearly always in one currency; ``minor_expr`` then divides by a literal
    instead of a per-row unit (half the time a column at 525,000 rows). Decided on the currency
    column's distinct values, so the result is the same as the per-row exponent, row for row; an
    unknown or missing currency (null exponent) keeps the per-row expression."""
    names = currency.meta.root_names()
    if len(names) != 1 or names[0] not in rows.columns:
        return exponent_expr(currency)
    found = rows.select(pl.col(names[0]).unique()).select(exponent_expr(currency)).to_series()
    if found.len() and not found.null_count() and found.n_unique() == 1:
        return int(found[0])
    return exponent_expr(currency)


def minor_expr(text: pl.Expr, exp: pl.Expr | int) -> pl.Expr:
    """Exact text → Int64 minor units, vectorised; null where the text is not an exact amount.

    Accepts an optional sign, up to 15 integer digits and up to 6 significant fraction digits,
    trailing zeros beyond them allowed (thousands separators must be removed by the format's
    parser first). A value with more significant
    fraction digits than the currency allows becomes null, and the caller quarantines the row
    with the original text; nothing is truncated and no float is involved.

    The pattern decides what is an amount; the text then becomes exact millionths through
    polars' Decimal parser (exact here: the pattern allows at most 6 significant fraction digits;
    the zeros after them are dropped) in Int128, so even 15 integer digits at exponent 6 cannot
    wrap; a result outside Int64 is null.
    """
    if isinstance(exp, int) and 0 <= exp <= MAX_EXPONENT:
        # One exponent for the column: the pattern itself allows only ``exp`` significant fraction
        # digits (what ``units_to_minor`` would find divisible), so the text is read straight into
        # Decimal(38, exp), exact, and its integer is the minor units: no Int128 division per row.
        text = pl.when(text.str.contains(_amount_re(exp))).then(text)
        return text.str.strip_chars().cast(pl.Decimal(38, exp), strict=False).to_physical() \
            .cast(pl.Int64, strict=False)
    return units_to_minor(exact_units(text), exp)


def _amount_re(exp: int) -> str:
    """``_AMOUNT_RE`` with at most ``exp`` significant fraction digits."""
    return _AMOUNT_RE.replace("{0,6}", f"{{0,{exp}}}")


def exact_units(text: pl.Expr) -> pl.Expr:
    """Exact text → Int128 millionths, null where the text is not an exact amount (``minor_expr``'s
    first step): a parser that needs one column at several exponents reads its text once."""
    text = pl.when(text.str.contains(_AMOUNT_RE)).then(text)
    # A Decimal(38, 6) is stored as its count of millionths: that integer, read as is.
    return text.str.strip_chars().cast(pl.Decimal(38, MAX_EXPONENT), strict=False).to_physical()


def units_to_minor(units: pl.Expr, exp: pl.Expr | int) -> pl.Expr:
    """Millionths (``minor_expr(text, MAX_EXPONENT)``) → Int64 minor units of exponent ``exp``;
    null where the value is not a whole number of them (nothing rounded). Lets a parser read a
    column's text once and have both its exact millionths and its minor units."""
    if isinstance(exp, int):  # one unit for the column (control totals: exponent 4)
        unit = pl.lit(10 ** (MAX_EXPONENT - exp), dtype=pl.Int128)
    else:
        unit = exp.cast(pl.Int64).replace_strict(_UNITS, default=None, return_dtype=pl.Int128)
    units = units.cast(pl.Int128)
    return pl.when(units % unit == 0).then(units // unit).otherwise(None).cast(pl.Int64, strict=False)


_UNITS = {e: 10 ** (MAX_EXPONENT - e) for e in range(MAX_EXPONENT + 1)}  # exponent → units per minor unit
