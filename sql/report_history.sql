-- Grain: one row per business date in the 30 days up to $business_date that has a run: that
-- date's latest run (by started_at; failed runs skipped, the current run always counted), its
-- statement lines (payout rows excluded, as in report_counts) and how many of them it matched
-- (runs.matched_lines, recorded as each run finishes; the current run's: $matched).
-- Inputs: runs, matches (runs finished before matched_lines existed), statement_lines.
-- Parameters: $run_id, $business_date, $matched, $one (matching.ONE_TO_ONE), $inputs (the
-- current run's input files, sha256), $as_of (runs started later, and reproductions, are not
-- seen: a rerun reads the history its original read).
WITH latest AS (  -- each date's latest run, and the files it read (sql/report_window.sql)
    SELECT * FROM report_latest($run_id, $business_date, $as_of)
), inputs AS (
    SELECT * FROM report_inputs($run_id, $business_date, $as_of, $inputs)
), past AS (  -- runs finished before matched_lines was recorded: their matched lines, counted
             -- as then (a DISTINCT only for the lines of rules not in $one; carried lines included)
    SELECT run_id, count(*) AS n FROM matches
    WHERE run_id IN (SELECT l.run_id FROM latest l JOIN runs r ON r.run_id = l.run_id
                     WHERE l.run_id <> $run_id AND r.matched_lines IS NULL)
      AND list_contains($one, rule) AND line_id IS NOT NULL
    GROUP BY run_id
    UNION ALL
    SELECT run_id, count(DISTINCT line_id) FROM matches
    WHERE run_id IN (SELECT l.run_id FROM latest l JOIN runs r ON r.run_id = l.run_id
                     WHERE l.run_id <> $run_id AND r.matched_lines IS NULL)
      AND rule <> 'reference_mismatch' AND NOT list_contains($one, rule)
    GROUP BY run_id
)
SELECT l.business_date, l.run_id,
       (SELECT count(*) FROM statement_lines s JOIN inputs i
          ON i.business_date = s.business_date AND i.sha256 = s.file_sha256
        WHERE s.business_date = l.business_date AND s.txn_type <> 'payout') AS statement_lines,
       CASE WHEN l.run_id = $run_id THEN $matched
            ELSE coalesce(r.matched_lines,
                          (SELECT coalesce(sum(p.n), 0)::BIGINT FROM past p WHERE p.run_id = l.run_id))
       END AS matched_statement
FROM latest l JOIN runs r ON r.run_id = l.run_id
ORDER BY l.business_date;
