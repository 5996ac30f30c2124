-- Grain: one row per line of the day whose actual fee is off the contracted one by more than its
-- source's tolerance and which is not a duplicate (fee_prices.sql's groups of one line), with the
-- references and time the fee check reports (fee_check.sql writes them as fee_variance breaks).
-- Runs once the duplicates are marked and before the first pass sets the day aside. The lines'
-- references are read from the rows the first pass's route fetched ahead (first_pass_fetch.sql
-- fetches these with the others), and whatever is not there from the day (on the other routes,
-- all: a scan of the day's lines that DuckDB skips when every one was fetched).
-- Inputs: work_fee_groups (fee_prices.sql), work_duplicate_lines, work_stmt_fetched, work_stmt.
-- Parameters: none.
CREATE OR REPLACE TEMP TABLE work_fee_variances AS
WITH v AS (
    SELECT g.variance_line_id AS line_id, g.source, g.currency, g.actual_fee_minor AS fee_minor,
           g.expected_fee_minor AS expected_fee
    FROM work_fee_groups g
    WHERE g.variance_line_id IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM work_duplicate_lines d WHERE d.line_id = g.variance_line_id)
), refs AS (
    SELECT line_id, merchant_reference, psp_reference, booked_at FROM work_stmt_fetched
    WHERE line_id IN (SELECT line_id FROM v)
    UNION ALL
    SELECT line_id, merchant_reference, psp_reference, booked_at FROM work_stmt
    WHERE line_id IN (SELECT line_id FROM v ANTI JOIN work_stmt_fetched USING (line_id))
)
SELECT v.line_id, v.source, v.currency, r.merchant_reference, r.psp_reference, r.booked_at,
       v.fee_minor, v.expected_fee
FROM v JOIN refs r USING (line_id);

DROP TABLE work_fee_groups;
