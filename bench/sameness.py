"""Proof that a change to the loads leaves what they produce unchanged (issue 33): per input file,
a hash of the canonical frame (every column, ``raw`` and ``file_line`` included), the same hash
without ``raw``, and a hash of the quarantine rows (every column), or the error that rejected it;
run once per checkout and compare.

Each file is parsed as the pipeline parses it: a format whose lines are stored with their span in
the archive (``recon.lineage.spanned``) without its ``raw`` copy where the code can leave it out.
For those formats the comparison takes the frame's hash without ``raw`` on both sides (and says
how many came without ``raw``); everything else, quarantine rows included, is compared whole.

Inputs: every file under tests/data and ../shared/conformance (read-only), the files of a
generated day given with ``--day`` (e.g. the bench's 1M day, read-only), a small generated day
and the hostile corpus's mutations of it (tests/hostile_corpus.py), the hand-written ledger
export through its ``[ledger]`` mapping (tests/test_ledger_layout.py), each parsed whole and in
small parts (``--part-bytes``) as the pipeline cuts a big file. Runs against whichever checkout
is first on ``sys.path`` (``--generated``: the small days generated once, by the first run):

    PYTHONPATH=. .venv/bin/python bench/sameness.py --generated /tmp/gen --out /tmp/after.json
    cd ../before && PYTHONPATH=. .venv/bin/python ../h-raw/bench/sameness.py --generated /tmp/gen \
        --files-from ../h-raw --out /tmp/before.json
    python bench/sameness.py --compare /tmp/before.json /tmp/after.json
"""
from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from datetime import date
from pathlib import Path

DAY = date(2026, 11, 21)
SMALL = 64 << 10  # small parts: a multi-part read of even the test files


def frame_hash(frame) -> str:
    """sha256 of the frame's schema and rows in file order (sorted by file_line; rows of one line
    by every column), whatever order the rows came in."""
    import polars as pl
    keys = [c for c in ("file_line", "field") if c in frame.columns]
    ordered = frame.sort([*keys, *[c for c in frame.columns if c not in keys]], nulls_last=True,
                         maintain_order=True) if frame.height else frame
    h = hashlib.sha256(repr(list(frame.schema.items())).encode())
    h.update(ordered.with_columns(pl.col(pl.Datetime).dt.to_string("%Y-%m-%dT%H:%M:%S%.f%z"))
             .write_csv(null_value="<NULL>").encode())
    return h.hexdigest()[:24]


def digest(frames) -> dict:
    import polars as pl
    valid = pl.concat([v for v, _ in frames], how="vertical") if frames else None
    quarantine = pl.concat([q for _, q in frames], how="vertical") if frames else None
    return {"parts": len(frames), "rows": valid.height, "quarantined": quarantine.height,
            "frame": frame_hash(valid), "quarantine": frame_hash(quarantine), "raw": "raw" in valid.columns,
            "frame_without_raw": frame_hash(valid.drop("raw", strict=False))}


def _spanned(fmt: str) -> bool:
    """Whether the pipeline stores ``fmt``'s lines with their span (False before recon.lineage)."""
    try:
        from recon import lineage
    except ImportError:
        return False
    return lineage.spanned(fmt)


def _as_the_pipeline(fmt: str) -> dict:
    """The keywords the pipeline parses ``fmt`` with: raw=False for a spanned format, where the
    registry takes it."""
    import inspect

    from schemas import registry
    takes = "raw" in inspect.signature(registry.parse_parts).parameters
    return {"raw": False} if takes and _spanned(fmt) else {}


def run_statement(data: bytes, name: str, part_bytes, fmt: str | None = None) -> dict:
    from schemas import registry
    try:
        fmt = fmt or registry.identify(data, name)
    except Exception as e:  # noqa: BLE001 - recorded and compared, not raised
        return {"identify": _error(e)}
    sha = hashlib.sha256(data).hexdigest()
    try:
        parsed = list(registry.parse_parts(fmt, data, name=name, source="src", sha256=sha, business_date=DAY,
                                           timezone="Asia/Shanghai", part_bytes=part_bytes,
                                           **_as_the_pipeline(fmt)))
    except Exception as e:  # noqa: BLE001
        return {"format": fmt, "error": _error(e)}
    checks = [c for p in parsed for c in p.checks]
    return {"format": fmt, "spanned": _spanned(fmt), **digest([(p.frame, p.quarantine) for p in parsed]),
            "checks": [[c.name, c.expected, c.found, c.ok] for c in checks]}


def run_ledger(data: bytes, name: str, part_bytes, layout=None) -> dict:
    from schemas.ledger import parse_ledger_parts
    kwargs = {"layout": layout} if layout is not None else {}
    try:
        parts = list(parse_ledger_parts(data, name=name, sha256=hashlib.sha256(data).hexdigest(),
                                        part_bytes=part_bytes, **kwargs))
    except Exception as e:  # noqa: BLE001
        return {"format": "ledger", "error": _error(e)}
    return {"format": "ledger", **digest(parts)}


def _error(e: Exception) -> str:
    return f"{type(e).__name__}: {e}"


def _is_ledger(name: str) -> bool:
    return name.startswith("ledger_")


def inputs(root: Path, days: list[Path], tmp: Path, generated: Path | None = None,
           files: Path | None = None):
    """(label, bytes, name, kind, layout) of every input. ``generated``: where the two small days
    are, generated there by the first run that finds it empty, so that two checkouts whose
    generators differ are compared on the same files; ``files``: the checkout whose tests/data
    (and ../shared/conformance) are read, when not this one (test files added since)."""
    for base in ((files or root) / "tests" / "data", (files or root).parent / "shared" / "conformance"):
        for path in sorted(p for p in base.rglob("*") if p.is_file()):
            if path.suffix in (".md", ".expected") or "LICENSES" in path.parts or "rate_cards" in path.parts:
                continue
            yield f"{base.name}/{path.relative_to(base)}", path.read_bytes(), path.name, None
    for day in days:
        for path in sorted(p for p in day.rglob("*") if p.is_file() and p.suffix in (".csv", ".xml")
                           and not p.name.startswith("ground_truth")):
            yield str(path), path.read_bytes(), path.name, None
    from recon.generate import generate_day
    for scenario in ("standard", "hard"):
        out = (generated or tmp) / scenario
        if not out.is_dir():
            generate_day(DAY, out, seed=7, scale=3000, scenario=scenario)
        good = {}
        for path in sorted(p for p in out.rglob("*") if p.is_file() and p.suffix in (".csv", ".xml")
                           and not p.name.startswith("ground_truth")):
            yield f"generated/{scenario}/{path.name}", path.read_bytes(), path.name, None
            good[path.name] = path.read_bytes()
        if scenario == "standard":
            yield from _hostile(good)
    yield from _mapped(root, tmp)


def _hostile(good: dict[str, bytes]):
    from tests import hostile_corpus
    by_format = {}
    for name, data in good.items():
        fmt = "ledger_csv" if _is_ledger(name) else name.rsplit("_", 1)[0]
        by_format[fmt] = data
    wanted = {k: v for k, v in by_format.items() if k in hostile_corpus.CSV_FORMATS or k == "camt053"}
    rows = {k: v.count(b"\n") for k, v in wanted.items()}
    for item in hostile_corpus.corpus(wanted, rows):
        fmt, mutation, bad = item[0], item[1], item[2]
        ledger = fmt == "ledger_csv"
        name = "camt053_20261122.xml" if fmt == "camt053" else f"{'ledger' if ledger else fmt}_20261121.csv"
        yield f"hostile/{fmt}/{mutation}", bad, name, "ledger" if ledger else None


def _mapped(root: Path, tmp: Path):
    sys.path.insert(0, str(root))
    from recon import config
    from tests import test_ledger_layout as t
    cfg = config.load(t._config(tmp))
    spec = root / "tests" / "data" / "spec" / "buchungsjournal_20261121.csv"
    yield "mapped/buchungsjournal", spec.read_bytes(), spec.name, cfg.ledger.layout


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--day", action="append", default=[], help="a generated day's folder (read-only)")
    p.add_argument("--out", help="write the hashes here (JSON)")
    p.add_argument("--generated", help="a folder for the small generated days, shared between runs")
    p.add_argument("--files-from", help="read tests/data of this checkout (default: the current one)")
    p.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    args = p.parse_args(argv)
    if args.compare:
        return compare(*map(Path, args.compare))
    from recon.pipeline import PART_BYTES
    root = Path.cwd()
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for label, data, name, kind in inputs(root, [Path(d) for d in args.day], Path(tmp),
                                              Path(args.generated) if args.generated else None,
                                              Path(args.files_from) if args.files_from else None):
            big = len(data) > PART_BYTES
            for part_bytes in ((PART_BYTES,) if big else (None, SMALL)):
                key = f"{label} [parts of {part_bytes or 'whole'}]"
                layout = kind if kind is not None and not isinstance(kind, str) else None
                if layout is not None or kind == "ledger" or _is_ledger(name):
                    out[key] = run_ledger(data, name, part_bytes, layout)
                else:
                    out[key] = run_statement(data, name, part_bytes)
                print(key, json.dumps(out[key], ensure_ascii=False)[:160], flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n", "utf-8")
    return 0


def _compared(entry: dict | None, spanned: bool) -> dict | None:
    """What is compared of one input: everything, but for a spanned format the frame's hash
    without ``raw`` instead of with it (whether raw is there is counted apart)."""
    if entry is None:
        return None
    drop = {"spanned", "raw"} | ({"frame"} if spanned else {"frame_without_raw"})
    return {k: v for k, v in entry.items() if k not in drop}


def compare(before: Path, after: Path) -> int:
    a, b = (json.loads(p.read_text("utf-8")) for p in (before, after))
    differ = []
    for k in sorted(set(a) | set(b)):
        spanned = bool((a.get(k) or {}).get("spanned") or (b.get(k) or {}).get("spanned"))
        if _compared(a.get(k), spanned) != _compared(b.get(k), spanned):
            differ.append(k)
            print(f"DIFFERS {k}\n  before {a.get(k)}\n  after  {b.get(k)}")
    rows = sum(v.get("rows", 0) for v in b.values())
    quarantined = sum(v.get("quarantined", 0) for v in b.values())
    errors = sum("error" in v or "identify" in v for v in b.values())
    print(f"{len(b)} inputs compared ({rows:,} canonical rows, {quarantined:,} quarantine rows, "
          f"{errors} rejected), {len(differ)} differ")
    spanned = {k: v for k, v in b.items() if v.get("spanned") and "rows" in v}
    print(f"of which {len(spanned)} of spanned formats ({sum(v['rows'] for v in spanned.values()):,} rows), "
          f"frames compared without raw: raw present in {sum(bool((a.get(k) or {}).get('raw')) for k in spanned)} "
          f"before, in {sum(bool(v['raw']) for v in spanned.values())} after")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
