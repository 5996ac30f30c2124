-- Grain: the run's break lifecycle and what it hands to the next business day.
-- 1. first_seen: a break keeps the date it was first raised (or first waited as pending).
-- 2. Breaks about closed pairs or lines (amount/currency mismatch, duplicate, fee variance,
--    payout mismatch) stay open day after day until an accountant marks them resolved.
-- 3. Breaks about open items (and allocation_mismatch orders) that the previous run had and this run no longer raises were
--    cleared by a counterpart that arrived: recorded once as auto_cleared, with the rule.
-- 4. open_items: the unmatched entries and lines the next run carries (not resolved ones).
-- 5. reversal_links: the day's refunds and chargebacks linked to the payment they reverse.
-- Inputs: breaks, matches, work_ledger, work_stmt (open items), work_reversals (reversals.sql),
-- work_resolved (work_sets.sql). Parameters: $run_id, $business_date, $prev_run.
UPDATE breaks SET first_seen = $business_date WHERE run_id = $run_id;

UPDATE breaks SET first_seen = p.first_seen
FROM (SELECT break_id, first_seen FROM breaks WHERE run_id = $prev_run AND status IN ('open', 'pending')) p
WHERE breaks.run_id = $run_id AND breaks.break_id = p.break_id;

INSERT INTO breaks BY NAME
SELECT p.* REPLACE ($run_id AS run_id, $business_date AS business_date)
FROM breaks p
WHERE p.run_id = $prev_run AND p.status = 'open'
  AND p.category IN ('amount_mismatch', 'currency_mismatch', 'duplicate', 'fee_variance', 'payout_mismatch')
  AND p.break_id NOT IN (SELECT break_id FROM breaks WHERE run_id = $run_id)
  AND p.break_id NOT IN (SELECT break_id FROM work_resolved);

INSERT INTO breaks BY NAME
SELECT p.* REPLACE (
         $run_id AS run_id, $business_date AS business_date, 'auto_cleared' AS status,
         $business_date AS cleared_on,
         'cleared on ' || $business_date || ' by '
           || coalesce((SELECT string_agg(DISTINCT m.rule, ', ') FROM matches m
                        WHERE m.run_id = $run_id
                          AND (m.line_id = p.line_id OR m.ledger_entry_id = p.ledger_entry_id
                               OR (m.payout_id = p.reference AND p.category IN ('unsettled', 'ambiguous')))),
                       'a change of the items') AS detail)
FROM breaks p
WHERE p.run_id = $prev_run AND p.status = 'open'
  AND p.category IN ('missing_in_ledger', 'missing_in_statement', 'timing', 'unsettled', 'ambiguous',
                     'allocation_mismatch')
  AND p.break_id NOT IN (SELECT break_id FROM breaks WHERE run_id = $run_id)
  AND p.break_id NOT IN (SELECT break_id FROM work_resolved);

INSERT INTO open_items
SELECT $run_id, 'ledger', entry_id, state FROM work_ledger
WHERE (state IS NULL OR state = 'candidate')
  AND substr(sha256('match|' || source || '|' || entry_id), 1, 16) NOT IN (SELECT break_id FROM work_resolved);

INSERT INTO open_items
SELECT $run_id, 'line', line_id, state FROM work_stmt
WHERE (state IS NULL OR state = 'ambiguous')
  AND substr(sha256('match|' || source || '|' || line_id), 1, 16) NOT IN (SELECT break_id FROM work_resolved);

INSERT INTO reversal_links
SELECT $run_id, line_id, original_line_id, txn_type FROM work_reversals;
