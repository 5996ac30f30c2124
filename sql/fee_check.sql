-- Grain: one break per PSP payment/refund line of the business day (not carried lines: a line
-- is priced once) whose actual fee differs from the
-- contracted rate card by more than the source's fee tolerance (table macro line_fees
-- in recon/warehouse.py: rate selection by method, card type, amount band and validity, then
-- expected_fee; recon/ratecard.py unit for unit).
-- Inputs: work_stmt_all (the day's lines however they matched, set_aside.sql), work_rules,
-- rate_cards. Parameters: $run_id, $business_date.
-- Every priced line of the day the run read is priced once (work_fees); the fee report of the run
-- (fee_report) sums them all, duplicates too; the breaks are the non-duplicate lines beyond the
-- source's tolerance.
-- work_fees carries the columns the report and the breaks need, so that both read it alone (one
-- join of the day's lines with their prices, not one per statement).
CREATE OR REPLACE TEMP TABLE work_fees AS
SELECT s.line_id, s.source, s.business_date, s.currency, s.payment_method, s.txn_type, s.amount_minor,
       s.fee_minor, s.merchant_reference, s.psp_reference, s.booked_at, s.state, f.expected_fee
FROM line_fees($business_date) f
JOIN work_stmt_all s ON s.line_id = f.line_id AND s.business_date = $business_date;

DELETE FROM fee_report WHERE run_id = $run_id;

INSERT INTO fee_report
SELECT $run_id, source, business_date, currency, coalesce(payment_method, ''), txn_type,
       count(*), sum(amount_minor)::BIGINT, sum(fee_minor)::BIGINT, sum(expected_fee)::BIGINT
FROM work_fees
GROUP BY ALL;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH expected AS (
    SELECT line_id, source, currency, merchant_reference, psp_reference, booked_at, fee_minor,
           expected_fee
    FROM work_fees
    WHERE state IS DISTINCT FROM 'duplicate' AND fee_minor IS NOT NULL
      AND business_date = $business_date AND txn_type IN ('payment', 'refund')
)
SELECT $run_id, substr(sha256('fee|' || e.source || '|' || e.line_id), 1, 16),
       $business_date, 'fee_variance', e.source, e.currency, e.merchant_reference, e.psp_reference,
       NULL, e.line_id, e.expected_fee, e.fee_minor, e.fee_minor - e.expected_fee, e.booked_at,
       'rate_card', 'fee charged ' || e.fee_minor || ' vs contracted ' || e.expected_fee || ' (minor units)'
FROM expected e
JOIN work_rules r ON r.source = e.source
WHERE abs(e.fee_minor - e.expected_fee) > r.fee_tolerance_minor;
