-- Grain: one row per PSP source, merchant, sub-merchant, currency, payout id (NULL: none yet)
-- and duplicate flag (the run's duplicate lines: clearing.py keeps only what a payout paid for
-- them) over the day's non-payout PSP lines of the run's files. Merchant: 商户号, raw `account`,
-- else the source; sub-merchant: 特约商户号, `connected_account` or
-- `payment_metadata[sub_merchant]`, else '' (merchant_id / sub_merchant_id, or raw when NULL).
-- fee_returns: fees given back on refunds; other_fees: on lines neither payment nor refund.
-- Inputs: statement_lines, breaks. Parameters: $run_id, $business_date, $sources, $inputs.
WITH lines AS (
    SELECT s.source,
           coalesce(nullif(CASE WHEN s.merchant_id IS NULL THEN coalesce(nullif(j[1], ''), j[2])
                                ELSE s.merchant_id END, ''), s.source) AS merchant,
           coalesce(CASE WHEN s.sub_merchant_id IS NULL
                         THEN coalesce(nullif(j[3], ''), nullif(j[4], ''), nullif(j[5], ''))
                         ELSE s.sub_merchant_id END, '') AS sub_merchant,
           s.currency, s.payout_id, s.txn_type, s.amount_minor,
           s.line_id IN (SELECT line_id FROM breaks WHERE run_id = $run_id AND category = 'duplicate'
                         AND line_id IS NOT NULL) AS duplicate,
           coalesce(s.fee_minor, 0) AS fee_minor,
           coalesce(s.net_minor, s.amount_minor - coalesce(s.fee_minor, 0)) AS net_minor
    FROM (SELECT * EXCLUDE (raw),
                 CASE WHEN merchant_id IS NULL OR sub_merchant_id IS NULL THEN
                     json_extract_string(raw, ['$."商户号"', '$.account', '$."特约商户号"',
                                               '$.connected_account', '$."payment_metadata[sub_merchant]"'])
                 END AS j
          FROM statement_lines s
          WHERE s.business_date = $business_date AND s.txn_type <> 'payout'
            AND s.file_sha256 IN (SELECT unnest($inputs))  -- the run's files: not a replaced delivery
            AND list_contains($sources, s.source)) s
)
SELECT source, merchant, sub_merchant, currency, payout_id, duplicate, count(*) AS lines,
       coalesce(sum(amount_minor) FILTER (WHERE txn_type = 'payment'), 0)::BIGINT AS payments_minor,
       coalesce(-sum(amount_minor) FILTER (WHERE txn_type = 'refund'), 0)::BIGINT AS refunds_minor,
       coalesce(-sum(amount_minor) FILTER (WHERE txn_type = 'chargeback'), 0)::BIGINT AS chargebacks_minor,
       coalesce(sum(amount_minor) FILTER (WHERE txn_type NOT IN ('payment', 'refund', 'chargeback')), 0)::BIGINT
           AS other_minor,
       sum(fee_minor)::BIGINT AS fees_minor,
       coalesce(-sum(fee_minor) FILTER (WHERE txn_type = 'refund'), 0)::BIGINT AS fee_returns_minor,
       coalesce(sum(fee_minor) FILTER (WHERE txn_type NOT IN ('payment', 'refund')), 0)::BIGINT AS other_fees_minor,
       sum(net_minor)::BIGINT AS net_minor
FROM lines
GROUP BY ALL
ORDER BY source, merchant, sub_merchant, currency, payout_id NULLS FIRST, duplicate;
