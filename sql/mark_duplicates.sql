-- Grain: marks as 'duplicate' every new statement line that repeats an earlier line of the same
-- source (same reference, type, amount and currency) delivered in the last 7 business days or
-- earlier in the same day's files; the first occurrence stays open and is matched normally.
-- Ledger entries that repeat a reference the same way are marked too.
-- Inputs: statement_lines, ledger_entries, work_stmt, work_ledger.
-- Parameters: $business_date, $watermark.
UPDATE work_stmt SET state = 'duplicate'
FROM (
    SELECT line_id, row_number() OVER (
        PARTITION BY source, txn_type, norm_ref(coalesce(merchant_reference, psp_reference)),
                     amount_minor, currency
        ORDER BY business_date, file_sha256, file_line) AS n
    FROM statement_lines
    WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date
      AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
      AND txn_type IN ('payment', 'refund', 'chargeback')
      AND coalesce(merchant_reference, psp_reference) IS NOT NULL
) d
WHERE work_stmt.line_id = d.line_id AND d.n > 1 AND work_stmt.business_date = $business_date;

UPDATE work_ledger SET state = 'duplicate'
FROM (
    SELECT entry_id, row_number() OVER (
        PARTITION BY source, txn_type, norm_ref(merchant_reference), amount_minor, currency
        ORDER BY business_date, booked_at, entry_id) AS n
    FROM (
        SELECT * FROM ledger_entries
        WHERE recorded_at <= $watermark
          AND business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date
        QUALIFY row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) = 1
    )
    WHERE merchant_reference IS NOT NULL AND source IN (SELECT source FROM work_rules)
) d
WHERE work_ledger.entry_id = d.entry_id AND d.n > 1 AND work_ledger.business_date = $business_date;
