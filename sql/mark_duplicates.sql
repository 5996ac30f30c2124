-- Grain: marks every statement line that repeats an earlier line of the same source with the
-- same reference, type, amount and currency as 'duplicate'; the first occurrence stays open and
-- is matched normally. Ledger entries that repeat a reference are marked the same way.
-- Inputs: work_stmt, work_ledger. Parameters: none.
UPDATE work_stmt SET state = 'duplicate'
FROM (
    SELECT line_id, row_number() OVER (
        PARTITION BY source, txn_type, norm_ref(coalesce(merchant_reference, psp_reference)),
                     amount_minor, currency
        ORDER BY file_sha256, file_line) AS n
    FROM work_stmt
    WHERE coalesce(merchant_reference, psp_reference) IS NOT NULL
) d
WHERE work_stmt.line_id = d.line_id AND d.n > 1;

UPDATE work_ledger SET state = 'duplicate'
FROM (
    SELECT entry_id, row_number() OVER (
        PARTITION BY source, txn_type, norm_ref(merchant_reference), amount_minor, currency
        ORDER BY booked_at, entry_id) AS n
    FROM work_ledger
    WHERE merchant_reference IS NOT NULL
) d
WHERE work_ledger.entry_id = d.entry_id AND d.n > 1;
