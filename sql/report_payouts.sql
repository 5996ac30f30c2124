-- Grain: one row per payout of the run (the payouts table), with the rule that found its bank
-- credit and the ledger entry the run linked to it (ledger_payout: entry, amount, difference).
-- Inputs: payouts, matches. Parameters: $run_id.
WITH bank AS (
    SELECT payout_id, any_value(rule) AS matched_by FROM matches
    WHERE run_id = $run_id AND kind = 'payout_bank' GROUP BY payout_id
), led AS (
    SELECT payout_id, json_extract_string(any_value(evidence), '$.source') AS source,
           any_value(ledger_entry_id) AS ledger_entry_id,
           any_value(json_extract(evidence, '$.ledger_amount')::BIGINT) AS ledger_amount,
           any_value(difference_minor) AS ledger_difference
    FROM matches WHERE run_id = $run_id AND kind = 'ledger_payout' GROUP BY payout_id
)
SELECT p.*, b.matched_by, l.ledger_entry_id, l.ledger_amount, l.ledger_difference
FROM payouts p
LEFT JOIN bank b ON b.payout_id = p.payout_id
LEFT JOIN led l ON l.payout_id = p.payout_id AND l.source = p.source
WHERE p.run_id = $run_id
ORDER BY p.source, p.payout_id
