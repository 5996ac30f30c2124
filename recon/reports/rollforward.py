"""The daily roll-forward of the breaks (the Summary's bridge) and the breaks that left (the Cleared
sheet), from the break movements between a run and the run whose open items it carried.

Per source and currency, in count and in amount (Σ |difference|, what the breaks put at stake):

    opening + new − auto-cleared − resolved ± corrected = closing

opening is what the earlier run left open, closing what this run leaves open (the workbook's
Breaks sheet); ``corrected`` is what changed otherwise: a continuing break whose amount changed
(a ledger correction) and a break that left neither cleared nor resolved. The closing side is
counted again from the run's open breaks, so ``check_*`` (closing − the bridge) is zero when the
movements account for every break: any other value is shown and logged, never hidden.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, fields
from datetime import date, datetime

import sql
from recon.money import to_decimal
from recon.reports.model import Break

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Movement:
    """One break's move between two runs (sql/report_movements.sql)."""
    break_id: str
    category: str
    source: str
    currency: str
    reference: str
    first_seen: date | None
    movement: str  # continuing | new | auto_cleared | resolved | left
    before_minor: int | None  # its difference in the earlier run (None: not open there)
    after_minor: int | None  # its difference now (None: not open now)
    business_date: date | None = None
    cleared_on: date | None = None
    cleared_detail: str | None = None  # "cleared on D by rule R" (carry_forward.sql)
    note_who: str | None = None
    note_at: datetime | None = None
    note_reason: str | None = None
    note_comment: str | None = None
    note_status: str | None = None
    fix_at: datetime | None = None  # the ledger entry's latest correction between the runs
    fix_by: str | None = None
    fix_why: str | None = None
    fix_file: str | None = None

    @property
    def how(self) -> str:
        """auto-cleared | resolved | corrected | no longer raised | new | continuing."""
        if self.movement == "left":
            return "corrected" if self.fix_at is not None else "no longer raised"
        return self.movement.replace("_", "-")

    @property
    def correction(self) -> str:
        if self.fix_at is None:
            return ""
        who = f" by {self.fix_by}" if self.fix_by else ""
        why = f": {self.fix_why}" if self.fix_why else ""
        return f"ledger corrected {self.fix_at:%Y-%m-%d %H:%M} UTC{who} ({self.fix_file}){why}"

    @property
    def why(self) -> str:
        """The reason in words, as the Cleared sheet and `recon runs diff` print it."""
        if self.movement == "auto_cleared":
            text = self.cleared_detail or f"cleared on {self.cleared_on}"
        elif self.movement == "resolved":
            text = f"resolved by {self.note_who} on {self.note_at:%Y-%m-%d %H:%M} UTC" + "".join(
                f": {x}" for x in (self.note_reason, self.note_comment) if x)
        elif self.movement == "left":
            text = self.correction or "no longer raised (its items changed)"
        elif self.movement == "new":
            text = f"raised on {self.business_date}"
        else:
            text = "still open"
        if self.movement != "left" and self.correction:
            text += "; " + self.correction
        return text


@dataclass(frozen=True)
class BridgeRow:
    source: str
    currency: str
    opening_count: int = 0
    opening_minor: int = 0
    new_count: int = 0
    new_minor: int = 0
    auto_count: int = 0
    auto_minor: int = 0
    resolved_count: int = 0
    resolved_minor: int = 0
    corrected_count: int = 0  # − the breaks that left otherwise
    corrected_minor: int = 0  # Σ amount changes of continuing breaks − Σ amount of those that left
    closing_count: int = 0  # the run's open breaks, counted again
    closing_minor: int = 0

    @property
    def bridged_count(self) -> int:
        return (self.opening_count + self.new_count - self.auto_count - self.resolved_count
                + self.corrected_count)

    @property
    def bridged_minor(self) -> int:
        return (self.opening_minor + self.new_minor - self.auto_minor - self.resolved_minor
                + self.corrected_minor)

    @property
    def check_count(self) -> int:
        return self.closing_count - self.bridged_count

    @property
    def check_minor(self) -> int:
        return self.closing_minor - self.bridged_minor


_MOVEMENT_FIELDS = tuple(f.name for f in fields(Movement))


def load_movements(con, prev_run: str | None, run_id: str) -> tuple[Movement, ...]:
    cur = con.execute(sql.load("report_movements"), {"prev_run": prev_run, "run_id": run_id})
    names = tuple(d[0] for d in cur.description)
    if names == _MOVEMENT_FIELDS:  # the query's columns in the fields' order: no dict per row
        return tuple(Movement(*r) for r in cur.fetchall())
    return tuple(Movement(**dict(zip(names, r))) for r in cur.fetchall())


def bridge(movements: tuple[Movement, ...], breaks: tuple[Break, ...]) -> tuple[BridgeRow, ...]:
    """The roll-forward per source and currency; ``breaks``: the run's open breaks (closing)."""
    totals: dict[tuple[str, str, str], list[int]] = {}  # (source, currency, key): [count, minor]

    def add(m_source: str, ccy: str, key: str, amount: int, n: int = 1) -> None:
        tot = totals.get((m_source, ccy, key))
        if tot is None:
            tot = totals[m_source, ccy, key] = [0, 0]
        tot[0] += n
        tot[1] += amount

    for m in movements:
        before = abs(m.before_minor or 0)
        after = abs(m.after_minor or 0)
        if m.movement != "new":
            add(m.source, m.currency, "opening", before)
        if m.movement == "new":
            add(m.source, m.currency, "new", after)
        elif m.movement == "auto_cleared":
            add(m.source, m.currency, "auto", before)
        elif m.movement == "resolved":
            add(m.source, m.currency, "resolved", before)
        elif m.movement == "left":
            add(m.source, m.currency, "corrected", -before, -1)
        elif after != before:
            add(m.source, m.currency, "corrected", after - before, 0)
    for b in breaks:
        add(b.source, b.currency or "", "closing", abs(b.difference_minor))
    acc: dict[tuple[str, str], dict[str, int]] = {}
    for (m_source, ccy, key), (n, amount) in totals.items():
        row = acc.setdefault((m_source, ccy), {})
        row[key + "_count"], row[key + "_minor"] = n, amount
    rows = tuple(BridgeRow(source, ccy, **v) for (source, ccy), v in sorted(acc.items()))
    for r in rows:
        if r.check_count or r.check_minor:
            log.warning("Roll-forward %s %s does not close: opening %d + new %d - auto-cleared %d - "
                        "resolved %d %+d corrected = %d, but %d breaks are open (amount off by %s)",
                        r.source, r.currency, r.opening_count, r.new_count, r.auto_count,
                        r.resolved_count, r.corrected_count, r.bridged_count, r.closing_count,
                        to_decimal(r.check_minor, r.currency) if r.currency else r.check_minor)
    return rows


def cleared(movements: tuple[Movement, ...]) -> tuple[Movement, ...]:
    """The breaks that left since the earlier run, in the Cleared sheet's order."""
    order = {"auto_cleared": 0, "resolved": 1, "left": 2}
    return tuple(sorted((m for m in movements if m.movement in order),
                        key=lambda m: (order[m.movement], m.source, m.currency, m.category,
                                       m.reference, m.break_id)))
