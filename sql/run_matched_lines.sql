-- Grain: one row per statement line a run matched (reference_mismatch pairs left out), each
-- line once: an item is linked by at most one rule, and a reference rule links one entry to one
-- line, so its lines are distinct already; only the other rules' lines need a DISTINCT (a
-- DISTINCT over every link of a big day is costly). The report model keeps it as run_matched_lines.
-- Inputs: matches. Parameters: $run_id, $one (matching.ONE_TO_ONE: the reference rules).
SELECT line_id FROM matches
WHERE run_id = $run_id AND list_contains($one, rule) AND line_id IS NOT NULL
UNION ALL
SELECT DISTINCT line_id FROM matches
WHERE run_id = $run_id AND rule <> 'reference_mismatch' AND NOT list_contains($one, rule)
  AND line_id IS NOT NULL
