-- Grain: one row per PSP payout (source, payout id) first seen in the $days business dates up to
-- $business_date: when it was first seen, when its bank credit arrived (the business date of the
-- bank line that carries it; NULL while unsettled) and its delay in days (to $business_date while
-- unsettled). Read from each date's latest run (failed runs skipped, the current run for the current
-- date), so that a rerun reads what its original read.
-- Inputs: payouts, statement_lines, runs. Parameters: $run_id, $business_date, $as_of, $days.
WITH latest AS (
    SELECT business_date, arg_max(run_id, started_at) AS run_id
    FROM runs
    WHERE business_date BETWEEN $business_date - to_days(CAST($days AS INTEGER)) AND $business_date
      AND (run_id = $run_id OR (status IN ('reconciled', 'breaks') AND started_at <= $as_of))
      AND (business_date <> $business_date OR run_id = $run_id)
    GROUP BY business_date
), seen AS (
    SELECT p.source, p.payout_id, any_value(p.currency) AS currency,
           min(coalesce(p.first_seen, l.business_date)) AS first_seen,
           min(b.business_date) AS settled_on
    FROM payouts p
    JOIN latest l ON l.run_id = p.run_id
    LEFT JOIN statement_lines b ON b.line_id = p.bank_line_id
    GROUP BY p.source, p.payout_id
)
SELECT source, payout_id, currency, first_seen, settled_on,
       date_diff('day', first_seen, coalesce(settled_on, $business_date)) AS delay_days
FROM seen
WHERE first_seen <= $business_date
ORDER BY source, first_seen, payout_id;
