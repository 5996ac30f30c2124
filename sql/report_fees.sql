-- Grain: one row per source, business date, currency, payment method and type: actual fees
-- against the contracted rate card, over the PSP payment and refund lines of the day that the run
-- read (its input files), as the run's fee check priced them (fee_report; line_fees: method, card
-- type, amount band, validity; recon/ratecard.py unit for unit).
-- Inputs: fee_report. Parameters: $run_id.
SELECT source, business_date, currency, payment_method, txn_type, count, gross_minor,
       actual_fee_minor, expected_fee_minor
FROM fee_report
WHERE run_id = $run_id
ORDER BY source, currency, payment_method, txn_type;
