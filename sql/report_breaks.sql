-- Grain: one row per open break of a run (carried ones included), with both of its sides where it
-- has them: the statement line (its fields, file and line) and the ledger entry (its version as of
-- the run's ledger watermark, the export file and line that recorded it).
-- Inputs: breaks, statement_lines, ledger_entries, files, runs. Parameters: $1 = run_id.
SELECT b.*, coalesce(fs.name, fl.name) AS file_name, coalesce(s.file_line, l.file_line) AS file_line,
       s.merchant_reference AS s_reference, s.psp_reference AS s_psp_reference, s.payout_id AS s_payout_id,
       s.amount_minor AS s_amount_minor, s.currency AS s_currency, s.booked_at AS s_booked_at,
       s.value_date AS s_value_date, s.counterparty AS s_counterparty, s.description AS s_description,
       fs.name AS s_file_name, s.file_line AS s_file_line,
       l.recorded_at AS l_version, l.merchant_reference AS l_reference, l.amount_minor AS l_amount_minor,
       l.currency AS l_currency, l.booked_at AS l_booked_at, l.business_date AS l_business_date,
       l.counterparty AS l_counterparty, l.description AS l_description, fl.name AS l_file_name,
       l.file_line AS l_file_line
FROM breaks b
LEFT JOIN statement_lines s ON s.line_id = b.line_id
LEFT JOIN files fs ON fs.sha256 = s.file_sha256
LEFT JOIN (
    -- the latest version's fields as one struct: arg_max skips a NULL argument, a struct is never NULL
    SELECT entry_id, v.* FROM (
        SELECT entry_id,
               arg_max(struct_pack(recorded_at, file_sha256, file_line, merchant_reference,
                                   amount_minor, currency, booked_at, business_date, counterparty,
                                   description), recorded_at) AS v
        FROM ledger_entries
        WHERE entry_id IN (SELECT ledger_entry_id FROM breaks WHERE run_id = $1)  -- not every entry
          AND recorded_at <= coalesce((SELECT ledger_watermark FROM runs WHERE run_id = $1),
                                      recorded_at)
        GROUP BY entry_id)
) l ON l.entry_id = b.ledger_entry_id
LEFT JOIN files fl ON fl.sha256 = l.file_sha256
WHERE b.run_id = $1 AND b.status = 'open'
ORDER BY b.category, b.source, b.reference, b.break_id;
