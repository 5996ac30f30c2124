-- Grain: after the first pass (which links nearly every item), the working sets keep only what
-- is still open: the work_ledger and work_stmt views become tables of the open items in all their
-- columns, read in one scan each, so later rules, the breaks and the carry-forward read a few
-- thousand rows. Which items are open comes by id (work_open_ledger, work_open_lines: from
-- first_pass.sql or unlinked.sql); rows fetched ahead (first_pass_fetch.sql) are used where there.
-- Runs outside the closing transaction, so the day's memory is freed. Design: docs/cascade.md.
-- Inputs: work_ledger_rows, work_stmt, work_open_ledger, work_open_lines, work_ledger_fetched,
-- work_stmt_fetched, work_duplicate_entries, work_duplicate_lines. Parameters: none.
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
