-- Grain: one matches row per pair match_reference.sql found with exactly one candidate on each
-- side (n_l = n_s = 1), with its rule and evidence. On the first pass the cascade runs it in the
-- run's closing transaction (matching.run_cascade); otherwise right after the candidates.
-- Inputs: work_cand. Parameters: $run_id, $rule, $mode. Identifier: {key}.
-- A link's evidence depends only on its difference and its days apart: each distinct one is
-- written once and looked up (a first pass of millions of links has a handful; json_object per
-- link was measurably slower).
INSERT INTO matches
WITH evidence AS (
    SELECT diff, days,
           json_object('key', '{key}', 'mode', $mode, 'difference_minor', diff, 'days_apart', days,
                       'candidates', 1)::VARCHAR AS evidence
    FROM (SELECT DISTINCT diff, days FROM work_cand WHERE n_l = 1 AND n_s = 1)
)
SELECT $run_id, 'ledger_statement', $rule, c.entry_id, c.line_id, NULL, c.diff, e.evidence
FROM work_cand c
JOIN evidence e ON e.diff IS NOT DISTINCT FROM c.diff AND e.days IS NOT DISTINCT FROM c.days
WHERE c.n_l = 1 AND c.n_s = 1;
