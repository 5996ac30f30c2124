-- Grain: the first pass's candidate counts and open items, after first_pass.sql's join (and, on
-- the bulk route, the duplicate marks between the two): each pair of a key held more than once
-- counted exactly per entry and per line (n_l, n_s); the items left open by id
-- (work_open_ledger, work_open_lines), which set_aside.sql fetches. Design: docs/cascade.md.
-- Inputs: work_cand, work_cand_repeated (first_pass.sql), work_duplicate_lines, work_ledger,
-- work_stmt, work_rules. Parameters: $rule.
-- The pairs of the keys with more than one pair, each with its entry's and its line's exact
-- number of candidates (all the pairs of an entry or a line share its key, so its hash).
CREATE OR REPLACE TEMP TABLE work_cand_multi AS
WITH shared AS (
    SELECT h FROM work_cand WHERE n_l > 0 AND h IN (SELECT h FROM work_cand_repeated)
    GROUP BY h HAVING count(*) > 1
), p AS (
    SELECT entry_id, line_id FROM work_cand WHERE n_l > 0 AND h IN (SELECT h FROM shared)
)
SELECT entry_id, line_id, count(*) OVER (PARTITION BY entry_id) AS n_l,
       count(*) OVER (PARTITION BY line_id) AS n_s
FROM p;

UPDATE work_cand SET n_l = m.n_l, n_s = m.n_s
FROM work_cand_multi m
WHERE work_cand.entry_id = m.entry_id AND work_cand.line_id = m.line_id;

-- What stays open: no candidate, or more than one; and what did not take part (closed before the
-- pass, e.g. a duplicate, or of a source that does not use the rule).
CREATE OR REPLACE TEMP TABLE work_open_ledger AS
SELECT entry_id FROM work_cand WHERE line_id IS NULL
UNION
SELECT entry_id FROM work_cand_multi WHERE n_l > 1 OR n_s > 1
UNION
SELECT entry_id FROM work_ledger
WHERE state IS NOT NULL OR source NOT IN (SELECT source FROM work_rules WHERE list_contains(rules, $rule));

CREATE OR REPLACE TEMP TABLE work_open_lines AS
SELECT line_id FROM work_cand WHERE entry_id IS NULL
UNION
SELECT line_id FROM work_cand_multi WHERE n_l > 1 OR n_s > 1
UNION  -- closed before the pass: a line's one state is 'duplicate' (work_sets.sql; and every
-- line's source has rules), so the marks themselves, not a scan of work_stmt
SELECT line_id FROM work_duplicate_lines;

DROP TABLE work_cand_multi;

DROP TABLE work_cand_repeated;
