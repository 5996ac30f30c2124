"""`recon eval --scenario real`: the config the real world is read with, and the breakdown of
what the run got wrong by category and cause.

The config is written beside the world (``real.toml``): the published formats, the ledger read
through a ``[ledger]`` mapping, every bank file on its own day. The keys of issue 31's features
(INTERFACES: payout_lag_days, payer_names, payout_references, the ledger's receiver column and
its allocation types) are written where this build of recon accepts them; a group it refuses is
left out and named in the eval's output, so the same eval runs before and after those features.
"""
from __future__ import annotations

import csv
from collections import Counter
from datetime import date
from pathlib import Path

from recon.errors import ReconError
from recon.generate import real_ledger
from recon.generate.real import PAYOUT_LAG_DAYS, SHARING_SOURCE
from recon.generate.real_bank import STRIPE_PAYER, TENPAY
from recon.generate.spec import RATE_CARDS

_SFTP = """  [sources.sftp]
  host = "${{RECON_SFTP_HOST:-127.0.0.1}}"
  port = "${{RECON_SFTP_PORT:-2222}}"
  user = "${{RECON_SFTP_USER:-recon}}"
  private_key = "${{RECON_SFTP_KEY:-~/.ssh/id_ed25519}}"
  known_hosts = "${{RECON_SFTP_KNOWN_HOSTS:-~/.ssh/known_hosts}}"
  remote_dir = "{dir}"
  pattern = "{pattern}"
  settle_s = "${{RECON_SETTLE_S:-5}}"
"""


def _toml_str(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _table(mapping: dict) -> str:
    parts = []
    for k, v in mapping.items():
        key = k if k.replace("_", "").isalnum() and k.isascii() else _toml_str(k)
        val = "[" + ", ".join(_toml_str(x) for x in v) + "]" if isinstance(v, list) else _toml_str(v)
        parts.append(f"{key} = {val}")
    return "{ " + ", ".join(parts) + " }"


def _ledger(features: set[str]) -> str:
    columns = dict(real_ledger.COLUMNS)
    if "receiver" in features:
        columns["receiver"] = "Empfänger"
    types = {word: kind for kind, word in real_ledger.TYPES.items()}
    if "allocation" not in features:  # kept out of matching until recon knows 分账 entries
        types = {w: ("other" if k.startswith("allocation") else k) for w, k in types.items()}
    channels = {word: source for source, word in real_ledger.CHANNELS.items()}
    return f"""[ledger]
directory = "${{RECON_LEDGER_DIR:-../var/inbox/ledger}}"
settle_s = "${{RECON_SETTLE_S:-5}}"
pattern = "buchungen_{{date:%Y%m%d}}.csv"
header_row = 3
delimiter = ";"
datetime_format = "%d.%m.%Y %H:%M:%S"
timezone = "Asia/Shanghai"
decimal_separator = ","
thousands_separator = "."
sign = "indicator"
money_in = ["{real_ledger.MONEY_IN}"]
money_out = ["{real_ledger.MONEY_OUT}"]
unmatched_statuses = ["FAILED", "PENDING"]
types = {_table(types)}
channels = {_table(channels)}
columns = {_table(columns)}
"""


def _source(name: str, fmt: str, currency: str, pattern: str, extra: str = "", tail: str = "") -> str:
    return (f'[[sources]]\nname = "{name}"\nkind = "{"bank" if fmt == "camt053" else "psp"}"\n'
            f'format = "{fmt}"\ntimezone = "Asia/Shanghai"\ncutoff = "00:00"\ncurrency = "{currency}"\n'
            + extra + _SFTP.format(dir=name, pattern=pattern) + tail)


def config_text(features: set[str]) -> str:
    payout = "payouts" in features
    lag = f"payout_lag_days = {PAYOUT_LAG_DAYS}\n" if payout else ""
    wx = (f'rate_card = "{RATE_CARDS / "wechatpay.toml"}"\n' + lag
          + (f'payer_names = ["{TENPAY}", "Tenpay"]\n' if payout else ""))
    st = (f'rate_card = "{RATE_CARDS / "stripe.toml"}"\n' + lag
          + (f'payer_names = ["{STRIPE_PAYER}", "Stripe"]\n' if payout else ""))
    refs = ("  [sources.payout_references]\n  fields = [\"end_to_end_id\", \"bank_reference\", \"description\"]\n"
            "  stripe = '\\b(po_[A-Za-z0-9]+)\\b'\n") if payout else ""
    return "\n".join([
        "# recon eval --scenario real: written by recon/eval_real.py for the generated real world.",
        '[paths]\nwarehouse = "${RECON_HOME:-../var}/warehouse.duckdb"\narchive = "${RECON_HOME:-../var}/archive"\n'
        'reports = "${RECON_HOME:-../var}/reports"\n',
        '[run]\ntimezone = "Asia/Shanghai"\n',
        _ledger(features),
        _source("wechatpay", "wechatpay_trade", "CNY", "wechatpay_trade_{date:%Y%m%d}.csv", wx),
        _source(SHARING_SOURCE, SHARING_SOURCE, "CNY", "wechatpay_profitsharing_{date:%Y%m%d}.csv"),
        _source("stripe", "stripe_itemized", "USD", "stripe_payout_recon_{date:%Y%m%d}.csv", st,
                '  [sources.options]\n  merchant_reference_column = "payment_metadata[order_id]"\n'),
        _source("bank", "camt053", "CNY", "camt053_{date:%Y%m%d}.xml", 'payouts_for = ["wechatpay", "stripe"]\n',
                refs),
    ])


FEATURES = ("payouts", "receiver", "allocation")


def write_config(path: Path, loader) -> tuple[Path, list[str]]:
    """Write the config with every feature group ``loader`` (recon.config.load) accepts; returns
    the path and the groups left out (with the loader's reason)."""
    kept, dropped = set(), []
    for feature in FEATURES:
        path.write_text(config_text(kept | {feature}), encoding="utf-8")
        try:
            loader(path)
            kept.add(feature)
        except ReconError as e:
            dropped.append(f"{feature}: {str(e).splitlines()[0][:160]}")
    path.write_text(config_text(kept), encoding="utf-8")
    loader(path)
    return path, dropped


def read_items(world: Path) -> dict[tuple[str, str], str]:
    """(source, key) → cause, from the world's real_items_*.csv (the first cause named wins)."""
    out: dict[tuple[str, str], str] = {}
    for path in sorted(world.glob("real_items_*.csv")):
        with path.open(newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                out.setdefault((r["source"], r["key"]), r["cause"])
    return out


def breakdown(found: set[tuple], truth: set[tuple], items: dict[tuple[str, str], str]) -> list[str]:
    """Lines: the false breaks and the misses, counted by category, source and cause."""
    truth_keys = {(s, k): (d, c) for d, c, s, k in truth}
    found_keys = {(s, k): (d, c) for d, c, s, k in found}

    def cause(d: date, c: str, s: str, k: str, other: dict) -> str:
        why = items.get((s, k), "injected break" if other is found_keys else "not an item of the scenario")
        if (s, k) in other:
            od, oc = other[(s, k)]
            side = "expected" if other is truth_keys else "raised"
            why += f"; {side} as {oc}" + ("" if od == d else f" on day {(od - d).days:+d}")
        return why

    out = []
    for title, wrong, other in (("false breaks", found - truth, truth_keys), ("misses", truth - found, found_keys)):
        counts = Counter((c, s, cause(d, c, s, k, other)) for d, c, s, k in wrong)
        out.append(f"{title} by category and cause: {sum(counts.values())}")
        for (c, s, why), n in sorted(counts.items(), key=lambda x: (-x[1], x[0])):
            out.append(f"  {n:>4}  {c:<21}{s:<24}{why}")
    return out
