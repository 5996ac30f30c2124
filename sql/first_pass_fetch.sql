-- Grain: on the bulk route, the rows (all columns) of every item the duplicate marks may number
-- or the first pass may leave open, and of the lines off their fee, fetched in one scan of the
-- day per side; mark_duplicates.sql, set_aside.sql and fee_variances.sql read them from here.
-- Whatever is not fetched is read from the day by its reader: a gap costs time, never a row.
-- The ids come first, as tables, so DuckDB knows the fetch reads few rows. Design: docs/cascade.md.
-- Inputs: work_cand, work_cand_repeated (first_pass.sql), work_dup_week_lines,
-- work_dup_week_entries, work_dup_extra (mark_duplicates_week.sql), work_fee_groups
-- (fee_prices.sql), work_stmt_items, work_ledger_rows (work_sets.sql). Parameters: none.
CREATE OR REPLACE TEMP TABLE work_fetch_lines AS
WITH keys AS (
    SELECT h FROM work_cand_repeated
    UNION ALL SELECT h FROM work_dup_week_lines
    UNION ALL SELECT h FROM work_dup_week_entries
    UNION ALL SELECT h FROM work_dup_extra
)
SELECT line_id FROM work_cand
WHERE line_id IS NOT NULL AND (entry_id IS NULL OR h IN (SELECT h FROM keys))
UNION ALL  -- the lines off their fee, whose references the fee check reports (fee_variances.sql)
SELECT variance_line_id FROM work_fee_groups WHERE variance_line_id IS NOT NULL;

CREATE OR REPLACE TEMP TABLE work_fetch_entries AS
WITH keys AS (
    SELECT h FROM work_cand_repeated
    UNION ALL SELECT h FROM work_dup_week_lines
    UNION ALL SELECT h FROM work_dup_week_entries
    UNION ALL SELECT h FROM work_dup_extra
)
SELECT entry_id FROM work_cand
WHERE entry_id IS NOT NULL AND (line_id IS NULL OR h IN (SELECT h FROM keys));

INSERT INTO work_stmt_fetched
SELECT * FROM work_stmt_items WHERE line_id IN (SELECT line_id FROM work_fetch_lines);

INSERT INTO work_ledger_fetched
SELECT * EXCLUDE (state) FROM work_ledger_rows WHERE entry_id IN (SELECT entry_id FROM work_fetch_entries);

DROP TABLE work_fetch_lines;

DROP TABLE work_fetch_entries;
