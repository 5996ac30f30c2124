-- Grain: after the cascade's first pass, which on a normal day links nearly every item: the
-- working sets keep only what is still open, so that every later rule, the breaks and the
-- carry-forward read a few thousand rows instead of the whole day (and the bulk is not marked row
-- by row with UPDATEs). The work_ledger and work_stmt views (work_sets.sql) become tables of the
-- open items in all their columns, each read in one scan of the day: the work_stmt view shows
-- every column of statement_lines (but raw and ref_key), keeping the merchant reference the
-- cascade gave a line (a bank line's end-to-end id stands in for a missing one); the ledger's
-- rows come through work_ledger_rows, which is the one-load work_ledger itself (it shows every
-- column) or, on the general route, its versions fetched back from ledger_entries by (entry_id,
-- recorded_at), each side in one scan. What concerns every line of the day however it matched (the
-- fee check, the reversal links) was taken from the whole day before this (fee_prices.sql,
-- fee_variances.sql, reversals.sql): the whole day is dropped here. Outside a transaction (the
-- first pass is set aside before the run's closing transaction opens: matching.run_cascade) its
-- memory is freed.
-- Which items are open comes by id: work_open_ledger and work_open_lines, from first_pass.sql
-- (its join's one-sided rows) or else unlinked.sql (an anti join with work_links).
-- Inputs: work_ledger_rows, work_stmt (views), work_open_ledger, work_open_lines,
-- work_ledger_fetched, work_stmt_fetched, work_duplicate_entries, work_duplicate_lines.
-- Parameters: none.
-- On the first pass's route the open items' rows were fetched ahead with the duplicate marks'
-- (first_pass_fetch.sql), and their state is taken from the marks here as the views take it;
-- whatever was not fetched is read from the day (on the other routes, all: the scan DuckDB
-- skips when there is none).
CREATE OR REPLACE TEMP TABLE work_ledger_open AS
SELECT *, CASE WHEN entry_id IN (SELECT entry_id FROM work_duplicate_entries) THEN 'duplicate' END AS state
FROM work_ledger_fetched WHERE entry_id IN (SELECT entry_id FROM work_open_ledger)
UNION ALL BY NAME
SELECT * FROM work_ledger_rows
WHERE entry_id IN (SELECT entry_id FROM work_open_ledger ANTI JOIN work_ledger_fetched USING (entry_id));

CREATE OR REPLACE TEMP TABLE work_stmt_open AS
SELECT * EXCLUDE (of_day),
       CASE WHEN line_id IN (SELECT line_id FROM work_duplicate_lines) THEN 'duplicate' END AS state
FROM work_stmt_fetched WHERE line_id IN (SELECT line_id FROM work_open_lines)
UNION ALL BY NAME
SELECT * EXCLUDE (of_day) FROM work_stmt
WHERE line_id IN (SELECT line_id FROM work_open_lines ANTI JOIN work_stmt_fetched USING (line_id));

DROP VIEW work_ledger_rows;

DROP VIEW work_ledger;
DROP VIEW work_stmt;
DROP VIEW work_stmt_items;
ALTER TABLE work_ledger_open RENAME TO work_ledger;
ALTER TABLE work_stmt_open RENAME TO work_stmt;
DROP TABLE work_versions;
DROP TABLE work_stmt_more;
DROP TABLE work_open_ledger;
DROP TABLE work_open_lines;
DROP TABLE work_ledger_fetched;
DROP TABLE work_stmt_fetched;
