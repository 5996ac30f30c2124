-- Grain: one row per PSP source, business date (the 30 days up to $business_date) and currency:
-- channel health counts. Success = a payment line not failed/closed/revoked; matched = linked by
-- that date's latest run (failed runs skipped, the current run for the current date); the lines
-- are those of the files that run read.
-- Inputs: statement_lines, runs, matches, run_matched_lines (temp, see report_counts).
-- Parameters: $run_id, $business_date, $as_of (runs started later, and reproductions, are not
-- seen: a rerun reads the history its original read), $sources (PSPs), $inputs (the current
-- run's input files, sha256).
WITH latest AS (  -- each date's latest run, and the files it read (sql/report_window.sql)
    SELECT * FROM report_latest($run_id, $business_date, $as_of)
), inputs AS (
    SELECT * FROM report_inputs($run_id, $business_date, $as_of, $inputs)
),
matched AS (  -- probed (IN), not joined: a line in it twice is still one line
    SELECT line_id FROM run_matched_lines
    UNION ALL
    SELECT m.line_id FROM matches m JOIN latest l ON l.run_id = m.run_id
    WHERE l.run_id <> $run_id AND m.rule <> 'reference_mismatch' AND m.line_id IS NOT NULL
)
SELECT s.source, s.business_date, s.currency,
       count(*) FILTER (WHERE s.txn_type = 'payment') AS payments,
       count(*) FILTER (WHERE s.txn_type = 'payment' AND upper(coalesce(s.status, 'SUCCESS'))
             NOT IN ('FAILED', 'CLOSED', 'REVOKED', 'PAYERROR', 'NOTPAY', 'CANCELED',
                     'CANCELLED', 'USERPAYING')) AS successful,
       count(*) FILTER (WHERE s.txn_type = 'refund') AS refunds,
       count(*) FILTER (WHERE s.txn_type = 'chargeback') AS chargebacks,
       count(*) AS lines,
       count(*) FILTER (WHERE s.line_id IN (SELECT line_id FROM matched)) AS matched,
       coalesce(sum(s.amount_minor) FILTER (WHERE s.txn_type = 'payment'), 0)::BIGINT AS gross_minor,
       coalesce(sum(s.fee_minor), 0)::BIGINT AS fee_minor
FROM statement_lines s
JOIN inputs i ON i.business_date = s.business_date AND i.sha256 = s.file_sha256
WHERE s.txn_type <> 'payout' AND list_contains($sources, s.source)
GROUP BY ALL
ORDER BY s.business_date, s.source, s.currency;
