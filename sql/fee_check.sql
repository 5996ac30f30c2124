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
CREATE OR REPLACE TEMP TABLE work_fees AS
SELECT f.line_id, f.expected_fee
FROM line_fees($business_date) f
SEMI JOIN work_stmt_all s ON s.line_id = f.line_id AND s.business_date = $business_date;

DELETE FROM fee_report WHERE run_id = $run_id;

INSERT INTO fee_report
SELECT $run_id, s.source, s.business_date, s.currency, coalesce(s.payment_method, ''), s.txn_type,
       count(*), sum(s.amount_minor)::BIGINT, sum(s.fee_minor)::BIGINT, sum(f.expected_fee)::BIGINT
FROM work_stmt_all s JOIN work_fees f ON f.line_id = s.line_id
GROUP BY ALL;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH expected AS (
    SELECT s.line_id, s.source, s.currency, s.merchant_reference, s.psp_reference, s.booked_at,
           s.fee_minor, f.expected_fee
    FROM work_stmt_all s JOIN work_fees f ON f.line_id = s.line_id
    WHERE s.state IS DISTINCT FROM 'duplicate' AND s.fee_minor IS NOT NULL
      AND s.business_date = $business_date AND s.txn_type IN ('payment', 'refund')
)
SELECT $run_id, substr(sha256('fee|' || e.source || '|' || e.line_id), 1, 16),
       $business_date, 'fee_variance', e.source, e.currency, e.merchant_reference, e.psp_reference,
       NULL, e.line_id, e.expected_fee, e.fee_minor, e.fee_minor - e.expected_fee, e.booked_at,
       'rate_card', 'fee charged ' || e.fee_minor || ' vs contracted ' || e.expected_fee || ' (minor units)'
FROM expected e
JOIN work_rules r ON r.source = e.source
WHERE abs(e.fee_minor - e.expected_fee) > r.fee_tolerance_minor;
