-- Grain: one row per source, business date, currency, payment method and type: actual fees
-- against the contracted rate card (table macro line_fees: method, card type, amount band, validity),
-- over the day's PSP payment and refund lines.
-- Inputs: statement_lines, rate_cards. Parameters: ? = business_date.
SELECT s.source, s.business_date, s.currency, coalesce(s.payment_method, '') AS payment_method,
       s.txn_type, count(*) AS count, sum(s.amount_minor)::BIGINT AS gross_minor,
       sum(s.fee_minor)::BIGINT AS actual_fee_minor, sum(f.expected_fee)::BIGINT AS expected_fee_minor
FROM statement_lines s JOIN line_fees($1) f ON f.line_id = s.line_id
WHERE s.business_date = $1 AND s.txn_type IN ('payment', 'refund') AND s.fee_minor IS NOT NULL
  AND s.source IN (SELECT source FROM rate_cards)
GROUP BY ALL
ORDER BY source, currency, payment_method, txn_type;
