"""What `recon runs`, `recon rerun` and `recon ledger load` print: aligned columns, differences in
words and major units, and the who and why of a ledger correction."""
from __future__ import annotations

import sys
from pathlib import Path

from recon import audit, warehouse
from recon.config import Config
from recon.errors import EXIT_BREAKS, EXIT_ERROR

LIST_COLUMNS = (("run", "run_id", "<"), ("business date", "business_date", "<"),
                ("started (UTC)", "started_at", "<"), ("status", "status", "<"),
                ("open breaks", "open_breaks", ">"), ("inputs", "inputs", ">"))


def runs_table(rows: list[dict]) -> str:
    """The runs as a table whose columns are as wide as their longest value (a rerun's id, e.g.
    ``20261121-063000-ab12cd-rerun2``, never runs into the date)."""
    def cell(r: dict, key: str) -> str:
        v = r[key]
        return f"{v:%Y-%m-%d %H:%M:%S}" if key == "started_at" and v is not None else str(v)

    cells = [[cell(r, key) for _, key, _ in LIST_COLUMNS] for r in rows]
    widths = [max([len(h)] + [len(c[i]) for c in cells]) for i, (h, _, _) in enumerate(LIST_COLUMNS)]

    def line(values: list[str]) -> str:
        return "  ".join(f"{v:{a}{w}}" for v, w, (_, _, a) in zip(values, widths, LIST_COLUMNS)).rstrip()

    return "\n".join([line([h for h, _, _ in LIST_COLUMNS]), *(line(c) for c in cells),
                      f"{len(rows)} run(s)"])


def diff_text(d: dict) -> str:
    """`recon runs diff` in words: what changed between the runs, and each break that appeared,
    left or changed, with its amounts in major units and the reason."""
    a, b = d["runs"]
    out = [f"run {a} ({d['business_dates'][0]}) -> run {b} ({d['business_dates'][1]})"]
    if d["config_changed"]:
        out.append("  the configuration changed")
    if d["code_changed"]:
        out.append("  the code version changed")
    for key, side in (("inputs_only_in_a", f"only {a} read"), ("inputs_only_in_b", f"only {b} read")):
        for source, sha in d[key]:
            out.append(f"  {side} a {source} file (sha256 {(sha or '')[:12]}…)")
    verbs = {"new": "appeared", "auto-cleared": "left, auto-cleared", "resolved": "left, resolved",
             "corrected": "left, corrected", "no longer raised": "left", "continuing": "changed"}
    for m in d.get("movements", []):
        amounts = (f"{m['before']} -> {m['after']}" if m["how"] == "continuing"
                   else m["before"] or m["after"])
        out.append(f"  break {m['break_id']} {verbs.get(m['how'], m['how'])}: {m['category']} "
                   f"{m['source']} {m['reference']} {amounts}: {m['why']}")
    if d["outputs_differ"]:
        out.append(f"  outputs that differ: {', '.join(d['outputs_differ'])}")
    if len(out) == 1:
        out.append("  no difference")
    return "\n".join(out)


def differs(d: dict) -> bool:
    return bool(d["config_changed"] or d["code_changed"] or d["inputs_only_in_a"] or d["inputs_only_in_b"]
                or d.get("movements") or d["outputs_differ"])


def rerun_text(cfg: Config, result) -> str:
    where = (f"scratch copy kept in {result.scratch}" if result.kept
             else f"scratch copy {result.scratch} removed")
    if result.identical:
        return (f"rerun {result.rerun_id} of {result.original}: identical ({len(result.outputs)} "
                f"outputs, byte for byte; the reports on disk match the manifest); {where}")
    out = [f"rerun {result.rerun_id} of {result.original}: differs (runbook: "
           f"docs/operations.md#rerun-mismatch); {where}"]
    out += [f"  {line}" for line in result.differences]
    d = audit.diff_runs(cfg, result.original, result.rerun_id)
    out += diff_text(d).splitlines()[1:]
    return "\n".join(out)


def ledger_load(cfg: Config, path: Path, who: str | None, why: str | None) -> int:
    """Append a ledger export and record who loaded it and why (a correction) with the load."""
    from datetime import date

    from connectors.archive import Archive
    from connectors.local import fetch_local
    from recon import pipeline
    files = fetch_local(path.parent, path.name, date.today(), Archive(cfg.archive), source="ledger")
    quarantined = 0
    for f in files:
        status = pipeline.load_ledger_file(cfg, f, None, None)
        print(f"{f.name}: {status.status}, {status.lines} entries, {status.quarantined} quarantined"
              + (f", loaded by {who}" if who else "") + (f": {why}" if why else ""))
        if status.status != "loaded":
            print(status.error, file=sys.stderr)
            return EXIT_ERROR
        quarantined += status.quarantined or 0
        if who or why:
            con = warehouse.connect(cfg.warehouse)
            try:  # the first load of these bytes keeps its who and why
                con.execute("UPDATE files SET loaded_by = coalesce(loaded_by, ?), "
                            "load_reason = coalesce(load_reason, ?) WHERE sha256 = ?", [who, why, f.sha256])
            finally:
                con.close()
    return EXIT_BREAKS if quarantined else 0  # quarantined lines are never "all fine"
