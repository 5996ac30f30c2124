"""Contracted rate cards (费率) as data, and the expected fee of one line.

A rate card is a TOML file of ``[[rates]]``: percent of the gross, a fixed part, a minimum and an
optional maximum, per payment method, valid between dates, and whether the fee is returned on a
refund. The expected fee uses :func:`recon.money.round_minor`, the single rounding rule, and
``sql/fee_check.sql`` reproduces it unit for unit (a test holds the two together).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from recon.errors import ConfigError
from recon.money import MoneyError, round_minor, to_minor


@dataclass(frozen=True)
class Rate:
    method: str
    percent: Decimal  # 0.60 means 0.6 %
    fixed_minor: int
    minimum_minor: int
    maximum_minor: int | None
    valid_from: date
    valid_to: date | None
    refund_returns_fee: bool


@dataclass(frozen=True)
class RateCard:
    source: str
    currency: str
    rates: tuple[Rate, ...]

    def rate_for(self, method: str | None, day: date) -> Rate | None:
        """The most specific rate valid on ``day``: an exact method beats ``*``."""
        valid = [r for r in self.rates
                 if r.valid_from <= day and (r.valid_to is None or day <= r.valid_to)]
        exact = [r for r in valid if r.method == method]
        return (exact or [r for r in valid if r.method == "*"] or [None])[0]

    def expected_fee(self, amount_minor: int, txn_type: str, day: date, method: str | None = None) -> int:
        """Fee in minor units, positive = charged to the merchant, negative = returned."""
        rate = self.rate_for(method, day)
        if rate is None:
            return 0
        if txn_type == "payment":
            fee = round_minor(Decimal(abs(amount_minor)) * rate.percent / 100) + rate.fixed_minor
            fee = max(fee, rate.minimum_minor)
            return fee if rate.maximum_minor is None else min(fee, rate.maximum_minor)
        if txn_type == "refund" and rate.refund_returns_fee:
            return -round_minor(Decimal(abs(amount_minor)) * rate.percent / 100)
        return 0


def load(path: Path) -> RateCard:
    doc = tomllib.loads(path.read_text("utf-8"))

    def fail(key: str, msg: str):
        raise ConfigError(str(path), key, msg)

    currency = doc.get("currency") or fail("currency", "missing; expected an ISO 4217 code")
    rates = []
    for i, r in enumerate(doc.get("rates") or fail("rates", "missing; expected [[rates]] tables")):
        def money(key: str, default: str | None = "0") -> int | None:
            raw = r.get(key, default)
            if raw in (None, ""):
                return None
            try:
                return to_minor(str(raw), currency)
            except MoneyError as e:
                fail(f"rates[{i}].{key}", str(e))
        try:
            percent = Decimal(str(r["percent"]))
        except (KeyError, InvalidOperation):
            fail(f"rates[{i}].percent", "expected a percentage as a string like \"0.60\"")
        rates.append(Rate(
            method=r.get("method", "*"), percent=percent, fixed_minor=money("fixed"),
            minimum_minor=money("minimum"), maximum_minor=money("maximum", None),
            valid_from=date.fromisoformat(str(r.get("valid_from", "1970-01-01"))),
            valid_to=date.fromisoformat(str(r["valid_to"])) if r.get("valid_to") else None,
            refund_returns_fee=bool(r.get("refund_returns_fee", False)),
        ))
    return RateCard(source=doc.get("source", path.stem), currency=currency, rates=tuple(rates))
