-- Grain: one row per currency: the statement lines a run's ledger links matched (kind
-- ledger_statement, reference_mismatch pairs left out; a line carried from an earlier day
-- counts in the run that matched it), how many and their sum.
-- Inputs: matches, statement_lines. Parameters: $run_id.
SELECT s.currency, count(*) AS lines, sum(s.amount_minor)::BIGINT AS amount_minor
FROM matches m
JOIN statement_lines s ON s.line_id = m.line_id
WHERE m.run_id = $run_id AND m.kind = 'ledger_statement' AND m.rule <> 'reference_mismatch'
GROUP BY s.currency
ORDER BY s.currency;
