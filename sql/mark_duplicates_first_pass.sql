-- Grain: the day's items for mark_duplicates.sql when the first pass's join has already run over
-- the whole day ($all false; matching.run_cascade: an exact merchant-reference pass that every
-- source uses, run as one join). That join keyed every item on mark_duplicates.sql's key and
-- hashed it the same way (work_cand.h), so the day's repeats are among the keys it holds more
-- than once (work_cand_repeated, a few thousand): only those keys' items, those of the keys the
-- week's items carry, and the lines it could not key are counted. Then first_pass_duplicates.sql
-- closes the marked items in the join's rows.
-- Inputs: work_cand, work_cand_repeated (first_pass.sql), work_stmt, work_stmt_more.
-- Parameters: none.
-- The day's own lines in the join (not the carried ones, nor the bank lines: work_stmt_more),
-- those with a key.
CREATE OR REPLACE TEMP VIEW work_dup_lines_day AS
SELECT line_id, h FROM work_cand
WHERE line_id IS NOT NULL AND h IS NOT NULL AND line_id NOT IN (SELECT line_id FROM work_stmt_more);

CREATE OR REPLACE TEMP VIEW work_dup_lines_probe AS
SELECT h FROM work_cand;

-- The day's lines the join could not key, with no merchant reference: keyed on their PSP
-- reference (few).
CREATE OR REPLACE TEMP VIEW work_dup_lines_extra AS
SELECT line_id, hash(source, txn_type, norm_ref(psp_reference), amount_minor, currency) AS h
FROM work_stmt
WHERE of_day AND merchant_reference IS NULL AND norm_ref(psp_reference) IS NOT NULL;

-- The join's entries: the day's, and the carried ones (see mark_duplicates.sql).
CREATE OR REPLACE TEMP VIEW work_dup_entries_day AS
SELECT entry_id, h FROM work_cand WHERE entry_id IS NOT NULL AND h IS NOT NULL;

CREATE OR REPLACE TEMP VIEW work_dup_entries_probe AS
SELECT h FROM work_cand WHERE entry_id IS NOT NULL;

CREATE OR REPLACE TEMP VIEW work_dup_keys AS
SELECT h FROM work_cand_repeated;
