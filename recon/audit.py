"""What auditors ask: which runs happened with what, how two runs differ, and where a break
comes from — down to the bytes of the source line in the immutable archive."""
from __future__ import annotations

import json
from pathlib import Path

from connectors.archive import Archive
from recon import lineage, pan, warehouse, xmlentry
from recon.reports.safe import compact
from recon.config import Config
from recon.errors import ReconError
from recon.money import to_decimal
from recon.rules import describe


def _dicts(con, query: str, params: list) -> list[dict]:
    cur = con.execute(query, params)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r)) for r in cur.fetchall()]


def _money(minor, currency) -> str:
    return "" if minor is None else f"{to_decimal(minor, currency)} {currency}"


def list_runs(cfg: Config, business_date=None) -> list[dict]:
    con = warehouse.connect(cfg.warehouse)
    try:
        return _dicts(con, """
            SELECT r.run_id, r.business_date, r.started_at, r.status,
                   (SELECT count(*) FROM breaks b WHERE b.run_id = r.run_id AND b.status = 'open') AS open_breaks,
                   json_array_length(coalesce(r.input_files, '[]')) AS inputs
            FROM runs r WHERE (? IS NULL OR r.business_date = ?)
            ORDER BY r.business_date, r.started_at""", [business_date, business_date])
    finally:
        con.close()


def get_run(con, run_id: str) -> dict:
    found = _dicts(con, "SELECT * FROM runs WHERE run_id = ?", [run_id])
    if not found:
        known = [r[0] for r in warehouse.rows(con, "SELECT run_id FROM runs ORDER BY started_at DESC LIMIT 5")]
        raise ReconError(f"no run {run_id!r} in the warehouse.",
                         hint=f"`recon runs list` shows the runs (latest: {', '.join(known) or 'none'}).")
    run = found[0]
    for k in ("input_files", "outputs", "timings"):
        run[k] = json.loads(run[k]) if run[k] else ({} if k != "input_files" else [])
    # ledger loads with a who and why (corrections) touching the run's day; after_run: loaded
    # after its ledger watermark, so not seen by it (nor by a rerun of it)
    run["ledger_loads"] = _dicts(con, """
        SELECT f.name, f.sha256, f.fetched_at, f.loaded_by, f.load_reason,
               f.fetched_at > coalesce(r.ledger_watermark, r.started_at) AS after_run
        FROM files f, runs r
        WHERE r.run_id = ? AND f.source = 'ledger' AND f.parse_status = 'loaded'
          AND (f.loaded_by IS NOT NULL OR f.load_reason IS NOT NULL)
          AND (f.business_date = r.business_date OR f.sha256 IN (
                   SELECT DISTINCT file_sha256 FROM ledger_entries WHERE business_date = r.business_date))
        ORDER BY f.fetched_at""", [run_id])
    run["breaks_by_category"] = dict(warehouse.rows(
        con, "SELECT category, count(*) FROM breaks WHERE run_id = ? AND status = 'open' GROUP BY 1 ORDER BY 1",
        [run_id]))
    return run


def show_run(cfg: Config, run_id: str) -> dict:
    con = warehouse.connect(cfg.warehouse)
    try:
        return get_run(con, run_id)
    finally:
        con.close()


def diff_runs(cfg: Config, a: str, b: str) -> dict:
    """Inputs, configuration and breaks that differ between two runs (of the same day, usually)."""
    con = warehouse.connect(cfg.warehouse)
    try:
        ra, rb = get_run(con, a), get_run(con, b)
        key = "SELECT break_id, category, source, reference, ledger_amount_minor, statement_amount_minor, " \
              "currency FROM breaks WHERE run_id = ? AND status = 'open'"
        ba = {r[0]: r[1:] for r in warehouse.rows(con, key, [a])}
        bb = {r[0]: r[1:] for r in warehouse.rows(con, key, [b])}
        from recon.reports.rollforward import load_movements
        moved = [m for m in load_movements(con, a, b) if m.movement != "continuing"
                 or m.before_minor != m.after_minor]
    finally:
        con.close()
    ins_a = {(i["source"], i["sha256"]) for i in ra["input_files"]}
    ins_b = {(i["source"], i["sha256"]) for i in rb["input_files"]}
    return {
        "runs": [a, b],
        "business_dates": [str(ra["business_date"]), str(rb["business_date"])],
        "config_changed": ra["config_sha256"] != rb["config_sha256"],
        "code_changed": ra["code_version"] != rb["code_version"],
        "inputs_only_in_a": sorted(ins_a - ins_b), "inputs_only_in_b": sorted(ins_b - ins_a),
        "breaks_only_in_a": sorted((k, *v[:3]) for k, v in ba.items() if k not in bb),
        "breaks_only_in_b": sorted((k, *v[:3]) for k, v in bb.items() if k not in ba),
        "breaks_changed": sorted((k, ba[k], bb[k]) for k in ba.keys() & bb.keys() if ba[k] != bb[k]),
        # each break that appeared, left or changed, and why (recon.reports.rollforward.Movement)
        "movements": [{"break_id": m.break_id, "category": m.category, "source": m.source,
                       "currency": m.currency, "reference": m.reference, "how": m.how,
                       "before": _money(m.before_minor, m.currency),
                       "after": _money(m.after_minor, m.currency), "why": m.why} for m in moved],
        "outputs_differ": sorted(n for n in set(ra["outputs"]) | set(rb["outputs"])
                                 if (ra["outputs"].get(n) or {}).get("sha256")
                                 != (rb["outputs"].get(n) or {}).get("sha256")),
    }


def source_line(archive: Archive, sha256: str, line: int) -> str:
    """The bytes of a source line (an XML entry: from its start tag to its end tag), verified
    against the archive's hash, decoded for display with undecodable bytes shown as escapes.
    A big file is read a block at a time up to the line (Archive.open), never whole."""
    data = archive.open(sha256)
    if isinstance(data, bytes) and xmlentry.is_xml(data):  # the entry, not its physical line
        found = xmlentry.entry(data, line)
        if found is not None:
            return found.decode("utf-8", errors="backslashreplace")
    start = _line_start(data, line)
    if start < 0:
        total = data.count(b"\n") + (1 if len(data) and data[len(data) - 1:] != b"\n" else 0)
        return f"(line {line} is outside the file's {total} lines)"
    lines = _lines_from(data, start, 1)
    if lines[0].lstrip().startswith(b"<Ntry"):
        lines = _lines_from(data, start, 201)
        end = next((i for i, ln in enumerate(lines) if b"</Ntry>" in ln), len(lines) - 1)
        lines = lines[:end + 1]
    return b"\n".join(lines).decode("utf-8", errors="backslashreplace")


_BLOCK = 16 << 20


def _line_start(data, line: int) -> int:
    """The offset where physical line ``line`` (1-based, lines end in \\n) starts; -1 past the end."""
    if line < 1:
        return -1
    pos, need = 0, line - 1  # newlines still to pass
    while need:
        block = data[pos:pos + _BLOCK]
        if not block:
            return -1
        k = block.count(b"\n")
        if k < need:
            need, pos = need - k, pos + len(block)
            continue
        at = -1
        for _ in range(need):
            at = block.find(b"\n", at + 1)
        pos, need = pos + at + 1, 0
    return pos if pos < len(data) else -1


def _lines_from(data, start: int, n: int) -> list[bytes]:
    """Up to ``n`` lines from offset ``start`` (without their line ends)."""
    out: list[bytes] = []
    pos = start
    while len(out) < n and pos < len(data):
        block = data[pos:pos + _BLOCK]
        cut = block.find(b"\n")
        while cut < 0 and pos + len(block) < len(data):  # a line longer than a block
            block = data[pos:pos + 2 * len(block)]
            cut = block.find(b"\n")
        piece = block if cut < 0 else block[:cut]
        out.append(piece.rstrip(b"\r"))
        pos += len(piece) + 1
    return out or [b""]


def trace(cfg: Config, break_id: str, run_id: str | None = None) -> dict:
    """A break, the rule and evidence around it, its ledger rows as of the run, its statement
    lines with file, line and raw bytes, and its annotation history."""
    con = warehouse.connect(cfg.warehouse)
    try:
        found = _dicts(con, """
            SELECT b.*, r.ledger_watermark FROM breaks b JOIN runs r USING (run_id)
            WHERE b.break_id = ? AND (? IS NULL OR b.run_id = ?)
            ORDER BY r.business_date DESC, r.started_at DESC LIMIT 1""", [break_id, run_id, run_id])
        if not found:
            raise ReconError(f"no break {break_id!r}{' in run ' + run_id if run_id else ''}.",
                             hint="Break ids are in the workbook's first column and in `recon runs show`.")
        brk = found[0]
        entries = _dicts(con, """
            SELECT e.* EXCLUDE (ref_key), f.name AS file_name, f.loaded_by, f.load_reason
            FROM ledger_entries e LEFT JOIN files f ON f.sha256 = e.file_sha256
            WHERE e.entry_id = ? AND e.recorded_at <= coalesce(?, e.recorded_at)
            ORDER BY e.recorded_at""", [brk["ledger_entry_id"], brk["ledger_watermark"]])
        line_ids = [brk["line_id"]] if brk["line_id"] else []
        if brk["category"] in ("payout_mismatch", "unsettled") or brk["rule"] == "three_way_payout":
            # The payout's lines the run read: of its own input files, not of a delivery that a
            # corrected file replaced (its lines stay, for reruns of the runs that read it); a
            # payout carried from an earlier day: of that day's files as they stood at the run.
            line_ids += [r[0] for r in warehouse.rows(con, """
                SELECT s.line_id FROM statement_lines s JOIN files f ON f.sha256 = s.file_sha256, runs r
                WHERE r.run_id = ? AND s.payout_id = ? AND s.txn_type = 'payout'
                  AND (list_contains(json_extract_string(r.input_files, '$[*].sha256'), s.file_sha256)
                       OR (f.business_date < r.business_date
                           AND NOT EXISTS (SELECT 1 FROM files g WHERE g.sha256 = f.superseded_by
                                                                   AND g.fetched_at <= r.started_at)))""",
                [brk["run_id"], brk["reference"]])]
        lines = _dicts(con, """
            SELECT s.line_id, s.source, s.file_sha256, s.file_line, s.txn_type, s.amount_minor, s.currency,
                   s.merchant_reference, s.psp_reference, s.payout_id, f.name AS file_name,
                   s.byte_offset, s.byte_length
            FROM statement_lines s JOIN files f ON f.sha256 = s.file_sha256
            WHERE list_contains(?, s.line_id) ORDER BY s.line_id""", [line_ids])
        evidence = _dicts(con, """
            SELECT rule, kind, ledger_entry_id, line_id, payout_id, difference_minor, evidence FROM matches
            WHERE run_id = ? AND (line_id = ? OR ledger_entry_id = ? OR payout_id = ?)""",
                          [brk["run_id"], brk["line_id"], brk["ledger_entry_id"], brk["reference"]])
        history = _dicts(con, "SELECT status, reason, comment, who, annotated_at, workbook_sha FROM annotations "
                              "WHERE break_id = ? ORDER BY annotated_at", [break_id])
    finally:
        con.close()
    archive = Archive(cfg.archive)
    opened: dict = {}  # each archived file re-hashed once (lineage.line_bytes)
    declared = {s.name: (s.options or {}).get("encoding") for s in cfg.sources}
    for row in lines:
        # A line stored with its span (recon.lineage): exactly its bytes; one loaded before spans
        # existed, or of a format that keeps raw: found by its line number, as before.
        text = source_line(archive, row["file_sha256"], row["file_line"]) if row["byte_offset"] is None \
            else lineage.line_text(archive, row["file_sha256"], row["byte_offset"], row["byte_length"],
                                   declared.get(row["source"]), opened)
        row["raw_bytes"] = _shown(text, row)
    for row in entries:
        row["raw_bytes"] = _shown(source_line(archive, row["file_sha256"], row["file_line"]), row)
    return {"break": brk, "ledger_entries": entries, "statement_lines": lines, "evidence": evidence,
            "annotations": history}


def _shown(raw: str, row: dict) -> str:
    """An archived line as trace prints it: card numbers masked (the archive keeps the bytes),
    the row's own references left as they are (recon.pan: identifiers are not free text)."""
    keep = frozenset(compact(str(row[r])) for r in pan.REFERENCES if row.get(r))
    return pan.mask_text(raw, keep)


def format_trace(t: dict) -> str:
    b = t["break"]
    out = [f"break {b['break_id']}: {b['category']} ({b['status']}) — {b['source']} {b['reference']}",
           f"  run {b['run_id']} for {b['business_date']}, first seen {b['first_seen']}, rule {b['rule']}",
           f"  ledger {_money(b['ledger_amount_minor'], b['currency'])}, "
           f"statement {_money(b['statement_amount_minor'], b['currency'])}, "
           f"difference {_money(b['difference_minor'], b['currency'])}",
           f"  {b['detail']}" if b["detail"] else ""]
    for e in t["evidence"]:
        out.append(f"  evidence: rule {e['rule']} ({e['kind']}; {describe(e['rule']) or 'no description'}): "
                   f"{e['evidence']}")
    for e in t["ledger_entries"]:
        out.append(f"  ledger entry {e['entry_id']} recorded {e['recorded_at']}: {e['txn_type']} "
                   f"{_money(e['amount_minor'], e['currency'])} ref {e['merchant_reference']} — "
                   f"{e['file_name']} line {e['file_line']}")
        if e.get("loaded_by") or e.get("load_reason"):
            out.append(f"    loaded by {e.get('loaded_by') or 'unknown'}: {e.get('load_reason') or 'no reason given'}")
        out.append(f"    | {e['raw_bytes']}")
    for ln in t["statement_lines"]:
        out.append(f"  statement line {ln['line_id']}: {ln['txn_type']} {_money(ln['amount_minor'], ln['currency'])}"
                   f" — {ln['file_name']} line {ln['file_line']} (sha256 {ln['file_sha256'][:12]}…)")
        out += [f"    | {x}" for x in ln["raw_bytes"].splitlines()]
    for a in t["annotations"]:
        out.append(f"  annotation {a['annotated_at']} by {a['who']}: {a['status']} {a['reason'] or ''} "
                   f"{a['comment'] or ''}".rstrip())
    if not t["annotations"]:
        out.append("  no annotations yet")
    return "\n".join(x for x in out if x)


def write_json(obj: dict, path: Path | None) -> str:
    text = json.dumps(obj, default=str, ensure_ascii=False, indent=2, sort_keys=True)
    if path:
        path.write_text(text + "\n", "utf-8")
    return text
