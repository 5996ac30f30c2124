-- Grain: one row per (ledger entry, statement line) pair linked by the rule $rule on the
-- reference column {key} (an allow-listed identifier). Only open items take part; a pair is
-- made only when each side has exactly one candidate, so nothing is picked arbitrarily.
-- $mode 'exact': same currency and amount; 'tolerance': within the source's amount tolerance and
-- date window; 'any': the reference alone (pairs what is left so that its difference is reported).
-- Inputs: work_ledger, work_stmt, work_rules. Parameters: $run_id, $rule, $mode.
INSERT INTO matches
WITH cand AS (
    SELECT l.entry_id, s.line_id, s.amount_minor - l.amount_minor AS diff,
           date_diff('day', l.booked_at::DATE, s.booked_at::DATE) AS days
    FROM work_ledger l
    JOIN work_rules r ON r.source = l.source AND ($mode = 'any' OR list_contains(r.rules, $rule))
    JOIN work_stmt s
      ON s.source = l.source
     AND norm_ref(s.{key}) = norm_ref(l.{key})
     AND s.txn_type = l.txn_type
    WHERE l.state IS NULL AND s.state IS NULL
      AND CASE $mode
          WHEN 'exact' THEN s.currency = l.currency AND s.amount_minor = l.amount_minor
          WHEN 'tolerance' THEN s.currency = l.currency
               AND abs(s.amount_minor - l.amount_minor) <= r.amount_tolerance_minor
               AND abs(date_diff('day', l.booked_at::DATE, s.booked_at::DATE)) <= r.date_window_days
          ELSE true
          END
), counted AS (
    SELECT *, count(*) OVER (PARTITION BY entry_id) AS n_l, count(*) OVER (PARTITION BY line_id) AS n_s
    FROM cand
)
SELECT $run_id, 'ledger_statement', $rule, entry_id, line_id, NULL, diff,
       json_object('key', '{key}', 'difference_minor', diff, 'days_apart', days)::VARCHAR
FROM counted
WHERE n_l = 1 AND n_s = 1;
