"""Control totals of camt.052/053/054 records, in exact decimals at the file's own precision.

Opening (OPBD, else PRCD) + Σ booked entries = CLBD in one currency; TxsSummry counts, sums and
net amounts; a batch entry's amount against its TxDtls (``schemas.camt_details``); no missing page
between the pages of one record. Amounts are compared as Decimals, never rounded to a currency's
exponent first, so an unbalanced 13-decimal balance is reported with all 13 decimals.
"""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal, InvalidOperation, localcontext
from typing import TYPE_CHECKING

from schemas import camt_details
from schemas.validation import ControlCheck

if TYPE_CHECKING:
    from schemas.iso20022 import Statement


def _exact(text: str | None) -> Decimal | None:
    """Exact decimal text at full precision (a 13-decimal amount stays 13 decimals); None if not."""
    try:
        d = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        return None
    return d if d.is_finite() else None


def _signed(amount: str | None, ind: str | None) -> Decimal | None:
    d = _exact(amount)
    return None if d is None else (-d if ind == "DBIT" else d)


def _sum(values: list[Decimal | None], start: Decimal | None = Decimal(0)) -> Decimal | None:
    if start is None or None in values:
        return None
    with localcontext() as ctx:
        ctx.prec = 60  # exact: no sum of statement amounts comes near 60 digits
        return sum(values, start)


def _money(value: Decimal | None, ccy: str | None) -> str:
    """Every digit of the value, at least two places (12.3 → 12.30; 0.1000000000001 as is)."""
    if value is None:
        return f"(none) {ccy or ''}".strip()
    d = value.normalize()
    places = max(2, -d.as_tuple().exponent)
    return f"{d:.{places}f} {ccy or ''}".strip()


def control_checks(s: Statement) -> list[ControlCheck]:
    """The record's balances and TxsSummry against its booked entries, in exact decimals at the
    file's own precision; a batch entry against its TxDtls (``camt_details.split_checks``)."""
    prefix = f"{s.kind} {s.id}: "
    entries = [e["fields"] for e in s.entries]
    booked = [f for f in entries if (f["Sts"] or "BOOK") == "BOOK"]
    signed = [_signed(f["Amt"], f["CdtDbtInd"]) for f in booked]
    ccys = {f["Amt@Ccy"] for f in booked}
    checks = []
    opening = s.balances.get("OPBD") or s.balances.get("PRCD")
    closing = s.balances.get("CLBD")
    if opening and closing:
        label = "OPBD" if "OPBD" in s.balances else "PRCD"
        end = _signed(closing["amount"], closing["ind"])
        total = _sum(signed, _signed(opening["amount"], opening["ind"]))
        found_ccy = "/".join(sorted(filter(None, ccys | {opening["ccy"]})))
        checks.append(ControlCheck(
            f"{prefix}{label} + Σ entries = CLBD",
            _money(end, closing["ccy"]) if end is not None
            else f"{closing['amount']!r} {closing['ccy'] or ''} (not a decimal amount)".strip(),
            _money(total, found_ccy) if total is not None else _unreadable(opening, booked),
            total is not None and total == end and {closing["ccy"]} == (ccys | {opening["ccy"]})))
    for kind, t in s.summary.items():
        subset = {"TtlNtries": booked, "TtlCdtNtries": [f for f in booked if f["CdtDbtInd"] == "CRDT"],
                  "TtlDbtNtries": [f for f in booked if f["CdtDbtInd"] == "DBIT"]}[kind]
        values = [_signed(f["Amt"], f["CdtDbtInd"]) for f in subset]
        if t["count"] is not None:
            checks.append(ControlCheck(f"{prefix}TxsSummry {kind} NbOfNtries", t["count"],
                                       str(len(subset)), t["count"] == str(len(subset))))
        if t["sum"] is not None:
            want = _exact(t["sum"])
            got = _sum([None if v is None else abs(v) for v in values])
            checks.append(ControlCheck(f"{prefix}TxsSummry {kind} Sum", t["sum"], _money(got, None),
                                       want is not None and want == got))
        if t["net"] is not None:
            want = _signed(t["net"], t["net_ind"])
            got = _sum(values)
            checks.append(ControlCheck(f"{prefix}TxsSummry {kind} TtlNetNtry", _money(want, None),
                                       _money(got, None), want is not None and want == got))
    return checks + camt_details.split_checks(s.kind, s.id, s.entries)


def _unreadable(opening: dict, booked: list[dict]) -> str:
    bad = [f"{opening['amount']!r}"] if _exact(opening["amount"]) is None else []
    bad += [repr(f["Amt"]) for f in booked if _exact(f["Amt"]) is None]
    return f"no sum: {', '.join(bad)} not a decimal amount"


def pagination_checks(statements: list[Statement]) -> list[ControlCheck]:
    """Pages of one record (same account and sequence number) in one file must not skip a page."""
    groups: dict[tuple, list[Statement]] = defaultdict(list)
    for s in statements:
        if s.page is not None:
            groups[(s.account, s.sequence or s.id)].append(s)
    checks = []
    for (account, seq), pages in groups.items():
        if len(pages) < 2:
            continue
        numbers = sorted(int(p.page) if p.page.isdigit() else -1 for p in pages)
        want = list(range(numbers[0], numbers[0] + len(numbers)))
        checks.append(ControlCheck(f"{account} {seq}: pages without a gap", " ".join(map(str, want)),
                                   " ".join(map(str, numbers)), numbers == want and numbers[0] >= 1))
    return checks
