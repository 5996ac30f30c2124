"""The clearing's payout legs, run before the cascade: each payout rule of the registry
(recon.rules, kind ``payout``) in turn.

1. payout_reference (sql/payouts_reference.sql, then sql/payouts.sql): the PSP payouts of the
   day and those left open, each with the bank credit(s) whose reference fields carry its id.
2. payout_amount (sql/payouts_amount.sql): the rest by currency, amount, date window and payer.
3. sql/payouts_close.sql: each payout's status; the bank lines taken are closed.
4. ledger_payout (sql/payouts_ledger.sql): the ledger's expected settlements to the PSP payouts.
Links and breaks are written with the run's (sql/breaks_payouts*.sql), in its transaction.
"""
from __future__ import annotations

from recon.rules import RULES
from recon.steps import Runner
from schemas.ledger_layout import CLEARING


def clear_payouts(run: Runner, params: dict) -> None:
    """The payout steps (recon/steps.py declares what each reads and writes)."""
    run.sql(RULES["payout_reference"].sql)
    run.sql("payouts", params)
    run.sql(RULES["payout_amount"].sql)
    run.sql("payouts_close", params)
    run.sql(RULES["ledger_payout"].sql, {**params, "clearing": CLEARING})
