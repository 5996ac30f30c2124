-- Grain: one row of counts for a run: the day's ledger entries and statement lines (PSP payout
-- rows are control rows, checked by the payout clearing, and are not counted as items) and how
-- many of each a match of the run explains, each item once and the day's own only: an entry or
-- line carried from an earlier day that the run matched is that day's (counting it here gave a
-- day with few lines and many late counterparts a match rate above 100 %), and an aggregate
-- group's links count its entries, not its rows.
-- Inputs: matches, run_matched_lines (temp: the run's matched statement lines, made once by
-- recon.assemble for the counts, the history and the channels), runs, open_items, statement_lines.
-- Parameters: run_id, business_date, the run's input files (sha256 list: the lines of a file a
-- corrected delivery replaced are not the run's, nor are files it did not read), the one-to-one
-- rules (matching.ONE_TO_ONE). The day's ledger entries: recon.assemble.day_entries.
SELECT
    (SELECT count(*) FROM matches WHERE run_id = $1 AND kind = 'ledger_statement'  -- one entry a link
        AND list_contains($4, rule) AND ledger_entry_id IS NOT NULL)
      + (SELECT count(DISTINCT ledger_entry_id) FROM matches WHERE run_id = $1 AND kind = 'ledger_statement'
             AND rule <> 'reference_mismatch' AND NOT list_contains($4, rule))  -- a group: its entries
      - (SELECT count(DISTINCT ledger_entry_id) FROM matches WHERE run_id = $1 AND rule <> 'reference_mismatch'
             AND ledger_entry_id IN (SELECT item_id FROM open_items WHERE kind = 'ledger'  -- carried ones
                 AND run_id = (SELECT carried_from FROM runs WHERE run_id = $1))) AS matched_ledger,
    (SELECT count(*) FROM run_matched_lines)
      - (SELECT count(*) FROM run_matched_lines WHERE line_id IN (  -- the carried lines it matched
             SELECT item_id FROM open_items WHERE kind = 'line'
               AND run_id = (SELECT carried_from FROM runs WHERE run_id = $1))) AS matched_statement,
    (SELECT count(*) FROM statement_lines WHERE business_date = $2 AND txn_type <> 'payout'
        AND file_sha256 IN (SELECT unnest($3))) AS statement_lines;
