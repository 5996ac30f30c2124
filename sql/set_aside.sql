-- Grain: after the cascade's first pass, which on a normal day links nearly every item: the
-- working sets keep only what is still open, so that every later rule, the breaks and the
-- carry-forward read a few thousand rows instead of the whole day (and the bulk is not marked row
-- by row with UPDATEs). The work_ledger and work_stmt views (work_sets.sql) become tables of the
-- open items, which get back every column (the views show only what the day's readers need):
-- a ledger entry from its version (entry_id, recorded_at), a statement line from statement_lines,
-- keeping the merchant reference the cascade gave it (a bank line's end-to-end id stands in for
-- a missing one). What concerns every line of the day however it matched (the fee check, the
-- reversal links) was taken from the whole day before this (fee_prices.sql,
-- reversals.sql): the whole day is dropped here. Outside a transaction (the first pass is set
-- aside before the run's closing transaction opens: matching.run_cascade) its memory is freed.
-- Which items are open comes by id: work_open_ledger and work_open_lines, from first_pass.sql
-- (its join's one-sided rows) or else unlinked.sql (an anti join with work_links).
-- Inputs: work_ledger, work_stmt (views), work_open_ledger, work_open_lines, ledger_entries,
-- statement_lines. Parameters: none.
-- Each open item's row is looked for among the rows of its business date: DuckDB narrows the
-- scan to the row groups whose dates lie within the open items' (zone maps), not every row ever
-- loaded (with a week of 1M-line days before the day: 0.39 + 0.13 s -> 0.13 + 0.13 s). (Split
-- by the day's and the carried items' dates, the anti join was planned on the wide side: slower.)
CREATE OR REPLACE TEMP TABLE work_ledger_open AS
SELECT * FROM work_ledger_rows WHERE entry_id IN (SELECT entry_id FROM work_open_ledger);

CREATE OR REPLACE TEMP TABLE work_stmt_open AS
SELECT * EXCLUDE (of_day) FROM work_stmt WHERE line_id IN (SELECT line_id FROM work_open_lines);

DROP VIEW work_ledger_rows;

DROP VIEW work_ledger;
DROP VIEW work_stmt;
ALTER TABLE work_ledger_open RENAME TO work_ledger;
ALTER TABLE work_stmt_open RENAME TO work_stmt;
DROP TABLE work_versions;
DROP TABLE work_stmt_more;
DROP TABLE work_open_ledger;
DROP TABLE work_open_lines;
