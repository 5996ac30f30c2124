-- Grain: the first pass's rows (work_cand, first_pass.sql) made what its join would have given
-- had the duplicates been closed before it, when the pass ran first and marked them itself
-- (mark_duplicates_first_pass.sql, mark_duplicates.sql; matching.run_cascade): the pairs of a
-- duplicate go, and an item all of whose candidates were duplicates is left with none.
-- Inputs: work_cand, work_duplicate_entries, work_duplicate_lines. Parameters: none.
-- The join's rows of the keys that hold a duplicate (few): all the pairs of an item share its
-- key, so its hash.
CREATE OR REPLACE TEMP TABLE work_cand_dup AS
SELECT * FROM work_cand
WHERE h IN (SELECT h FROM work_cand
            WHERE entry_id IN (SELECT entry_id FROM work_duplicate_entries)
               OR line_id IN (SELECT line_id FROM work_duplicate_lines));

-- An item all of whose candidates were duplicates is left without one, as the join would have
-- left it: a one-sided row.
INSERT INTO work_cand
SELECT entry_id, NULL, NULL, NULL, 0, 0, any_value(h)
FROM work_cand_dup
WHERE line_id IS NOT NULL AND entry_id NOT IN (SELECT entry_id FROM work_duplicate_entries)
GROUP BY entry_id
HAVING bool_and(line_id IN (SELECT line_id FROM work_duplicate_lines))
UNION ALL
SELECT NULL, line_id, NULL, NULL, 0, 0, any_value(h)
FROM work_cand_dup
WHERE entry_id IS NOT NULL AND line_id NOT IN (SELECT line_id FROM work_duplicate_lines)
GROUP BY line_id
HAVING bool_and(entry_id IN (SELECT entry_id FROM work_duplicate_entries));

-- The duplicates' pairs go. (A duplicate's own one-sided row may stay: it is open all the same,
-- by its mark, and n_l = n_s = 0 makes it neither a link nor ambiguous.)
DELETE FROM work_cand
WHERE h IN (SELECT h FROM work_cand_dup)
  AND (entry_id IN (SELECT entry_id FROM work_duplicate_entries)
       OR line_id IN (SELECT line_id FROM work_duplicate_lines));

DROP TABLE work_cand_dup;
