"""The rate card's expected fee, vectorised over numpy int64 minor units.

Same semantics as :meth:`recon.ratecard.RateCard.expected_fee` (half-up rounding of the percent
part, fixed part, minimum/maximum, returned pro rata on refunds where the card says so); the
generator's tests compare the two on every generated line.
"""
from __future__ import annotations

from datetime import date
from fractions import Fraction

import numpy as np

from recon.ratecard import RateCard


def _percent_half_up(amount: np.ndarray, percent) -> np.ndarray:
    """round_half_up(|amount| × percent / 100) in exact integer arithmetic."""
    ratio = Fraction(percent) / 100
    num, den = ratio.numerator, ratio.denominator
    return (2 * np.abs(amount) * num + den) // (2 * den)


def expected_fees(card: RateCard, amount: np.ndarray, is_refund: np.ndarray, day: date,
                  method: np.ndarray, methods: tuple[str, ...]) -> np.ndarray:
    """Fee per line (positive charged, negative returned); ``method`` indexes ``methods``."""
    fee = np.zeros(len(amount), dtype=np.int64)
    for m, name in enumerate(methods):
        rate = card.rate_for(name, day)
        sel = method == m
        if rate is None or not sel.any():
            continue
        pct = _percent_half_up(amount[sel], rate.percent)
        pay = pct + rate.fixed_minor
        pay = np.maximum(pay, rate.minimum_minor)
        if rate.maximum_minor is not None:
            pay = np.minimum(pay, rate.maximum_minor)
        ref = -pct if rate.refund_returns_fee else np.zeros_like(pct)
        fee[sel] = np.where(is_refund[sel], ref, pay)
    return fee
