"""The matching rules and their settings: the one place each is declared.

A rule is a name, a kind, a description, the SQL file that proposes its links from what the
earlier rules left open (sql/<file>.sql), and the settings it reads. The configuration's rule list
and `[sources.matching]` keys are validated against this registry (recon.config), the cascade
takes each rule's kind and file from it (recon.matching), the `work_rules` table has one column
per setting, and docs/rules.md lists every rule with its description (a test keeps it in step).

Kinds:
- ``reference``: one-to-one on a reference, run once per key (the merchant reference, then the
  PSP reference) by sql/match_reference.sql in the rule's ``mode``; the first such rule is the
  bulk first pass (sql/first_pass.sql), an optimisation that links the same pairs.
- ``group``: one-to-many and many-to-one groups whose sums agree.
- ``fuzzy``: no reference; amount, dates and text similarity. It reads columns the day's views
  leave out, so the working sets are widened to whole rows before it runs.
- ``reversal``: refunds and chargebacks one-to-one through the payment they reverse (the
  original reference); whole rows, as for fuzzy.
- ``allocation``: a split settlement (分账) per order and receiver: ledger allocations and
  returns against a profit-sharing bill's lines; whole rows, as for fuzzy.
- ``payout``: the clearing's links (PSP payout ↔ bank credit, ledger payout ↔ PSP payout), run
  in registry order by the payout stage for every PSP a bank receives (``payouts_for``), not
  listed in a source's ``rules``. Their SQL reads work_payouts (sql/payouts.sql) and work_bank.

Every rule's SQL follows one contract: it reads work_ledger, work_stmt (items whose ``state`` is
NULL are open) and work_rules; it inserts its links into ``matches`` and its ambiguous candidates
into ``work_ambiguous``; and it defines the view ``work_links`` (entry_id, line_id) over what it
linked, which the cascade then closes (sql/mark_matched.sql) before the next rule runs.
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("reference", "group", "fuzzy", "reversal", "allocation", "payout")
# The kinds whose SQL reads columns the day's views leave out: the working sets are widened first.
WHOLE_ROWS = ("fuzzy", "reversal", "allocation")


@dataclass(frozen=True)
class Setting:
    """A `[sources.matching]` key: its type, default, the `work_rules` column and SQL type."""

    name: str
    type: type
    default: object
    help: str
    sql_type: str
    column: str = ""  # the work_rules column; default: the name

    @property
    def column_name(self) -> str:
        return self.column or self.name


@dataclass(frozen=True)
class Rule:
    name: str
    kind: str
    description: str
    sql: str  # sql/<sql>.sql proposes the rule's links
    settings: tuple[str, ...]  # the settings it reads (besides the source's own)
    mode: str | None = None  # reference rules: how match_reference.sql compares (exact, normalized, …)


SETTINGS: dict[str, Setting] = {s.name: s for s in (
    Setting("amount_tolerance_minor", int, 0, "absolute amount tolerance, in minor units", "BIGINT"),
    Setting("amount_tolerance_bps", int, 0, "relative tolerance, basis points of the ledger amount "
            "(the larger of the two applies)", "BIGINT"),
    Setting("window_before_days", int, 1, "the statement's business date may be this many days "
            "before the ledger's", "INTEGER"),
    Setting("window_after_days", int, 1, "... or this many days after (T+N)", "INTEGER"),
    Setting("timing_window_minutes", int, 15, "unmatched items this close to the cut-off are "
            "`timing`, not missing", "INTEGER"),
    Setting("fee_tolerance_minor", int, 0, "a fee this far from the rate card is no variance", "BIGINT"),
    Setting("fx_tolerance_minor", int, 0, "residue allowed between the ledger amount and the "
            "line's original (presentment) amount", "BIGINT"),
    Setting("max_group", int, 20, "the largest group (both sides) aggregate_reference sums", "INTEGER"),
    Setting("fuzzy_threshold", str, "0.92", "Jaro-Winkler similarity of counterparty or "
            "description, as text like \"0.92\"", "DECIMAL(4, 3)"),
    Setting("fuzzy_requires_missing_reference", bool, True, "fuzzy only links lines without a "
            "merchant reference", "BOOLEAN"),
    Setting("reference_prefixes", tuple, (), "prefixes normalized_reference strips, e.g. \"REF:\"",
            "VARCHAR[]", column="prefixes"),
    Setting("payout_window_days", int, 2, "a PSP payout's bank credit (and its ledger entry) may be "
            "dated this many days after the expected date (PSP business date + `payout_lag_days`); "
            "until then an unsettled payout is `in_transit`", "INTEGER"),
    Setting("late_pending_days", int, 2, "business days a late source's ledger items wait as pending "
            "(source late) before they are breaks; 0: never pending (recon/pending.py)", "INTEGER"),
)}

_WINDOW = ("window_before_days", "window_after_days")
RULES: dict[str, Rule] = {r.name: r for r in (
    Rule("exact_reference", "reference",
         "merchant order id, then PSP id (trimmed, case-folded); same type, currency and amount",
         "match_reference", (), mode="exact"),
    Rule("normalized_reference", "reference",
         "the same after dropping spaces, punctuation, configured prefixes and leading zeros",
         "match_reference", ("reference_prefixes",), mode="normalized"),
    Rule("fx_reference", "reference",
         "the ledger's currency and amount against the line's original (presentment) amount; "
         "the residue recorded", "match_reference", ("fx_tolerance_minor",), mode="fx"),
    Rule("reference_tolerance", "reference",
         "amount within an absolute or relative tolerance, statement day within a directional window",
         "match_reference", ("amount_tolerance_minor", "amount_tolerance_bps", *_WINDOW), mode="tolerance"),
    Rule("reversal_reference", "reversal",
         "a refund or chargeback without the PSP's id, by the payment it reverses (original "
         "reference); same type, currency and amount (or within the tolerance), within the date "
         "window; several of one payment one-to-one by amount, equal amounts by time order",
         "match_reversal", ("amount_tolerance_minor", "amount_tolerance_bps", *_WINDOW)),
    Rule("allocation_receiver", "allocation",
         "a split settlement (分账): ledger allocations and returns (回退) against the profit-sharing "
         "bill's, per order (PSP transaction id) and receiver; same type, currency and amount (or "
         "within the tolerance), within the date window; the bill's unfreeze lines closed for the "
         "per-order check", "match_allocation", ("amount_tolerance_minor", "amount_tolerance_bps", *_WINDOW)),
    Rule("aggregate_reference", "group",
         "one-to-many, many-to-one and bounded many-to-many groups whose sums agree",
         "match_aggregate", ("amount_tolerance_minor", "max_group")),
    Rule("fuzzy", "fuzzy",
         "lines without a reference: amount, date window and counterparty similarity (Jaro-Winkler)",
         "match_fuzzy", ("amount_tolerance_minor", "fuzzy_threshold", "fuzzy_requires_missing_reference",
                         *_WINDOW)),
    Rule("payout_reference", "payout",
         "a PSP payout to the bank credit(s) whose reference fields carry its payout id (the bank's "
         "`payout_references` pattern, else the whole end-to-end id); several credits are summed",
         "payouts_reference", ()),
    Rule("payout_amount", "payout",
         "a PSP payout no reference found to the one bank credit of its currency and amount, dated "
         "within the expected date + window, whose counterparty names the PSP (`payer_names`); "
         "several candidates: `ambiguous`", "payouts_amount", ("payout_window_days",)),
    Rule("ledger_payout", "payout",
         "a ledger entry typed payout to the PSP's payout: by the payout id in its reference, else "
         "the same source, currency and amount dated within the window; unsettled until then: "
         "`in_transit`", "payouts_ledger", ("payout_window_days",)),
)}
# The rules a source's `rules` list orders (the cascade); the payout rules run in the clearing.
CASCADE = tuple(name for name, r in RULES.items() if r.kind != "payout")
PAYOUT = tuple(name for name, r in RULES.items() if r.kind == "payout")

# The links recorded by the cascade itself rather than by a configured rule.
BUILT_IN = {"reference_mismatch": "what still shares a reference after every rule: paired so "
                                  "its difference is reported (amount_mismatch, currency_mismatch)"}


def reference_modes() -> dict[str, str]:
    """The reference rules and the mode match_reference.sql compares them in."""
    return {r.name: r.mode for r in RULES.values() if r.kind == "reference"}


def describe(name: str) -> str:
    """A rule's description (a configured rule or a built-in one), for reports and traces."""
    rule = RULES.get(name)
    return rule.description if rule else BUILT_IN.get(name, "")


def markdown_table() -> str:
    """The rules as docs/rules.md shows them (tests/test_rule_registry.py keeps the page in step)."""
    rows = ["| rule | kind | links | settings |", "| --- | --- | --- | --- |"]
    rows += [f"| `{r.name}` | {r.kind} | {r.description} | {', '.join(f'`{s}`' for s in r.settings) or '—'} |"
             for r in RULES.values()]
    rows += [f"| `{name}` | built in | {text} | — |" for name, text in BUILT_IN.items()]
    return "\n".join(rows)


def settings_table() -> str:
    rows = ["| setting | type | default | meaning |", "| --- | --- | --- | --- |"]
    rows += [f"| `{s.name}` | {s.type.__name__ if s.type is not tuple else 'list'} | `{s.default!r}` | {s.help} |"
             for s in SETTINGS.values()]
    return "\n".join(rows)
