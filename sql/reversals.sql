-- Grain: one row per refund or chargeback line of the business day that names an original
-- payment (original_reference): the earliest PSP payment line of the same source whose merchant
-- reference normalises to it. carry_forward.sql writes them as the run's reversal_links.
-- It runs before the first pass, outside the run's closing transaction (matching.run_cascade):
-- the link depends on the lines alone, not on what matched them, and needs the whole day's lines.
-- Inputs: work_stmt (the day's lines, before the first pass), statement_lines.
-- Parameters: $business_date.
CREATE OR REPLACE TEMP TABLE work_reversals AS
SELECT s.line_id, any_value(o.line_id ORDER BY o.business_date, o.line_id) AS original_line_id,
       s.txn_type
FROM work_stmt s
JOIN statement_lines o
  ON o.source = s.source AND o.txn_type = 'payment'
 AND o.merchant_reference IS NOT NULL  -- then ref_key is norm_ref(merchant_reference)
 AND stored_ref(o.ref_key, o.merchant_reference) = norm_ref(s.original_reference)
WHERE s.business_date = $business_date AND s.txn_type IN ('refund', 'chargeback')
  AND s.original_reference IS NOT NULL
GROUP BY s.line_id, s.txn_type;
