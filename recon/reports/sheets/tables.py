"""The plain tables: Aging, Payouts (three-way), Fees, Channels (with a trend chart), Positions."""
from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_CEILING, Decimal
from typing import Any

from openpyxl.chart import LineChart, Reference

from recon.reports.channels import AGE_BUCKETS, aging, rates
from recon.reports.clearing import outstanding
from recon.reports.fees import fee_rows
from recon.reports.i18n import value
from recon.reports.model import RunSummary
from recon.reports.sheets.cells import Cells, Column, label, write_table
from recon.reports.summary import category_label, payout_difference_minor

FEE_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("date", "date"), ("currency", "id"), ("method", "id"), ("type", "id"),
    ("count", "int"), ("gross", "amount"), ("actual fee", "amount"), ("expected fee", "amount"),
    ("variance", "amount"), ("effective rate", "rate"),
)
PAYOUT_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("payout id", "id"), ("currency", "id"), ("items", "int"),
    ("settled net", "amount"), ("declared", "amount"), ("bank credit", "amount"),
    ("difference", "amount"), ("status", "id"), ("bank line", "id"), ("matched by", "id"),
    ("ledger entry", "id"), ("ledger amount", "amount"), ("ledger difference", "amount"),
)
AGING_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("category", "id"), ("currency", "id"),
    *((name, "int") for name, _, _ in AGE_BUCKETS),
    ("total", "int"), ("amount", "amount"), ("age (days)", "int"),
)
CHANNEL_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("date", "date"), ("currency", "id"), ("payment count", "int"),
    ("refunds", "int"), ("chargebacks", "int"), ("lines", "int"), ("matched", "int"),
    ("gross", "amount"), ("fees", "amount"), ("success rate", "percent"),
    ("refund rate", "percent"), ("chargeback rate", "percent"), ("match rate", "percent"),
    ("fee rate", "rate"),
)
SIGNAL_HEADERS = ("signal", "source", "date", "currency", "observed", "usual / expected", "threshold",
                  "detail")
SIGNAL_ZH = {"signal": "风险信号", "observed": "观测值", "usual / expected": "常态/应为",
             "threshold": "阈值", "none": "无", "Risk signals of the day": "当日风险信号"}
POSITION_COLUMNS: tuple[Column, ...] = (
    ("source", "id"), ("merchant", "id"), ("sub-merchant", "id"), ("currency", "id"),
    ("lines", "int"), ("payments", "amount"), ("refunds", "amount"), ("chargebacks", "amount"),
    ("other", "amount"), ("fees", "amount"), ("owed", "amount"), ("in payouts", "amount"),
    ("paid", "amount"), ("outstanding", "amount"),
)


FIRST_DAY = ("The match rate trend starts with the second business date: only one so far.",
             "匹配率趋势从第二个业务日开始绘制：目前只有一天的数据。")


def axis_max(rates: Iterable[Decimal | None]) -> float:
    """The top of a rate axis: the largest rate rounded up to the next 10 %, at most 100 %
    (a chart scaled 0-120 % hides the differences that matter near the top)."""
    top = max((r for r in rates if r is not None), default=Decimal(1))
    return float(min(Decimal(1), (top * 10).to_integral_value(ROUND_CEILING) / 10 or Decimal("0.1")))


def write_fees(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    rows = (([r.source, r.business_date, r.currency, r.payment_method,
              value(r.txn_type, language), r.count, r.gross_minor, r.actual_fee_minor, r.expected_fee_minor,
              r.variance_minor,
              None if r.effective_rate_percent is None else r.effective_rate_percent / 100],
             r.currency) for r in fee_rows(s.fees))
    return write_table(ws, cells, FEE_COLUMNS, rows, language=language)


def write_payouts(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    rows = (([p.source, p.payout_id, p.currency, p.settled_items, p.settled_net_minor,
              p.declared_minor, p.bank_credit_minor, payout_difference_minor(p),
              value(p.status, language), p.bank_line_id, value(p.matched_by, language) if p.matched_by else None,
              p.ledger_entry_id, p.ledger_amount_minor, p.ledger_difference_minor], p.currency) for p in s.payouts)
    return write_table(ws, cells, PAYOUT_COLUMNS, rows, language=language)


def write_aging(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    rows = (([a.source, category_label(a.category, language), a.currency, *a.counts,
              sum(a.counts), a.absolute_minor, a.oldest_days], a.currency)
            for a in aging(s.breaks))
    return write_table(ws, cells, AGING_COLUMNS, rows, language=language)


def write_positions(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    rows = (([p.source, p.merchant, p.sub_merchant or None, p.currency, p.lines,
              p.payments_minor, p.refunds_minor, p.chargebacks_minor, p.other_minor,
              p.fees_minor, p.owed_minor, p.in_payouts_minor, p.paid_minor, outstanding(p)],
             p.currency) for p in s.positions)
    return write_table(ws, cells, POSITION_COLUMNS, rows, language=language)


def write_channels(ws: Any, cells: Cells, s: RunSummary, language: str) -> int:
    days = sorted(s.channels, key=lambda c: (c.business_date, c.source, c.currency))

    def row(c):
        r = rates(c)
        return ([c.source, c.business_date, c.currency, c.payments, c.refunds, c.chargebacks,
                 c.lines, c.matched, c.gross_minor, c.fee_minor, r.success, r.refund,
                 r.chargeback, r.match, r.fee], c.currency)

    series = sorted({(c.source, c.currency) for c in days})
    dates = sorted({c.business_date for c in days})
    by_key = {(c.source, c.currency, c.business_date): rates(c).match for c in days}
    where: dict[str, int] = {}

    def signal_label(text: str) -> str:
        return SIGNAL_ZH.get(text, label(text, language)) if language == "zh" else text

    def signals_block():
        # below the channel health: the day's risk signals (recon/signals.py), as text cells
        yield []
        yield [cells.styled(signal_label("Risk signals of the day"), cells.head)]
        yield [cells.styled(signal_label(h), cells.head) for h in SIGNAL_HEADERS]
        for g in s.signals:
            yield [cells.make(v, "id", None) for v in (value(g.kind, language), g.source)] + [
                cells.make(g.business_date, "date", None),
                *(cells.make(v or None, "id", None) for v in (g.currency, g.observed, g.baseline,
                                                              g.threshold)),
                cells.make(g.detail, "text", None)]
        if not s.signals:
            yield [cells.make(signal_label("none"), "id", None)]

    def trend(n: int):
        block = list(signals_block())
        yield from block
        # below the signals: match rate per channel (columns) and date (rows), for the chart
        where["header"] = n + 3 + len(block)
        yield []
        yield [cells.styled(label("date", language), cells.head),
               *(cells.styled(f"{src} {ccy} {label('match rate', language)}", cells.head)
                 for src, ccy in series)]
        for d in dates:
            yield [cells.make(d, "date", None),
                   *(cells.make(by_key.get((src, ccy, d)), "percent", None)
                     for src, ccy in series)]

    def after(n: int):
        yield from trend(n)
        if len(dates) < 2:  # one date draws no trend: say so instead of an empty chart
            yield []
            yield [cells.styled(FIRST_DAY[language == "zh"], cells.alert)]

    # min_width: the trend block below puts dates in column A too
    n = write_table(ws, cells, CHANNEL_COLUMNS, (row(c) for c in days), language=language,
                    after=after, min_width=12)
    if len(dates) >= 2 and series:
        head = where["header"]
        chart = LineChart()
        chart.title = "匹配率趋势(近30天)" if language == "zh" else "Match rate per channel, last 30 days"
        chart.add_data(Reference(ws, min_col=2, max_col=1 + len(series), min_row=head,
                                 max_row=head + len(dates)), titles_from_data=True)
        chart.set_categories(Reference(ws, min_col=1, min_row=head + 1, max_row=head + len(dates)))
        chart.y_axis.number_format = "0%"
        chart.y_axis.scaling.min, chart.y_axis.scaling.max = 0, axis_max(by_key.values())
        chart.x_axis.number_format = "mm-dd"
        chart.height, chart.width = 7.5, 16
        ws.add_chart(chart, f"B{head + len(dates) + 2}")
    return n
