"""The operational tables of the config file: ``[alerts]`` (where the nightly verdict goes),
``[signals]`` (risk-signal thresholds) and ``[dask]`` (where fetch and parse fan out). Parsed with the same key-naming reader as the rest of the
file (``recon.config``); secrets are never values here, only the names of environment variables.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from recon.money import EXPONENTS, MoneyError, to_minor


@dataclass(frozen=True)
class AlertsConfig:
    """Where a run's notification goes and what counts as above threshold ([alerts]).

    Secrets are never values here: ``*_env`` name the environment variables that hold them."""
    webhook_url: str | None = None
    webhook_token_env: str | None = None  # sent as "Authorization: Bearer <token>"
    smtp_host: str | None = None
    smtp_port: int = 25
    smtp_from: str = "recon@localhost"
    smtp_to: tuple[str, ...] = ()
    smtp_user: str | None = None
    smtp_password_env: str | None = None
    smtp_starttls: bool = False
    timeout_s: float = 10.0
    notify: str = "always"  # always | problems (only when the day did not reconcile)
    max_open_breaks: int | None = None  # count of open breaks above which the alert says so
    max_open_amount: dict[str, int] = field(default_factory=dict)  # currency → Σ|difference| minor
    max_break_age_days: int | None = None  # open breaks this old or older


@dataclass(frozen=True)
class SignalsConfig:
    """Risk-signal thresholds ([signals]): a channel-day against its own previous days."""
    history_days: int = 14  # previous business dates that make the baseline
    min_history_days: int = 3  # fewer usable days: no rate signal
    min_payments: int = 20  # channel-days with fewer payment lines are too small to judge
    success_rate_drop: Decimal = Decimal("0.05")  # baseline − today, as a fraction
    refund_rate_rise: Decimal = Decimal("0.03")  # today − baseline
    chargeback_rate_rise: Decimal = Decimal("0.01")
    fee_rate_drift: Decimal = Decimal("0.0010")  # |effective − rate card| of the day's payments
    payout_delay_days: int = 1  # later than the channel's usual delay by this many days
    large_break: dict[str, int] = field(default_factory=dict)  # currency → |difference| minor
    repeated_reference_days: int = 30  # look this far back for a payment reference seen again


@dataclass(frozen=True)
class DaskConfig:
    """Where the nightly flow fans fetch and parse out ([dask]; README "Beyond one machine"):
    the ``address`` of an existing Dask scheduler, or a LocalCluster of ``n_workers`` processes."""
    address: str | None = None
    n_workers: int | None = None
    threads_per_worker: int = 1


DASK_ADDRESS = re.compile(r"(?:tcp|tls|ucx)://\S+:\d+|[^\s/:]+:\d+")


def _dask(r: object | None) -> DaskConfig | None:
    """None (no Dask) without the table, or when it names neither an address nor n_workers (so
    ``address = "${RECON_DASK_ADDRESS:-}"`` stays off until the variable is set)."""
    if r is None:
        return None
    r.unknown({"address", "n_workers", "threads_per_worker"})
    address = r.get("address", str, "").strip() or None
    n_workers = r.get("n_workers", int, None)
    threads = r.get("threads_per_worker", int, 1)
    if address and n_workers is not None:
        r.fail("n_workers", "expected either address (an existing cluster) or n_workers (a local one), not both")
    if address and not DASK_ADDRESS.fullmatch(address):
        r.fail("address", f"expected a Dask scheduler address like \"tcp://10.0.0.5:8786\", found {address!r}")
    if n_workers is not None and n_workers < 1:
        r.fail("n_workers", f"expected a number of worker processes >= 1, found {n_workers}")
    if threads < 1:
        r.fail("threads_per_worker", f"expected a number >= 1, found {threads}")
    if not address and n_workers is None:
        return None
    return DaskConfig(address=address, n_workers=n_workers, threads_per_worker=threads)


def _amounts(r, key: str) -> dict[str, int]:
    """A table of currency = "amount" (major units, as text) → minor units per currency."""
    raw = r.get(key, dict, {})
    out = {}
    for ccy, amount in raw.items():
        if ccy not in EXPONENTS:
            r.fail(f"{key}.{ccy}", "expected an ISO 4217 code as the key")
        try:
            out[ccy] = to_minor(str(amount), ccy)
        except MoneyError as e:
            r.fail(f"{key}.{ccy}", f"expected an amount as text like \"1000.00\" ({e})")
    return out


def _fraction(r, key: str, default: Decimal) -> Decimal:
    raw = r.get(key, str, str(default))
    try:
        value = Decimal(raw)
    except InvalidOperation:
        value = Decimal(-1)
    if not 0 <= value <= 1:
        r.fail(key, f"expected a fraction between 0 and 1 as text like \"0.05\", found {raw!r}")
    return value


def _env_name(r, key: str) -> str | None:
    name = r.get(key, str, None)
    if name is not None and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        r.fail(key, "expected the name of an environment variable (not the secret itself)")
    return name


def _alerts(r: object | None) -> AlertsConfig:
    if r is None:
        return AlertsConfig()
    r.unknown({"webhook_url", "webhook_token_env", "smtp_host", "smtp_port", "smtp_from", "smtp_to",
               "smtp_user", "smtp_password_env", "smtp_starttls", "timeout_s", "notify",
               "max_open_breaks", "max_open_amount", "max_break_age_days"})
    to = r.get("smtp_to", list, [])
    if not all(isinstance(a, str) and "@" in a for a in to):
        r.fail("smtp_to", "expected a list of e-mail addresses")
    optional = {k: r.get(k, int, None) for k in ("max_open_breaks", "max_break_age_days")}
    port = r.get("smtp_port", int, 25)
    if not 0 < port < 65536:
        r.fail("smtp_port", f"expected a TCP port 1-65535, found {port}")
    return AlertsConfig(
        webhook_url=r.get("webhook_url", str, "") or None, webhook_token_env=_env_name(r, "webhook_token_env"),
        smtp_host=r.get("smtp_host", str, "") or None, smtp_port=port,
        smtp_from=r.get("smtp_from", str, "recon@localhost"), smtp_to=tuple(to),
        smtp_user=r.get("smtp_user", str, "") or None, smtp_password_env=_env_name(r, "smtp_password_env"),
        smtp_starttls=r.get("smtp_starttls", bool, False), timeout_s=r.get("timeout_s", float, 10.0),
        notify=r.get("notify", str, "always", choices=("always", "problems")),
        max_open_amount=_amounts(r, "max_open_amount"), **optional)


def _signals(r: object | None) -> SignalsConfig:
    if r is None:
        return SignalsConfig()
    d = SignalsConfig()
    ints = ("history_days", "min_history_days", "min_payments", "payout_delay_days",
            "repeated_reference_days")
    fractions = ("success_rate_drop", "refund_rate_rise", "chargeback_rate_rise", "fee_rate_drift")
    r.unknown({*ints, *fractions, "large_break"})
    values = {k: r.get(k, int, getattr(d, k)) for k in ints}
    for k, v in values.items():
        if v < 0:
            r.fail(k, f"expected a number >= 0, found {v}")
    return SignalsConfig(**values, **{k: _fraction(r, k, getattr(d, k)) for k in fractions},
                         large_break=_amounts(r, "large_break"))
