"""Contracted rate cards (费率) as data, and the expected fee of one line.

A rate card is a TOML file of ``[[rates]]``: percent of the gross, a fixed part, a minimum and an
optional maximum, per payment method (``method``, e.g. WeChat 交易类型 or Stripe
payment_method_type) and card type (``card_type``, read from the raw statement field named by the
card's ``card_type_field``, e.g. Stripe ``card_brand``), valid between dates, and whether the fee
is returned on a refund.

Tiers are **amount bands** on the line's absolute amount, not monthly volume: ``[[rates.tiers]]``
with ``from`` (inclusive) override the rate's percent/fixed/minimum/maximum from that amount up to
the next tier. Amount bands keep the expected fee a function of the line alone, so the line-by-line
fee check, the fee report and reruns of any past day need no month-to-date state; volume tiers are
usually settled on the monthly invoice, which is outside the daily check.

Which rate applies: among the rows valid on the day whose method is the line's or ``*``, whose card
type is the line's or ``*`` and whose band contains the amount, the exact method wins, then the
exact card type, then the latest ``valid_from``, then the order in the file. The expected fee uses
:func:`recon.money.round_minor`, the single rounding rule; the SQL macro ``line_fee``
(recon/warehouse.py) reproduces selection and arithmetic unit for unit (a hypothesis test holds
the two together).
"""
from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from recon.errors import ConfigError
from recon.money import MoneyError, round_minor, to_minor

ANY = "*"


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
    card_type: str = ANY
    band_from_minor: int = 0  # |amount| ≥ this (inclusive) …
    band_to_minor: int | None = None  # … and < this (None: no upper bound)
    position: int = 0  # order in the file: the last tie-breaker

    def applies(self, method: str | None, card_type: str | None, day: date,
                amount_minor: int | None) -> bool:
        if not (self.valid_from <= day and (self.valid_to is None or day <= self.valid_to)):
            return False
        if self.method not in (method, ANY) or self.card_type not in (card_type or "", ANY):
            return False
        if amount_minor is None:  # no amount given: the rate's base band
            return self.band_from_minor == 0
        a = abs(amount_minor)
        return a >= self.band_from_minor and (self.band_to_minor is None or a < self.band_to_minor)


@dataclass(frozen=True)
class RateCard:
    source: str
    currency: str
    rates: tuple[Rate, ...]
    card_type_field: str | None = None  # raw statement field holding the card type

    def rate_for(self, method: str | None, day: date, card_type: str | None = None,
                 amount_minor: int | None = None) -> Rate | None:
        """The most specific rate for the line (see the module docstring for the order)."""
        valid = [r for r in self.rates if r.applies(method, card_type, day, amount_minor)]
        if not valid:
            return None
        return min(valid, key=lambda r: (r.method != method, r.card_type != (card_type or ""),
                                         -r.valid_from.toordinal(), r.position))

    def expected_fee(self, amount_minor: int, txn_type: str, day: date, method: str | None = None,
                     card_type: str | None = None) -> int:
        """Fee in minor units, positive = charged to the merchant, negative = returned."""
        rate = self.rate_for(method, day, card_type, amount_minor)
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
    path = Path(path)
    doc = tomllib.loads(path.read_text("utf-8"))

    def fail(key: str, msg: str):
        raise ConfigError(str(path), key, msg)

    currency = doc.get("currency") or fail("currency", "missing; expected an ISO 4217 code")

    def money(table: dict, key: str, where: str, default: str | None = "0") -> int | None:
        raw = table.get(key, default)
        if raw in (None, ""):
            return None
        try:
            return to_minor(str(raw), currency)
        except MoneyError as e:
            fail(f"{where}.{key}", str(e))

    def percent(table: dict, where: str, default: Decimal | None = None) -> Decimal:
        if "percent" not in table and default is not None:
            return default
        try:
            return Decimal(str(table["percent"]))
        except (KeyError, InvalidOperation):
            fail(f"{where}.percent", "expected a percentage as a string like \"0.60\"")

    rates: list[Rate] = []
    for i, r in enumerate(doc.get("rates") or fail("rates", "missing; expected [[rates]] tables")):
        where = f"rates[{i}]"
        base = Rate(
            method=str(r.get("method", ANY)), percent=percent(r, where),
            fixed_minor=money(r, "fixed", where), minimum_minor=money(r, "minimum", where),
            maximum_minor=money(r, "maximum", where, None),
            valid_from=date.fromisoformat(str(r.get("valid_from", "1970-01-01"))),
            valid_to=date.fromisoformat(str(r["valid_to"])) if r.get("valid_to") else None,
            refund_returns_fee=bool(r.get("refund_returns_fee", False)),
            card_type=str(r.get("card_type", ANY)), position=len(rates))
        tiers = []
        for j, t in enumerate(r.get("tiers") or ()):
            tw = f"{where}.tiers[{j}]"
            start = money(t, "from", tw, None)
            if start is None or start <= 0:
                fail(f"{tw}.from", "expected the amount where the tier starts, above 0")
            if tiers and start <= tiers[-1][0]:
                fail(f"{tw}.from", "tiers must be in increasing order of `from`")
            tiers.append((start, t, tw))
        bounds = [0] + [s for s, _, _ in tiers]
        for k, lo in enumerate(bounds):
            hi = bounds[k + 1] if k + 1 < len(bounds) else None
            if k == 0:
                rates.append(Rate(**{**base.__dict__, "band_to_minor": hi, "position": len(rates)}))
                continue
            _, t, tw = tiers[k - 1]
            rates.append(Rate(**{
                **base.__dict__, "percent": percent(t, tw, base.percent),
                "fixed_minor": money(t, "fixed", tw, None) if "fixed" in t else base.fixed_minor,
                "minimum_minor": money(t, "minimum", tw) if "minimum" in t else base.minimum_minor,
                "maximum_minor": money(t, "maximum", tw, None) if "maximum" in t
                else base.maximum_minor,
                "band_from_minor": lo, "band_to_minor": hi, "position": len(rates)}))
    return RateCard(source=doc.get("source", path.stem), currency=currency, rates=tuple(rates),
                    card_type_field=doc.get("card_type_field"))
