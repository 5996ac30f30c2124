-- Grain: the ids of the work items the last matcher did not link (state aside, every item that
-- is not in work_links), for set_aside.sql: one row per open ledger entry (work_open_ledger) and
-- per open statement line (work_open_lines). An anti join of the whole day with its links: a
-- first pass that ran as first_pass.sql writes these tables itself, from its join.
-- Inputs: work_ledger, work_stmt, work_links. Parameters: none.
CREATE OR REPLACE TEMP TABLE work_open_ledger AS
SELECT n.entry_id FROM work_ledger n
WHERE NOT EXISTS (SELECT 1 FROM work_links k WHERE k.entry_id = n.entry_id);

CREATE OR REPLACE TEMP TABLE work_open_lines AS
SELECT n.line_id FROM work_stmt n
WHERE NOT EXISTS (SELECT 1 FROM work_links k WHERE k.line_id = n.line_id);
