"""The clearing's per-source keys: where a bank puts a PSP payout's reference, and when and under
which payer name a PSP's payout reaches the bank (README "Configuration", docs/formats.md).

A PSP source: ``payout_lag_days`` (the PSP pays a business day's net D+n: the bank credit is
expected then; not set: expected the same day and a break at once when absent) and
``payer_names`` (how the bank names the PSP as a credit's payer, matched case-insensitively as a
substring of the bank line's counterparty). A bank source: ``[sources.payout_references]``, the
canonical fields searched in order and, per PSP, a regex whose first group (else the whole match)
is the PSP's payout id.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

# The bank line's canonical fields a payout reference may be found in (docs/formats.md says
# which bank field each format puts where); ``raw``: every original field of the line as JSON
# (e.g. camt's AddtlNtryInf when Ustrd took the description), a last resort.
REFERENCE_FIELDS = ("end_to_end_id", "bank_reference", "merchant_reference", "description", "counterparty",
                    "raw")


@dataclass(frozen=True)
class PayoutReferences:
    fields: tuple[str, ...] = ("end_to_end_id",)
    patterns: dict[str, str] = field(default_factory=dict)  # PSP name → regex (first group: the id)
    declared: bool = False  # False: the default, the end-to-end id is the payout id as it is


def payout_references(r, payouts_for: tuple[str, ...]) -> PayoutReferences:
    """``[sources.payout_references]`` of a bank source (``r`` is recon.config's _Reader)."""
    if "payout_references" not in r.table:
        return PayoutReferences()
    sub = r.sub("payout_references")
    fields = sub.get("fields", list, list(REFERENCE_FIELDS[:-1]))
    for i, f in enumerate(fields):
        if f not in REFERENCE_FIELDS:
            sub.fail(f"fields[{i}]", f"expected one of {', '.join(REFERENCE_FIELDS)}, found {f!r}")
    if not fields:
        sub.fail("fields", f"expected at least one of {', '.join(REFERENCE_FIELDS)}")
    patterns = {}
    for key in sub.table:
        if key == "fields":
            continue
        if key not in payouts_for:
            sub.fail(key, f"expected a PSP of this bank's payouts_for ({', '.join(payouts_for) or 'none'}) "
                          f"or fields")
        text = sub.get(key, str)
        try:
            compiled = re.compile(text)
        except re.error as exc:
            sub.fail(key, f"expected a regular expression, found {text!r} ({exc})")
        if re.search(r"\(\?[=!<]", text):
            sub.fail(key, "expected a pattern without look-around (DuckDB's RE2 runs it)")
        # Its first group is the id; a pattern without a group: the whole match.
        patterns[key] = text if compiled.groups else f"({text})"
    return PayoutReferences(fields=tuple(fields), patterns=patterns, declared=True)


def payer_names(r) -> tuple[str, ...]:
    names = r.get("payer_names", list, [])
    if not all(isinstance(n, str) and n.strip() for n in names):
        r.fail("payer_names", "expected a list of non-empty strings (how the bank names the PSP)")
    return tuple(n.strip() for n in names)


def payout_lag_days(r) -> int | None:
    lag = r.get("payout_lag_days", int, None)
    if lag is not None and not 0 <= lag <= 31:
        r.fail("payout_lag_days", f"expected business days between 0 and 31, found {lag}")
    return lag


def payout_keys(r) -> dict:
    """The Source fields these keys set (``r``: a source's _Reader)."""
    return {"payout_references": payout_references(r, tuple(r.get("payouts_for", list, []))),
            "payout_lag_days": payout_lag_days(r), "payer_names": payer_names(r)}
