-- Grain: one row per payment line of $business_date whose merchant reference or PSP reference was
-- already on a payment line of the same source on an earlier business date (within $days days):
-- a possible double charge. The day's lines come from the run's own files ($inputs); earlier
-- days' from files fetched by the run's watermark ($as_of) and not yet replaced by a correction
-- then, so a rerun sees exactly what its original saw.
-- Inputs: statement_lines, files. Parameters: $business_date, $days, $sources, $inputs, $as_of.
WITH pay AS (
    SELECT s.line_id, s.source, s.business_date, s.currency, s.amount_minor,
           upper(trim(s.merchant_reference)) AS mref, upper(trim(s.psp_reference)) AS pref
    FROM statement_lines s JOIN files f ON f.sha256 = s.file_sha256
    LEFT JOIN files c ON c.sha256 = f.superseded_by
    WHERE f.parse_status = 'loaded' AND s.txn_type = 'payment'
      AND CASE WHEN s.business_date = $business_date THEN list_contains($inputs, s.file_sha256)
               ELSE f.fetched_at <= $as_of AND (c.sha256 IS NULL OR c.fetched_at > $as_of) END
      AND list_contains($sources, s.source)
      AND s.business_date BETWEEN $business_date - to_days(CAST($days AS INTEGER)) AND $business_date
), today AS (SELECT * FROM pay WHERE business_date = $business_date),
earlier AS (SELECT * FROM pay WHERE business_date < $business_date),
hits AS (
    SELECT t.*, 'merchant_reference' AS field, t.mref AS reference, e.business_date AS earlier_date,
           e.amount_minor AS earlier_amount_minor
    FROM today t JOIN earlier e ON e.source = t.source AND e.mref = t.mref
    WHERE t.mref IS NOT NULL AND t.mref <> ''
    UNION ALL
    SELECT t.*, 'psp_reference', t.pref, e.business_date, e.amount_minor
    FROM today t JOIN earlier e ON e.source = t.source AND e.pref = t.pref
    WHERE t.pref IS NOT NULL AND t.pref <> ''
)
SELECT source, business_date, currency, line_id, arg_min(field, earlier_date) AS field,
       arg_min(reference, earlier_date) AS reference, amount_minor,
       min(earlier_date) AS earlier_date, arg_min(earlier_amount_minor, earlier_date) AS earlier_amount_minor
FROM hits
GROUP BY source, business_date, currency, line_id, amount_minor
ORDER BY source, line_id;
