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


# Above this many payments per PSP the day is generated a slice at a time
# (recon.generate.day.generate_day_sliced): the generator holds a whole world in memory, so a
# 100M day in one piece would not fit in 24 GiB (docs/performance.md).
SLICE_PAYMENTS = 5_000_000


def day_dir(root: Path, label: str, seed: int, slice_payments: int = SLICE_PAYMENTS) -> Path:
    """Where the day for (seed, scale) is cached; a day generated in slices names the slice."""
    scale = payments_per_psp(label)
    return root / (f"data-s{seed}-p{scale}" if scale <= slice_payments
                   else f"data-s{seed}-p{scale}-x{slice_payments}")


def _say(msg: str) -> None:
    print(msg, flush=True)


def ensure_day(root: Path, label: str, seed: int, say=_say,
               slice_payments: int = SLICE_PAYMENTS) -> tuple[Path, dict]:
    """The cached day for (seed, scale) under ``root``; generated once (a marker file says done),
    in slices of ``slice_payments`` payments per PSP above that many."""
    scale = payments_per_psp(label)
    out = day_dir(root, label, seed, slice_payments)
    marker = out / "generated.json"
    if marker.exists():
        return out, json.loads(marker.read_text())
    from recon.generate import generate_day  # the generator is only needed on a cache miss
    from recon.generate.day import generate_day_sliced

    if out.exists():
        shutil.rmtree(out)  # a run that was interrupted half-way
    if scale <= slice_payments:
        say(f"generating {DAY} with seed {seed}, {scale:,} payments per PSP into {out} (cached)")
        g = generate_day(DAY, out, seed=seed, scale=scale)
    else:
        say(f"generating {DAY} with seed {seed}, {scale:,} payments per PSP in slices of "
            f"{slice_payments:,} into {out} (cached)")
        g = generate_day_sliced(DAY, out, seed=seed, scale=scale, slice_scale=slice_payments,
                                progress=lambda msg: say(f"  {msg}"))
    info = {"business_date": DAY.isoformat(), "seed": seed, "payments_per_psp": scale,
            "slice_payments": slice_payments if scale > slice_payments else None,
            "counts": dict(g.counts),
            "paths": {k: str(p.relative_to(out)) for k, p in g.paths.items()},
            "bytes": {k: p.stat().st_size for k, p in g.paths.items()}}
    marker.write_text(json.dumps(info, indent=2, sort_keys=True))
    return out, info
