-- Grain: one row per source, business date, currency, payment method and type: actual fees
-- against the contracted rate card (macro expected_fee), over the day's PSP lines.
-- Inputs: statement_lines, rate_cards. Parameters: ? = business_date.
WITH priced AS (
    SELECT s.*, c.rate, c.fixed_minor, c.minimum_minor, c.maximum_minor, c.refund_returns_fee,
           row_number() OVER (PARTITION BY s.line_id ORDER BY (c.method = s.payment_method) DESC) AS pick
    FROM statement_lines s
    JOIN rate_cards c
      ON c.source = s.source AND (c.method = s.payment_method OR c.method = '*')
     AND s.business_date BETWEEN c.valid_from AND coalesce(c.valid_to, DATE '9999-12-31')
    WHERE s.business_date = ? AND s.txn_type IN ('payment', 'refund') AND s.fee_minor IS NOT NULL
)
SELECT source, business_date, currency, coalesce(payment_method, '') AS payment_method, txn_type,
       count(*) AS count, sum(amount_minor)::BIGINT AS gross_minor,
       sum(fee_minor)::BIGINT AS actual_fee_minor,
       sum(expected_fee(amount_minor, txn_type, rate, fixed_minor, minimum_minor, maximum_minor,
                        refund_returns_fee))::BIGINT AS expected_fee_minor
FROM priced WHERE pick = 1
GROUP BY ALL
ORDER BY source, currency, payment_method, txn_type;
