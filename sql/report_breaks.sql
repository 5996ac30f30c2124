-- Grain: one row per open break of a run (carried ones included), with the file and line it comes from (the statement line's
-- file, or the ledger export that recorded the ledger entry).
-- Inputs: breaks, statement_lines, ledger_entries, files. Parameters: $1 = run_id.
SELECT b.*, coalesce(fs.name, fl.name) AS file_name, coalesce(s.file_line, l.file_line) AS file_line
FROM breaks b
LEFT JOIN statement_lines s ON s.line_id = b.line_id
LEFT JOIN files fs ON fs.sha256 = s.file_sha256
LEFT JOIN (
    SELECT entry_id, arg_max(file_sha256, recorded_at) AS file_sha256,
           arg_max(file_line, recorded_at) AS file_line
    FROM ledger_entries
    WHERE entry_id IN (SELECT ledger_entry_id FROM breaks WHERE run_id = $1)  -- not every entry
    GROUP BY entry_id
) l ON l.entry_id = b.ledger_entry_id AND b.line_id IS NULL
LEFT JOIN files fl ON fl.sha256 = l.file_sha256
WHERE b.run_id = $1 AND b.status = 'open'
ORDER BY b.category, b.source, b.reference, b.break_id;
