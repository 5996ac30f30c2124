-- Grain: on the first pass's route (matching.run_cascade: the first pass is one join of the
-- exact merchant key and marks the duplicates itself), the rows, in all their columns, of every
-- item that the duplicate marks may number or the first pass may leave open, fetched in one scan
-- of the day each for the lines and the entries, before the marks are counted. Both read them
-- from here (mark_duplicates.sql, set_aside.sql): the day is not scanned again for each.
-- Which items: the join's one-sided rows, and the items of every key that the marks count: held
-- more than once in the join (work_cand_repeated), carried by a week's line or entry, or by a line
-- the join could not key (mark_duplicates_week.sql). That covers what stays open: an item with no
-- candidate, or with several (its key is held more than once), a duplicate (its key is counted),
-- and an item whose every candidate was a duplicate (it shares that duplicate's key). Whatever is
-- not here is fetched from the day by its reader, so a gap could only cost time, never a row.
-- And the lines off their fee (fee_prices.sql, run just before), whose references the fee check
-- reports (fee_variances.sql, which would otherwise scan the day for them).
-- Inputs: work_cand, work_cand_repeated (first_pass.sql), work_dup_week_lines,
-- work_dup_week_entries, work_dup_extra (mark_duplicates_week.sql), work_fee_groups
-- (fee_prices.sql), work_stmt_items, work_ledger_rows (work_sets.sql). Parameters: none.
-- The ids first, as tables (a few tens of thousands): DuckDB then knows the fetch reads few rows
-- of the day (as a subquery of the day-sized work_cand, it hashed the whole day's lines to probe
-- them with the ids).
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
