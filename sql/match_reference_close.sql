-- Grain: what a reference pass leaves besides its links: the items with more than one candidate
-- (work_ambiguous, except for the reference_mismatch pass, mode 'any'), and the view work_links
-- over what it linked, which the cascade closes before the next rule.
-- Inputs: work_cand. Parameters: $rule, $mode.
INSERT INTO work_ambiguous
SELECT $rule, entry_id, line_id FROM work_cand WHERE (n_l > 1 OR n_s > 1) AND $mode <> 'any';

-- The pairs just linked, for mark_matched.
CREATE OR REPLACE TEMP VIEW work_links AS
SELECT entry_id, line_id FROM work_cand WHERE n_l = 1 AND n_s = 1;
