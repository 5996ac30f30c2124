-- Grain: one row per link of run $run_id made within a tolerance (a ledger-statement link whose
-- difference_minor is not 0, reference_mismatch pairs left out: those are breaks): a pair with its
-- entry and line, or an aggregate group (one row, its key and both sums). Amounts are in the
-- ledger's currency: the statement side is the ledger amount plus the recorded difference (for
-- fx_reference the line's presentment amount). The ledger side is its version as of the run's
-- ledger watermark. Inputs: matches, statement_lines, ledger_entries, runs. Parameters: $run_id.
WITH m AS (
    SELECT * FROM matches
    WHERE run_id = $run_id AND kind = 'ledger_statement' AND rule <> 'reference_mismatch'
      AND difference_minor <> 0
), l AS (  -- the latest version of each entry as of the run's watermark
    SELECT entry_id, arg_max(struct_pack(merchant_reference, amount_minor, currency), recorded_at) AS v
    FROM ledger_entries
    WHERE entry_id IN (SELECT ledger_entry_id FROM m)
      AND recorded_at <= coalesce((SELECT ledger_watermark FROM runs WHERE run_id = $run_id), recorded_at)
    GROUP BY entry_id
), pairs AS (
    SELECT m.rule, s.source, l.v.currency AS currency, l.v.merchant_reference AS ledger_reference,
           coalesce(s.merchant_reference, s.psp_reference) AS statement_reference,
           l.v.amount_minor AS ledger_amount_minor, l.v.amount_minor + m.difference_minor AS statement_amount_minor,
           m.difference_minor, m.ledger_entry_id, m.line_id, 2 AS items
    FROM m JOIN statement_lines s ON s.line_id = m.line_id JOIN l ON l.entry_id = m.ledger_entry_id
), groups AS (  -- aggregate_reference: one row per group, named by its key, from its lines
    SELECT m.rule, s.source, s.currency, json_extract_string(m.evidence, '$.group') AS ledger_reference,
           json_extract_string(m.evidence, '$.group') AS statement_reference,
           json_extract(m.evidence, '$.ledger_total')::BIGINT AS ledger_amount_minor,
           json_extract(m.evidence, '$.statement_total')::BIGINT AS statement_amount_minor,
           any_value(m.difference_minor) AS difference_minor, NULL::VARCHAR AS ledger_entry_id,
           NULL::VARCHAR AS line_id,
           json_extract(m.evidence, '$.entries')::BIGINT + json_extract(m.evidence, '$.lines')::BIGINT AS items
    FROM m JOIN statement_lines s ON s.line_id = m.line_id
    WHERE m.ledger_entry_id IS NULL
    GROUP BY m.rule, s.source, s.currency, m.evidence
)
SELECT * FROM pairs
UNION ALL
SELECT * FROM groups
ORDER BY rule, source, currency, ledger_reference, statement_reference, line_id;
