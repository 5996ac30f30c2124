"""Identifiers of the ``real`` scenario, shaped as the PSPs and the bank really send them.

Stripe object ids are a prefix and 24 alphanumerics (``ch_3QxAb1LkdIwHu7ix0xY9zW8v``); here the 24
are a keyed hash of (seed, day, kind, number), so any day can name another day's object (a refund
its charge, a payout its transactions) without storing it. WeChat's ids are digits as before
(``recon.generate.ids``): 微信订单号 28, 微信退款单号 29, 微信分账单号 26.
"""
from __future__ import annotations

import hashlib
from datetime import date

_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ACCOUNT_PART = "LkdIwHu7"  # Stripe ids of one account share a stretch of characters


def _body(seed: int, day: date, kind: str, number: int, width: int) -> str:
    digest = hashlib.blake2b(f"{seed}|{day.isoformat()}|{kind}|{number}".encode(), digest_size=24).digest()
    value = int.from_bytes(digest, "big")
    out = []
    for _ in range(width):
        value, r = divmod(value, 62)
        out.append(_ALNUM[r])
    return "".join(out)


def stripe_id(prefix: str, seed: int, day: date, kind: str, number: int) -> str:
    """``ch_``/``re_``/``txn_``/``pi_``/``po_`` + 24 alphanumerics: "3"/"1", 7 random, the
    account's 8 characters, 8 random (the shape of the ids in Stripe's documentation)."""
    body = _body(seed, day, kind, number, 15)
    lead = "1" if prefix == "po_" else "3"
    return f"{prefix}{lead}{body[:7]}{ACCOUNT_PART}{body[7:]}"


def stripe_ids(prefix: str, seed: int, days: list[date], kind: str, numbers) -> list[str]:
    return [stripe_id(prefix, seed, d, kind, int(n)) for d, n in zip(days, numbers)]


def profitsharing_id(day: date, number: int, back: bool = False) -> str:
    """微信分账单号 / 微信回退单号 (26 digits, as in WeChat's bill examples)."""
    return f"300000000{2 if back else 1}{day:%Y%m%d}{number:08d}"


def sharing_request_id(day: date, number: int, back: bool = False) -> str:
    """The company's own 商户分账单号 / 商户回退单号 (it chose them when it called the API)."""
    return f"{'R' if back else 'P'}{day:%Y%m%d}{number:05d}"
