"""recon.money: the vectorised text → minor units conversion agrees with exact Decimal arithmetic."""
from __future__ import annotations

import random
import re
from decimal import Decimal

import polars as pl
import pytest

from recon.money import MoneyError, exponent_expr, exponent_of, minor_expr, to_minor

# up to 6 significant fraction digits, then any trailing zeros (WeChat 手续费 0.75000)
_AMOUNT = re.compile(r"^\s*[+-]?[0-9]{1,15}(?:\.[0-9]{0,6}0*)?\s*$")


def _texts(n: int, seed: int) -> list[str]:
    rng = random.Random(seed)
    junk = "0123456789.-+ \t\u00a0１e,"
    out = ["12.", ".5", "-0", "+7", " 3.10 ", "1,000.00", "1e5", "", "999999999999999.9999",
           "-922337203685477.5808", "922337203685477.5807", "922337203685477.5808"]
    for _ in range(n):
        if rng.random() < 0.6:
            text = rng.choice(["", "-", "+"]) + str(rng.randint(0, 10 ** rng.randint(0, 16)))
            if rng.random() < 0.7:
                text += "." + str(rng.randint(0, 9999999)).zfill(rng.randint(0, 7))
            out.append(f" {text}\u00a0" if rng.random() < 0.1 else text)
        else:
            out.append("".join(rng.choice(junk) for _ in range(rng.randint(0, 8))))
    return out


@pytest.mark.parametrize("exp", [0, 1, 2, 3, 4, 5, 6])
def test_minor_expr_is_exact_decimal_arithmetic(exp):
    """Every text: the exact count of minor units, or null when it is not an amount, has more
    places than the exponent allows, or does not fit in Int64 (never a wrapped or rounded value)."""
    texts = _texts(20_000, seed=exp)
    got = pl.DataFrame({"t": texts}).select(minor_expr(pl.col("t"), exp)).to_series().to_list()
    for text, value in zip(texts, got):
        expected = None
        if _AMOUNT.match(text):
            d = Decimal(text.strip()).scaleb(exp)
            if d == d.to_integral_value() and -2**63 <= d < 2**63:
                expected = int(d)
        assert value == expected, (text, exp)


def test_minor_expr_per_row_exponent_and_to_minor_agree():
    frame = pl.DataFrame({"t": ["12.30", "-5", "1.250", "1.255", "0.5"],
                          "e": [2, 0, 3, 2, 0]})
    got = frame.select(minor_expr(pl.col("t"), pl.col("e"))).to_series().to_list()
    assert got == [1230, -5, 1250, None, None]
    assert [to_minor("12.30", "CNY"), to_minor("-5", "JPY"), to_minor("1.250", "KWD")] == got[:3]
    with pytest.raises(MoneyError):
        to_minor("1.255", "CNY")


@pytest.mark.parametrize("currencies", [
    ["usd", " USD ", "Usd"],            # one currency, written three ways: one exponent (2)
    ["JPY", "jpy"],                     # exponent 0
    ["USD", "JPY", "KWD"],              # mixed: the per-row expression
    ["USD", "XXX"],                     # an unknown currency: its rows stay null
    ["USD", None],                      # a missing one: likewise
    ["KWD", "kwd"],                     # exponent 3
])
def test_exponent_of_gives_the_per_row_exponents_amounts(currencies):
    """``exponent_of`` may hand ``minor_expr`` one literal exponent for a whole part: the amounts
    must be the per-row expression's, row for row, whatever currencies the part holds."""
    texts = _texts(3_000, seed=len(currencies))
    frame = pl.DataFrame({"t": texts, "c": [currencies[i % len(currencies)] for i in range(len(texts))]})
    currency = pl.col("c").str.strip_chars().str.to_uppercase()
    exp = exponent_of(frame, currency)
    single = {("usd", " USD ", "Usd"): 2, ("JPY", "jpy"): 0, ("KWD", "kwd"): 3}.get(tuple(currencies))
    assert (exp == single) if single is not None else isinstance(exp, pl.Expr)
    fast = frame.select(minor_expr(pl.col("t"), exp)).to_series()
    per_row = frame.select(minor_expr(pl.col("t"), exponent_expr(currency))).to_series()
    assert fast.to_list() == per_row.to_list() and fast.drop_nulls().len() > 200
    assert exponent_of(frame.clear(), currency).meta.root_names() == ["c"]  # no rows: per row
