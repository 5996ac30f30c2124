"""The Summary sheet: run facts, sources and their files, matched totals, breaks by category,
the match rate over the last 30 business dates, and two native charts drawn from those cells."""
from __future__ import annotations

from typing import Any

from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.chart.label import DataLabelList
from openpyxl.utils import get_column_letter

from recon.reports.model import RunSummary
from recon.reports.i18n import value
from recon.reports.sheets.cells import Cells, fit, label, local_time, print_setup
from recon.reports.summary import break_totals, category_label, category_order, match_rate

CHART_COLUMN = 4  # charts sit right of the run facts (columns A-B), from column D
CHART_WIDTH_CM, CHART_HEIGHT_CM = 12.5, 7.4
CM_PER_WIDTH_UNIT = 0.2  # one unit of Excel column width (a "0" of the default font), roughly


def _history_rates(s: RunSummary) -> list[tuple[Any, Any, str]]:
    from decimal import ROUND_HALF_UP, Decimal
    out = []
    for d in s.history:
        rate = (Decimal(d.matched_statement) / Decimal(d.statement_lines)).quantize(
            Decimal("0.0001"), ROUND_HALF_UP) if d.statement_lines else Decimal(1)
        out.append((d.business_date, rate, d.run_id))
    return out


def summary_rows(s: RunSummary, c: Cells, language: str, note: str) -> tuple[list[list[Any]],
                                                                             dict[str, Any]]:
    """The sheet's rows, and where the chart data sits (1-based rows) for :func:`add_charts`."""
    L = lambda t: label(t, language)  # noqa: E731
    facts: list[tuple[str, Any, str]] = [
        ("run id", s.run_id, "id"), ("business date", s.business_date, "date"),
        ("started at (UTC)", local_time(s.started_at, "UTC")[0], "datetime"),
        ("finished at (UTC)", local_time(s.finished_at, "UTC")[0], "datetime"),
        ("code version", s.code_version, "id"),
        ("config sha256", s.config_sha256[:12], "id"),
        ("reconciled", L("yes") if s.reconciled else L("no"), "id"),
        ("match rate", match_rate(s), "percent"),
        ("ledger entries", s.ledger_entries, "int"), ("statement lines", s.statement_lines, "int"),
        ("matched ledger entries", s.matched_ledger, "int"),
        ("matched statement lines", s.matched_statement, "int"),
        ("quarantined rows", s.quarantined, "int"), ("breaks", len(s.breaks), "int"),
        ("linked within tolerance", len(s.tolerances), "int"),
        ("tie-out", tie_out_text(s, language), "id"),
        ("pending (source late)", sum(p.items for p in s.pending), "int"),
    ]
    title = ("对账汇总 " if language == "zh" else "Reconciliation ") + s.business_date.isoformat()
    rows: list[list[Any]] = [[c.styled(title, c.title)]]
    rows += [[L(name), c.make(v, kind, None)] for name, v, kind in facts]
    if note:
        rows.append([L("note"), c.styled(note, c.alert)])
    tables: list[list[Any]] = []

    def section(name: str, headers: tuple[str, ...]) -> None:
        tables.extend([[], [c.styled(L(name), c.section)],
                       [c.styled(L(h), c.head) for h in headers]])

    section("Sources", ("source", "kind", "file", "sha256", "status", "lines", "quarantined",
                        "control total", "error"))
    for x in s.sources:
        status = value(x.status, language)
        tables.append([c.text(x.source, False), value(x.kind, language),
                       c.text(x.file_name, False), (x.sha256 or "")[:12] or None,
                       c.styled(status, c.alert) if x.status in ("missing", "rejected")
                       else status, x.lines, x.quarantined,
                       c.text(value(x.control_total, language), True), c.text(x.error, True)])
    if s.pending:  # one line per late source: its ledger items wait, they are not breaks yet
        section("Late sources", ("source", "currency", "items", "amount", "oldest", "age (days)"))
        tables += [[c.text(p.source, False), p.currency, p.items, c.amount(p.amount_minor, p.currency),
                    c.make(p.oldest, "date", None), p.age_days] for p in s.pending]
    section("Matched", ("currency", "count", "amount"))
    tables += [[t.currency, t.count, c.amount(t.amount_minor, t.currency)]
               for t in sorted(s.matched_amounts, key=lambda t: t.currency)]
    section("Matched by rule", ("rule", "count"))
    tables += [[c.text(value(rule, language), False), n]
               for rule, n in sorted(s.matched_by_rule.items())]
    # links made within a tolerance: matched, their differences listed on the Tolerances sheet
    section("Linked within tolerance", ("currency", "count", "sum of |differences|"))
    tables += [[ccy, n, c.amount(total, ccy)] for ccy, (n, total) in s.within_tolerance.items()]
    section("Breaks by category", ("category", "currency", "count", "sum of differences",
                                   "sum of |differences|"))
    totals = break_totals(s.breaks)
    tables += [[category_label(t.category, language), t.currency, t.count,
                c.amount(t.net_minor, t.currency), c.amount(t.absolute_minor, t.currency)]
               for t in totals]
    tables += roll_forward_rows(s, c, L, section)
    tables += tie_out_rows(s, c, L, section)
    # chart data: one count per category (the table above splits categories by currency)
    section("Breaks per category", ("category", "count"))
    start = len(rows) + len(tables) + 1
    for cat, n in sorted(s.breaks_by_category.items(), key=lambda kv: category_order(kv[0])):
        tables.append([category_label(cat, language), n])
    where: dict[str, Any] = {"categories": (start, start + len(s.breaks_by_category) - 1)}
    section("Match rate, last 30 days", ("business date", "match rate", "run id"))
    start = len(rows) + len(tables) + 1
    for day, rate, run_id in _history_rates(s):
        tables.append([c.make(day, "date", None), c.make(rate, "percent", None),
                       c.text(run_id, False)])
    where["history"] = (start, start + len(s.history) - 1)
    if c.removed or c.masked or c.quoted:
        text = (f"已移除 {c.removed} 个控制字符，遮蔽 {c.masked} 个卡号，{c.quoted} 个形似公式的"
                f"文本按文本保存" if language == "zh" else
                f"{c.removed} control characters removed, {c.masked} card numbers masked, "
                f"{c.quoted} formula-like texts kept as text")
        rows.append([L("source text"), text])
    where["language"] = language
    return rows + tables, where


BRIDGE_HEADERS = ("source", "currency", "opening", "new", "auto-cleared", "resolved", "corrected",
                  "closing", "check")
TIE_HEADERS = ("source", "currency", "check", "left side", "amount", "right side", "amount",
               "difference")


def tie_out_text(s: RunSummary, language: str) -> str:
    if s.tie_out is None:
        return "not checked"
    if not s.tie_out:
        return label("ok", language)
    return f"{len(s.tie_out)} differences"


def roll_forward_rows(s: RunSummary, c: Cells, L, section) -> list[list[Any]]:
    """Per source and currency, two rows: the counts, then the amounts (Σ |difference|):
    opening + new − auto-cleared − resolved ± corrected = closing; check: closing − that."""
    out: list[list[Any]] = []
    if not s.bridge:
        return out
    section("Roll-forward of open breaks", BRIDGE_HEADERS)
    for r in s.bridge:
        counts = (r.opening_count, r.new_count, r.auto_count, r.resolved_count, r.corrected_count,
                  r.closing_count)
        amounts = (r.opening_minor, r.new_minor, r.auto_minor, r.resolved_minor, r.corrected_minor,
                   r.closing_minor)
        ok = not r.check_count and not r.check_minor
        out += [
            [c.text(r.source, False), r.currency or None, *counts,
             L("ok") if ok else c.styled(r.check_count, c.alert)],
            [None, r.currency or None, *(c.amount(v, r.currency or None) for v in amounts),
             L("ok") if ok else c.amount(r.check_minor, r.currency or None)]]
    return out


def tie_out_rows(s: RunSummary, c: Cells, L, section) -> list[list[Any]]:
    """The tie-out's offending differences (recon/reports/tieout.py), or that all reports agree."""
    if s.tie_out is None:
        return []
    section("Tie-out", TIE_HEADERS)
    if not s.tie_out:
        return [[L("all reports agree")]]
    return [[c.text(t.source, False) or None, t.currency, c.styled(t.check, c.alert), t.left,
             c.amount(t.left_minor, t.currency), t.right, c.amount(t.right_minor, t.currency),
             c.amount(t.difference_minor, t.currency)] for t in s.tie_out]


def _plain(v: Any) -> Any:
    return getattr(v, "value", v)


def write_summary(ws: Any, rows: list[list[Any]], where: dict[str, Any], *,
                  cells: Cells | None = None) -> None:
    ncols = max(len(r) for r in rows)
    fitted = [r for r in rows if len(r) > 1]  # one-cell titles and notes may overflow freely
    fit(ws, ((["auto"] * len(r), [_plain(v) for v in r]) for r in fitted), ncols)
    ws.sheet_view.showGridLines = False
    if cells is not None:
        print_setup(ws, cells, repeat_header=False, one_page_wide=True)
    for r in rows:
        ws.append(r)
    add_charts(ws, where)


def _anchor_after(ws: Any, column: int, width_cm: float) -> int:
    """The first column right of a chart of ``width_cm`` anchored at ``column``."""
    used = 0.0
    while used < width_cm + 0.3:
        dim = ws.column_dimensions.get(get_column_letter(column))
        used += (dim.width if dim is not None and dim.width else 8.43) * CM_PER_WIDTH_UNIT
        column += 1
    return column


def add_charts(ws: Any, where: dict[str, Any]) -> None:
    zh = where.get("language") == "zh"
    second = get_column_letter(_anchor_after(ws, CHART_COLUMN, CHART_WIDTH_CM))
    first_anchor = get_column_letter(CHART_COLUMN)
    first, last = where["categories"]
    if last >= first:
        bar = BarChart()
        bar.type, bar.style = "bar", 10
        bar.title = "差异类别" if zh else "Breaks by category"
        bar.legend = None
        bar.add_data(Reference(ws, min_col=2, min_row=first, max_row=last), titles_from_data=False)
        bar.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
        bar.dataLabels = DataLabelList(showVal=True, showCatName=False, showSerName=False,
                                       showLegendKey=False, showPercent=False)
        bar.y_axis.title = "笔数" if zh else "breaks"
        bar.y_axis.majorGridlines = None
        bar.height, bar.width = CHART_HEIGHT_CM, CHART_WIDTH_CM
        ws.add_chart(bar, f"{first_anchor}2")
    first, last = where["history"]
    if last >= first:
        line = LineChart()
        line.title = "匹配率(近30天)" if zh else "Match rate, last 30 days"
        line.legend = None
        line.add_data(Reference(ws, min_col=2, min_row=first, max_row=last),
                      titles_from_data=False)
        line.set_categories(Reference(ws, min_col=1, min_row=first, max_row=last))
        line.y_axis.number_format = "0%"
        line.y_axis.scaling.max = 1
        line.x_axis.number_format = "mm-dd"
        line.series[0].marker.symbol = "circle"
        line.height, line.width = CHART_HEIGHT_CM, CHART_WIDTH_CM
        ws.add_chart(line, f"{second}2")
