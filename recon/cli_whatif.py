"""`recon whatif`: the command over recon.whatif (its parser and its printout)."""
from __future__ import annotations

import argparse
import os
from pathlib import Path

EXAMPLE = """example:
  recon whatif --config candidate.toml --from 2026-11-20 --to 2026-11-24 --out /tmp/review
replays those days as-of on a scratch copy of the warehouse (never written) with the candidate's
rules and settings, and lists every link and break that would appear, vanish or change:
whatif_<from>_<to>.csv and .xlsx in --out, the totals per day on the terminal.
exit codes: 0 nothing would change, 1 something would (the list follows), 2 error"""


def add_parser(sub, date_type) -> None:
    w = sub.add_parser("whatif", formatter_class=argparse.RawDescriptionHelpFormatter,
                       help="replay past days with candidate rules and settings; list what would change",
                       epilog=EXAMPLE)
    w.add_argument("--config", required=True, type=Path, help="the candidate configuration")
    w.add_argument("--base-config", type=Path,
                   help="the configuration the runs used, whose warehouse is replayed (default: "
                        "$RECON_CONFIG, else data/recon.toml)")
    w.add_argument("--from", dest="start", type=date_type, required=True, help="first business date")
    w.add_argument("--to", dest="end", type=date_type, required=True, help="last business date")
    w.add_argument("--out", type=Path, default=Path("."), help="where the CSV and workbook go (default .)")
    w.add_argument("--keep-scratch", action="store_true", help="keep the scratch warehouse copy")
    w.set_defaults(func=cmd_whatif)


def cmd_whatif(args) -> int:
    from recon import config
    from recon.cli_common import DEFAULT_CONFIG
    from recon.whatif import whatif
    base = config.load(args.base_config or os.environ.get("RECON_CONFIG") or DEFAULT_CONFIG)
    result = whatif(base, config.load(args.config), args.start, args.end, args.out, args.keep_scratch)
    for day in result.days:
        n = {(c.item, c.change): 0 for c in result.changes}
        for c in result.changes:
            if c.business_date == day:
                n[(c.item, c.change)] += 1
        parts = [f"{item}s {change} {count}" for (item, change), count in sorted(n.items()) if count]
        print(f"{day}: {', '.join(parts) or 'no change'}")
    totals = result.totals()
    print(f"whatif {args.start}..{args.end}: " + (", ".join(
        f"{item}s {change} {n}" for (item, change), n in sorted(totals.items())) or "no change"))
    print(f"  {result.csv_path}\n  {result.xlsx_path}")
    return 1 if result.changes else 0
