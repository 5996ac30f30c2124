-- Grain: one row per source, business date, currency, payment method and type: actual fees
-- against the contracted rate card (macro line_fee: method, card type, amount band, validity),
-- over the day's PSP payment and refund lines.
-- Inputs: statement_lines, rate_cards. Parameters: ? = business_date.
SELECT source, business_date, currency, coalesce(payment_method, '') AS payment_method, txn_type,
       count(*) AS count, sum(amount_minor)::BIGINT AS gross_minor,
       sum(fee_minor)::BIGINT AS actual_fee_minor,
       sum(line_fee(source, payment_method, line_card_type(source, raw), amount_minor, txn_type,
                    business_date))::BIGINT AS expected_fee_minor
FROM statement_lines
WHERE business_date = ? AND txn_type IN ('payment', 'refund') AND fee_minor IS NOT NULL
  AND source IN (SELECT source FROM rate_cards)
GROUP BY ALL
ORDER BY source, currency, payment_method, txn_type;
