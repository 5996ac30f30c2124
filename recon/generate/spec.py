"""The fixed cast of the synthetic world: the two PSPs, their ids, pools and the RNG streams.

Every random choice of a day is drawn from ``np.random.default_rng([seed, date, psp, stream])``,
so a day depends only on (seed, date) and any other day can recompute exactly the parts it needs
(yesterday's cut-off spill-over, the original orders of today's refunds) without generating that
whole day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np

RATE_CARDS = Path(__file__).resolve().parents[2] / "data" / "rate_cards"
TIMEZONE = "Asia/Shanghai"

# RNG streams: one per kind of choice, so that recomputing one never depends on another.
PAYMENTS, BREAKS, REFUNDS, LEDGER, DAY, USERS = 1, 2, 3, 4, 5, 6
HARD, HARD_BANK, FX_RATE = 7, 8, 9  # the hard scenario's own streams

SCENARIOS = ("standard", "hard")

DAY_START_S = 10          # regular lines are booked from 00:00:10 ...
DAY_END_S = 86_360        # ... to 23:59:20 local; the cut-off window is kept for timing items
TIMING_LEDGER_S = 86_370  # timing: ledger at 23:59:3x on D ...
TIMING_PSP_S = 0          # ... PSP line at 00:00:0x on D+1
MAX_LEDGER_LAG_S = 2      # the ledger books a line 0-2 s before the PSP
REFUND_LAGS = 8           # an order of day X can only be refunded on day X + (index % 8)
REFUND_LAG_P = (0.30, 0.20, 0.10, 0.10, 0.10, 0.10, 0.05, 0.05)
HOUR_WEIGHTS = np.array([1, 1, 1, 1, 1, 1, 2, 4, 6, 7, 8, 8, 9, 8, 7, 7, 7, 8, 9, 10, 10, 9, 6, 3],
                        dtype=np.float64)
USER_POOL = 20_000
# An unmatched item within the matcher's timing window (15 minutes around the cut-off by default)
# is `timing`, not missing: the payments that carry an injected break are at least this far from
# midnight, so that only the timing items are timing.
QUIET_S = 1_200

# The hard scenario keeps regular lines at least 20 minutes away from midnight (QUIET_S); only its
# cut-off items come closer.
HARD_START_S = 1_210
HARD_END_S = 85_000          # payments; same-day refunds may follow up to HARD_REFUND_END_S
HARD_REFUND_END_S = 85_100
CUTOFF_LEDGER_MAX_S = 90     # cut-off shifts: ledger up to 90 s before midnight ...
CUTOFF_PSP_MAX_S = 120       # ... the PSP line up to 120 s after it
DISPUTE_FEE_MINOR = 1_500    # Stripe's dispute fee, 15.00 USD
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "icloud.com", "proton.me", "example.org")

CATEGORIES = ("missing_in_ledger", "missing_in_statement", "amount_mismatch", "duplicate",
              "timing", "fee_variance", "payout_mismatch")
LINE_CATEGORIES = CATEGORIES[:6]  # the ones injected on a payment line


@dataclass(frozen=True)
class Psp:
    name: str
    code: int                    # RNG stream id
    currency: str
    letter: str                  # in merchant references: ORD20261121W00000042
    amount_buckets: tuple[tuple[int, int, float], ...]  # (low, high) minor units, probability
    methods: tuple[str, ...]     # WeChat 交易类型 / Stripe card brand
    method_p: tuple[float, ...]
    products: tuple[str, ...]
    rate_methods: tuple[str, ...]  # the payment method the rate card is looked up by, per method


WECHAT = Psp(
    name="wechatpay", code=1, currency="CNY", letter="W",
    amount_buckets=((100, 2_000, 0.35), (2_001, 20_000, 0.40), (20_001, 100_000, 0.20),
                    (100_001, 200_000, 0.05)),
    methods=("JSAPI", "NATIVE", "APP", "MICROPAY"), method_p=(0.55, 0.15, 0.20, 0.10),
    products=("会员月卡", "咖啡-拿铁", "外卖订单", "电影票", "话费充值", "生鲜配送", "图书",
              "游戏点券", "共享单车月卡", "酒店预订", "火车票改签费", "蛋糕券"),
    rate_methods=("JSAPI", "NATIVE", "APP", "MICROPAY"),
)
STRIPE = Psp(
    name="stripe", code=2, currency="USD", letter="S",
    amount_buckets=((500, 2_000, 0.30), (2_001, 10_000, 0.45), (10_001, 30_000, 0.20),
                    (30_001, 50_000, 0.05)),
    methods=("visa", "mastercard", "amex", "discover"), method_p=(0.55, 0.30, 0.10, 0.05),
    products=("Pro plan (monthly)", "Pro plan (annual)", "Team seat", "API credits",
              "Priority support", "Storage add-on", "Conference ticket", "Gift card"),
    rate_methods=("card", "card", "card", "card"),  # payment_method_type; the brand is cosmetic
)
PSPS = (WECHAT, STRIPE)

# WeChat Pay merchant identity (the examples of WeChat's own documentation).
WX_MCHID = "1900000109"
WX_APPID = "wx2421b1c4370ec43b"
WX_BANKS = ("CFT", "CMB_DEBIT", "ICBC_DEBIT", "CCB_CREDIT", "ABC_DEBIT", "OTHERS")

# The company's bank accounts (GB IBANs with valid check digits, one per currency).
ACCOUNT_OWNER = "RECON DEMO TRADING LTD"


def rng(seed: int, day: date, psp: Psp | None, stream: int) -> np.random.Generator:
    return np.random.default_rng([seed, day.toordinal(), psp.code if psp else 0, stream])


def iban(country: str, bban: str) -> str:
    digits = "".join(str(int(c, 36)) for c in bban + country + "00")
    return f"{country}{98 - int(digits) % 97:02d}{bban}"


ACCOUNTS = {"CNY": iban("GB", "HBUK40051512345678"), "USD": iban("GB", "HBUK40051587654321")}


def ymd(day: date) -> str:
    return day.strftime("%Y%m%d")


def breaks_per_category(scale: int) -> int:
    return 1 + scale // 1000


def payout_id(psp: Psp, day: date, seed: int) -> str:
    if psp is WECHAT:
        return f"WX{WX_MCHID}-{ymd(day)}"
    alphabet = np.frombuffer(b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", np.uint8)
    body = alphabet[rng(seed, day, psp, DAY).integers(0, 62, 24)].tobytes().decode()
    return f"po_1{body[:23]}"


def short_psp(seed: int, day: date) -> Psp:
    """The PSP whose bank credit for day's payout is short (the first draw of the DAY stream)."""
    return PSPS[int(rng(seed, day, None, DAY).integers(0, len(PSPS)))]


def fx_rate_micro(seed: int, day: date) -> int:
    """Hard scenario: the day's EUR→USD rate in millionths (1.050000 .. 1.140000)."""
    return 1_050_000 + int(rng(seed, day, STRIPE, FX_RATE).integers(0, 90_001))


def is_split_day(seed: int, day: date) -> bool:
    """Hard scenario: one day in three the WeChat payout arrives as two bank credits."""
    return (day.toordinal() + seed) % 3 == 0


def late_psp(seed: int, day: date) -> Psp | None:
    """Hard scenario: one day in four one PSP's payout credit arrives a day late (never the short one)."""
    if (day.toordinal() + seed) % 4 != 0:
        return None
    short = short_psp(seed, day)
    return next(p for p in PSPS if p is not short)
