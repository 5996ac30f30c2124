-- Grain: the ledger payouts' leg (work_ledger_payout): one link per ledger payout and the PSP
-- payout it settles (kind ledger_payout, rule ledger_payout, its difference: payout − |entry|),
-- and one break per entry whose leg disagrees (amount_mismatch), has several candidates
-- (ambiguous) or has no payout by its due day (missing_in_statement); in transit: none. Hands on
-- to the next run (open_items) the entries not linked (unless resolved) and the payouts no
-- entry has claimed (work_payouts_unbooked).
-- Inputs: work_ledger_payout, work_payouts_unbooked, work_resolved. Parameters: $run_id, $business_date.
INSERT INTO matches
SELECT $run_id, 'ledger_payout', 'ledger_payout', entry_id, NULL, payout_id, difference_minor,
       json_object('source', source, 'by', way, 'ledger_amount', amount_minor,
                   'payout_amount', payout_amount, 'difference_minor', difference_minor)::VARCHAR
FROM work_ledger_payout
WHERE payout_id IS NOT NULL;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
SELECT $run_id, substr(sha256('match|' || source || '|' || entry_id), 1, 16), $business_date, status,
       source, currency, coalesce(payout_id, psp_ref, merchant_ref), NULL, entry_id, NULL, amount_minor,
       payout_amount, coalesce(difference_minor, -abs(amount_minor)), booked_at, 'ledger_payout',
       CASE status WHEN 'amount_mismatch' THEN 'PSP payout ' || payout_id || ' is ' || payout_amount
                                                || ', the ledger books ' || abs(amount_minor) || ' (minor units)'
                   WHEN 'ambiguous' THEN candidates || ' PSP payouts of this amount in the window'
                   ELSE 'no PSP payout settles this ledger payout by ' || due END
FROM work_ledger_payout
WHERE status IN ('amount_mismatch', 'ambiguous', 'missing_in_statement');

INSERT INTO open_items
SELECT $run_id, 'ledger_payout', entry_id, status FROM work_ledger_payout
WHERE payout_id IS NULL
  AND substr(sha256('match|' || source || '|' || entry_id), 1, 16) NOT IN (SELECT break_id FROM work_resolved);

INSERT INTO open_items
SELECT $run_id, 'payout_unbooked', source || '|' || payout_id, NULL FROM work_payouts_unbooked;
