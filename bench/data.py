"""The benchmark's input: one synthetic day in the generator's real formats, cached by seed and scale.

A scale names rows per side: "1M" is about a million ledger rows against about a million PSP
statement lines, i.e. the generator's ``scale`` (payments per PSP per day) is half of it — 500,000
payments per PSP give ~1.05M WeChat + Stripe lines (refunds and injected breaks included) and
~1.05M ledger rows, plus the D+1 camt.053 bank statement with the two payouts.
"""
from __future__ import annotations

import json
import re
import shutil
from datetime import date
from pathlib import Path

DAY = date(2026, 11, 21)
_SCALE = re.compile(r"^(\d+(?:\.\d+)?)([kKmM]?)$")


def rows_per_side(label: str) -> int:
    """'1M' → 1_000_000, '250k' → 250_000, '5000' → 5000."""
    m = _SCALE.match(label.strip())
    if not m:
        raise ValueError(f"scale {label!r}: expected a row count like 1M, 10M, 250k or 20000")
    n = float(m.group(1)) * {"": 1, "k": 1_000, "m": 1_000_000}[m.group(2).lower()]
    if n < 40:
        raise ValueError(f"scale {label!r}: expected at least 40 rows per side")
    return int(n)


def payments_per_psp(label: str) -> int:
    return rows_per_side(label) // 2


def ensure_day(root: Path, label: str, seed: int, say=print) -> tuple[Path, dict]:
    """The cached day for (seed, scale) under ``root``; generated once (a marker file says done)."""
    scale = payments_per_psp(label)
    out = root / f"data-s{seed}-p{scale}"
    marker = out / "generated.json"
    if marker.exists():
        return out, json.loads(marker.read_text())
    from recon.generate import generate_day  # the generator is only needed on a cache miss

    if out.exists():
        shutil.rmtree(out)  # a run that was interrupted half-way
    say(f"generating {DAY} with seed {seed}, {scale:,} payments per PSP into {out} (cached)")
    g = generate_day(DAY, out, seed=seed, scale=scale)
    info = {"business_date": DAY.isoformat(), "seed": seed, "payments_per_psp": scale,
            "counts": dict(g.counts),
            "paths": {k: str(p.relative_to(out)) for k, p in g.paths.items()},
            "bytes": {k: p.stat().st_size for k, p in g.paths.items()}}
    marker.write_text(json.dumps(info, indent=2, sort_keys=True))
    return out, info
