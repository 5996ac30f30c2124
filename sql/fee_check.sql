-- Grain: the run's fee report (one row per source, day, currency, method and type over the
-- day's priced PSP lines; fee_duplicates.sql then takes the duplicate lines out) and one fee_variance break per non-duplicate line whose
-- actual fee differs from the contracted rate card by more than the source's fee tolerance.
-- Both were computed by fee_prices.sql and fee_variances.sql before the first pass set the day
-- aside; written here, in the run's closing transaction.
-- Inputs: work_fee_totals, work_fee_variances. Parameters: $run_id, $business_date.
DELETE FROM fee_report WHERE run_id = $run_id;

INSERT INTO fee_report
SELECT $run_id, source, business_date, currency, payment_method, txn_type,
       lines, gross_minor, actual_fee_minor, expected_fee_minor
FROM work_fee_totals;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
SELECT $run_id, substr(sha256('fee|' || e.source || '|' || e.line_id), 1, 16),
       $business_date, 'fee_variance', e.source, e.currency, e.merchant_reference, e.psp_reference,
       NULL, e.line_id, e.expected_fee, e.fee_minor, e.fee_minor - e.expected_fee, e.booked_at,
       'rate_card', 'fee charged ' || e.fee_minor || ' vs contracted ' || e.expected_fee || ' (minor units)'
FROM work_fee_variances e;
