"""References of the synthetic world, as polars expressions (and scalars for the few one-offs).

Every id is a function of (day, psp, number), so another day can name the same object: a refund
names its original order, the next day's file names yesterday's late payment.
"""
from __future__ import annotations

from datetime import date

import numpy as np
import polars as pl

from recon.generate.fmt import padded
from recon.generate.spec import USERS, WECHAT, Psp, rng, ymd

_ALNUM = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_OPENID = _ALNUM + b"_-"
_POOL_DAY = date(2000, 1, 1)  # the customer pool does not change from day to day


def order_ref(psp: Psp, day: date, idx: int) -> str:
    return f"ORD{ymd(day)}{psp.letter}{idx:08d}"


def order_ref_expr(psp: Psp, day_text: pl.Expr, idx: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("ORD"), day_text, pl.lit(psp.letter), padded(idx, 8)])


def refund_ref_expr(psp: Psp, day: date, ridx: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(f"RFD{ymd(day)}{psp.letter}"), padded(ridx, 8)])


def own_refund_ref_expr(psp: Psp, day: date, ridx: pl.Expr) -> pl.Expr:
    """Hard scenario: the company's own id of a refund, where its ledger does not keep the one
    the PSP echoes back (商户退款单号 / payment_metadata[refund_id])."""
    return pl.concat_str([pl.lit(f"CRN{ymd(day)}{psp.letter}"), padded(ridx, 8)])


def payment_id_expr(psp: Psp, day_text: pl.Expr, idx: pl.Expr) -> pl.Expr:
    """WeChat 微信订单号 (28 digits) / Stripe charge id."""
    if psp is WECHAT:
        return pl.concat_str([pl.lit("4200"), day_text, padded(idx, 16)])
    return pl.concat_str([pl.lit("ch_3"), day_text, padded(idx, 14)])


def refund_id_expr(psp: Psp, day: date, ridx: pl.Expr) -> pl.Expr:
    """WeChat 微信退款单号 (29 digits, 50…) / Stripe refund id."""
    if psp is WECHAT:
        return pl.concat_str([pl.lit(f"503{ymd(day)}"), padded(ridx, 18)])
    return pl.concat_str([pl.lit(f"re_3{ymd(day)}"), padded(ridx, 14)])


def intent_id_expr(day_text: pl.Expr, idx: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit("pi_3"), day_text, padded(idx, 14)])


def psp_reference_expr(psp: Psp, day: date, day_text: pl.Expr) -> pl.Expr:
    """The PSP's own id of a line: the payment's for payments, the refund's for refunds."""
    return (pl.when(pl.col("is_refund")).then(refund_id_expr(psp, day, pl.col("refund_idx")))
            .otherwise(payment_id_expr(psp, day_text, pl.col("order_idx"))))


def merchant_reference_expr(psp: Psp, day: date, day_text: pl.Expr) -> pl.Expr:
    return (pl.when(pl.col("is_refund")).then(refund_ref_expr(psp, day, pl.col("refund_idx")))
            .otherwise(order_ref_expr(psp, day_text, pl.col("order_idx"))))


def noisy_ref_expr(ref: pl.Expr, noise: pl.Expr) -> pl.Expr:
    """Hard scenario: the reference as a PSP may echo it back (``recon.generate.hard.NOISE``)."""
    parts = [ref.str.slice(0, 3), ref.str.slice(3, 8), ref.str.slice(11)]
    variants = (
        ref.str.to_lowercase(),                                    # lower
        pl.concat_str([pl.lit("  "), ref, pl.lit(" ")]),           # spaces around
        pl.concat_str(parts, separator="-"),                       # ORD-20261121-W00000042
        pl.concat_str(parts, separator=" "),                       # ORD 20261121 W00000042
        pl.concat_str([pl.lit("REF:"), ref]),
        pl.concat_str([pl.lit("ORDER-"), ref]),
    )
    out = ref
    for code in reversed(range(len(variants))):
        out = pl.when(noise == code).then(variants[code]).otherwise(out)
    return out


def dispute_id_expr(day: date, number: pl.Expr) -> pl.Expr:
    return pl.concat_str([pl.lit(f"du_3{ymd(day)}"), padded(number, 14)])


def emails(customers: pl.Series) -> pl.Series:
    """Hard scenario, Stripe: the customers' e-mail addresses (one per customer id, all distinct)."""
    from recon.generate.spec import EMAIL_DOMAINS
    frame = pl.DataFrame({"c": customers}).with_row_index("i")
    return frame.select(pl.concat_str([
        pl.col("c").str.slice(4).str.to_lowercase(), pl.lit("@"),
        (pl.col("i") % len(EMAIL_DOMAINS)).cast(pl.Int64).replace_strict(dict(enumerate(EMAIL_DOMAINS)),
                                                                       return_dtype=pl.String)]))["c"]


def customers(seed: int, psp: Psp, size: int) -> pl.Series:
    """The PSP's customer pool: WeChat openids (28 chars) / Stripe customer ids."""
    g = rng(seed, _POOL_DAY, psp, USERS)
    alphabet = np.frombuffer(_OPENID if psp is WECHAT else _ALNUM, np.uint8)
    width = 27 if psp is WECHAT else 14
    codes = alphabet[g.integers(0, len(alphabet), (size, width))]
    prefix = "o" if psp is WECHAT else "cus_"
    return pl.Series([prefix + row.tobytes().decode() for row in codes], dtype=pl.String)
