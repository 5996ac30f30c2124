-- Grain: one row per source, business date, currency, payment method and type: actual fees
-- against the contracted rate card, over the PSP payment and refund lines of the day that the run
-- read (its input files), each priced once by the run's fee check (expected_fees: method, card
-- type, amount band, validity; recon/ratecard.py unit for unit).
-- Inputs: statement_lines, expected_fees. Parameters: $run_id.
SELECT s.source, s.business_date, s.currency, coalesce(s.payment_method, '') AS payment_method,
       s.txn_type, count(*) AS count, sum(s.amount_minor)::BIGINT AS gross_minor,
       sum(s.fee_minor)::BIGINT AS actual_fee_minor, sum(f.expected_fee_minor)::BIGINT AS expected_fee_minor
FROM statement_lines s JOIN expected_fees f ON f.line_id = s.line_id AND f.run_id = $run_id
GROUP BY ALL
ORDER BY source, currency, payment_method, txn_type;
