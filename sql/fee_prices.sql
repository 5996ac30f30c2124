-- Grain: prices every PSP payment/refund line of the business day (not carried lines: a line is
-- priced once) against the contracted rate card (table macro line_fees in recon/warehouse.py:
-- rate selection by method, card type, amount band and validity, then expected_fee;
-- recon/ratecard.py unit for unit), and keeps what the fee check (fee_check.sql) writes:
-- work_fee_totals, one row per source, day, currency, method and type over every priced line
-- (duplicates too), and work_fee_variances, one row per non-duplicate line whose actual fee
-- differs from the contracted one by more than the source's fee tolerance.
-- It runs before the first pass, outside the run's closing transaction (matching.run_cascade):
-- a fee depends on the line alone (its duplicate mark is the only state set so far), and the
-- day's priced lines (10M rows at scale) are freed as soon as they are summed.
-- Inputs: work_stmt (the day's lines with their duplicate marks), work_rules, rate_cards.
-- Parameters: $business_date.
CREATE OR REPLACE TEMP TABLE work_fees AS
SELECT s.line_id, s.source, s.business_date, s.currency, s.payment_method, s.txn_type, s.amount_minor,
       s.fee_minor, s.state, f.expected_fee
FROM line_fees($business_date) f
JOIN work_stmt s ON s.line_id = f.line_id AND s.business_date = $business_date;

CREATE OR REPLACE TEMP TABLE work_fee_totals AS
SELECT source, business_date, currency, coalesce(payment_method, '') AS payment_method, txn_type,
       count(*) AS lines, sum(amount_minor)::BIGINT AS gross_minor,
       sum(fee_minor)::BIGINT AS actual_fee_minor, sum(expected_fee)::BIGINT AS expected_fee_minor
FROM work_fees
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE work_fee_variances AS
SELECT f.line_id, f.source, f.currency, s.merchant_reference, s.psp_reference, s.booked_at,
       f.fee_minor, f.expected_fee
FROM work_fees f
JOIN work_rules r ON r.source = f.source
JOIN work_stmt s ON s.line_id = f.line_id AND s.business_date = $business_date
WHERE f.state IS DISTINCT FROM 'duplicate' AND f.fee_minor IS NOT NULL
  AND f.business_date = $business_date AND f.txn_type IN ('payment', 'refund')
  AND abs(f.fee_minor - f.expected_fee) > r.fee_tolerance_minor;

DROP TABLE work_fees;
