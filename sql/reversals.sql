-- Grain: one row per refund or chargeback line of the business day that names an original
-- payment (original_reference): the earliest PSP payment line of the same source whose merchant
-- reference normalises to it; carry_forward.sql writes them as the run's reversal_links. It needs
-- the whole day's lines and not what matched them, so it runs before the first pass sets the day
-- aside. Inputs: work_stmt, statement_lines. Parameters: $business_date.

-- The payments are every PSP payment line ever loaded, compared on their stored ref_key column
-- itself (not through stored_ref): DuckDB then prunes with the range of the day's originals
-- (zone maps on ref_key) and probes the rest with a Bloom filter, instead of normalising and
-- probing every payment of the whole history. Rows loaded before ref_key existed (NULL) are
-- normalised in a branch of their own.
-- Inputs: work_stmt (the day's lines, before the set-aside), statement_lines.
-- Parameters: $business_date.
CREATE OR REPLACE TEMP TABLE work_reversals AS
WITH r AS (  -- the day's reversals that name an original
    SELECT line_id, source, txn_type, norm_ref(original_reference) AS k
    FROM work_stmt
    WHERE business_date = $business_date AND txn_type IN ('refund', 'chargeback')
      AND original_reference IS NOT NULL
), o AS (  -- payments with a merchant reference (then ref_key is norm_ref(merchant_reference))
    SELECT line_id, source, business_date, ref_key AS k FROM statement_lines
    WHERE txn_type = 'payment' AND merchant_reference IS NOT NULL AND ref_key IS NOT NULL
    UNION ALL
    SELECT line_id, source, business_date, norm_ref(merchant_reference) FROM statement_lines
    WHERE txn_type = 'payment' AND merchant_reference IS NOT NULL AND ref_key IS NULL
)
SELECT r.line_id, any_value(o.line_id ORDER BY o.business_date, o.line_id) AS original_line_id,
       r.txn_type
FROM r JOIN o ON o.source = r.source AND o.k = r.k
GROUP BY r.line_id, r.txn_type;
