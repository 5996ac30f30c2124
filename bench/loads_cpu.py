"""CPU seconds of parse + validation per bulk format, on the bench's 1M day (issue 33).

Each file is read into memory first (the read is not counted), then parsed part by part as the
pipeline does (``PART_BYTES``; without ``raw`` where the line is stored with its span and the code
can leave it out) with control totals and pandera validation; CPU time is
``time.process_time`` of this process (all its threads), which other processes' load barely
moves, unlike wall time. The validation's own share is measured by wrapping
``schemas.validation._validate``. Runs against whichever checkout is on ``sys.path`` first, so
the code before a change can be measured the same way:

    python -m bench.loads_cpu --data var/bench/data-s7-p500000 --out bench/results/x.json
    cd ../before && .venv/bin/python ../h-load/bench/loads_cpu.py --data ... --label before
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from datetime import date
from pathlib import Path

DAY = date(2026, 11, 21)
FILES = {"wechatpay_trade": "wechatpay/wechatpay_trade_{d}.csv",
         "stripe_itemized": "stripe/stripe_itemized_{d}.csv",
         "ledger": "ledger/ledger_{d}.csv"}


def _timed_validation():
    """Patch ``schemas.validation._validate`` to add up its CPU seconds; returns the counter."""
    from schemas import validation
    spent = {"cpu": 0.0}
    inner = validation._validate

    def timed(*args, **kwargs):
        t = time.process_time()
        try:
            return inner(*args, **kwargs)
        finally:
            spent["cpu"] += time.process_time() - t
    validation._validate = timed
    return spent


def parse_once(fmt: str, data: bytes, name: str) -> tuple[int, int]:
    """(valid rows, quarantine rows) of one parse of the whole file, part by part."""
    from recon.pipeline import PART_BYTES
    sha = hashlib.sha256(data).hexdigest()
    if fmt == "ledger":
        from schemas.ledger import parse_ledger_parts
        parts = [(v.height, q.height) for v, q in
                 parse_ledger_parts(data, name=name, sha256=sha, part_bytes=PART_BYTES)]
    else:
        from schemas import registry
        parts = [(p.frame.height, p.quarantine.height) for p in
                 registry.parse_parts(fmt, data, name=name, source=fmt, sha256=sha, business_date=DAY,
                                      timezone="Asia/Shanghai", part_bytes=PART_BYTES,
                                      **_as_the_pipeline(fmt))]
    return sum(v for v, _ in parts), sum(q for _, q in parts)


def _as_the_pipeline(fmt: str) -> dict:
    """raw=False for a format whose lines the pipeline stores with their span, where the code
    measured takes it (as bench/sameness.py; this file also runs against older checkouts)."""
    import inspect

    from schemas import registry
    try:
        from recon import lineage
    except ImportError:
        return {}
    takes = "raw" in inspect.signature(registry.parse_parts).parameters
    return {"raw": False} if takes and lineage.spanned(fmt) else {}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", required=True, help="the generated day (…/data-s7-p500000)")
    p.add_argument("--repeat", type=int, default=3, help="parses per format; the least CPU is kept")
    p.add_argument("--label", default="", help="a name for this code (e.g. before / after)")
    p.add_argument("--out", help="append the results to this JSON file")
    args = p.parse_args(argv)
    spent = _timed_validation()
    results = []
    for fmt, pattern in FILES.items():
        path = Path(args.data) / pattern.format(d=f"{DAY:%Y%m%d}")
        data = path.read_bytes()
        runs = []
        for _ in range(args.repeat):
            spent["cpu"] = 0.0
            t, w = time.process_time(), time.perf_counter()
            rows, quarantined = parse_once(fmt, data, path.name)
            runs.append({"cpu_s": round(time.process_time() - t, 3), "wall_s": round(time.perf_counter() - w, 3),
                         "validation_cpu_s": round(spent["cpu"], 3)})
        best = min(runs, key=lambda r: r["cpu_s"])
        results.append({"format": fmt, "file": path.name, "bytes": len(data), "rows": rows,
                        "quarantined": quarantined, **best, "runs": runs})
        print(f"{args.label:<8}{fmt:<17}{rows:>10,} rows  cpu {best['cpu_s']:6.2f} s  "
              f"(validation {best['validation_cpu_s']:5.2f} s)  wall {best['wall_s']:6.2f} s", flush=True)
    total = round(sum(r["cpu_s"] for r in results), 3)
    print(f"{args.label:<8}{'total':<17}{'':>15}  cpu {total:6.2f} s")
    if args.out:
        out = Path(args.out)
        doc = json.loads(out.read_text("utf-8")) if out.exists() else {"runs": []}
        doc["runs"].append({"label": args.label, "code": _commit(), "total_cpu_s": total,
                            "formats": results})
        out.write_text(json.dumps(doc, indent=2) + "\n", "utf-8")
    return 0


def _commit() -> str:
    import subprocess
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return ""


if __name__ == "__main__":
    sys.exit(main())
