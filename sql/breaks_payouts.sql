-- Grain: one break per payout whose three legs disagree (items' net, PSP's declared payout,
-- bank credit), per payout with no bank credit, and per bank line of the day that no payout
-- explains. Also records the payout ↔ bank links in matches.
-- Inputs: work_payouts, work_banks, statement_lines. Parameters: $run_id, $business_date.
INSERT INTO payouts
SELECT $run_id, source, payout_id, currency, items, settled, declared, bank_credit, bank_line_id,
       CASE WHEN bank_line_id IS NULL THEN 'unsettled'
            WHEN bank_candidates > 1 THEN 'ambiguous'
            WHEN bank_credit <> coalesce(declared, settled) OR declared <> settled THEN 'payout_mismatch'
            ELSE 'matched' END
FROM work_payouts;

INSERT INTO matches
SELECT $run_id, 'payout_bank', 'payout_reference', NULL, bank_line_id, payout_id,
       bank_credit - coalesce(declared, settled),
       json_object('items', items, 'settled_net', settled, 'declared', declared,
                   'bank_credit', bank_credit)::VARCHAR
FROM work_payouts
WHERE bank_line_id IS NOT NULL AND bank_candidates = 1;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH found AS (
    SELECT CASE WHEN bank_line_id IS NULL THEN 'unsettled'
                WHEN bank_candidates > 1 THEN 'ambiguous'
                ELSE 'payout_mismatch' END AS category,
           source, currency, payout_id, bank_line_id, settled AS expected,
           CASE WHEN bank_line_id IS NULL THEN declared
                WHEN bank_credit <> coalesce(declared, settled) THEN bank_credit
                ELSE declared END AS found,
           bank_booked_at,
           CASE WHEN bank_line_id IS NULL THEN 'no bank credit carries this payout id'
                WHEN bank_candidates > 1 THEN bank_candidates || ' bank credits carry this payout id'
                WHEN bank_credit <> coalesce(declared, settled) THEN 'bank credited '
                     || bank_credit || ', payout ' || coalesce(declared, settled) || ' (minor units)'
                ELSE 'PSP declared ' || declared || ' but its items net to ' || settled END AS detail
    FROM work_payouts
    WHERE bank_line_id IS NULL OR bank_candidates > 1
       OR bank_credit <> coalesce(declared, settled)
       OR (declared IS NOT NULL AND declared <> settled)
)
SELECT $run_id, substr(sha256(category || '|' || source || '|' || payout_id), 1, 16), $business_date,
       category, source, currency, payout_id, NULL, NULL, bank_line_id, expected, found,
       coalesce(found, 0) - expected, bank_booked_at, 'three_way_payout', detail
FROM found;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
SELECT $run_id, substr(sha256('missing_in_ledger|' || b.source || '|' || b.line_id), 1, 16),
       $business_date, 'missing_in_ledger', b.source, b.currency,
       coalesce(b.end_to_end_id, b.bank_reference), b.bank_reference, NULL, b.line_id, NULL,
       b.amount_minor, b.amount_minor, b.booked_at, 'unexplained_bank_line',
       'no payout of a configured PSP explains this bank line'
FROM statement_lines b
WHERE b.business_date = $business_date
  AND b.source IN (SELECT bank FROM work_banks)
  AND b.line_id NOT IN (SELECT bank_line_id FROM work_payouts WHERE bank_line_id IS NOT NULL);
