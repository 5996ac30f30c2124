-- Grain: prices every PSP payment/refund line of the business day (not carried lines: a line is
-- priced once) against the contracted rate card (table macro line_fees in recon/warehouse.py:
-- rate selection by method, card type, amount band and validity, then expected_fee;
-- recon/ratecard.py unit for unit), and keeps what the fee check (fee_check.sql) writes:
-- work_fee_totals, one row per source, day, currency, method and type over every priced line
-- (duplicates too), and work_fee_variances, one row per non-duplicate line whose actual fee
-- differs from the contracted one by more than the source's fee tolerance.
-- The lines priced are those of the run's input files (work_inputs) of its PSP sources, as in
-- work_stmt. They are summed in one pass, each variance line in a group of its own
-- (work_fee_groups: a few rows per source and type, plus one per line off), so that the day's
-- priced lines (10M at scale) are neither kept nor joined with the working set line by line.
-- It runs before the first pass sets the day aside, outside the run's closing transaction
-- (matching.run_cascade): a fee depends on the line alone. Whether a line is a duplicate counts
-- only for its variance, checked by fee_variances.sql once the duplicates are marked; on the
-- first pass's route this runs before first_pass_fetch.sql, which fetches the variance lines'
-- rows with the others it fetches ahead.
-- Inputs: line_fees (statement_lines, rate_cards), work_inputs, work_rules.
-- Parameters: $business_date.
-- A line whose fee is off by more than the tolerance is a group of its own, duplicate or not:
-- only those few groups are then checked against the duplicate marks, not the day's 10M lines.
CREATE OR REPLACE TEMP TABLE work_fee_groups AS
SELECT f.source, f.business_date, f.currency, coalesce(f.payment_method, '') AS payment_method,
       f.txn_type,
       CASE WHEN abs(f.fee_minor - f.expected_fee) > r.fee_tolerance_minor THEN f.line_id END
           AS variance_line_id,
       count(*) AS lines, sum(f.amount_minor)::BIGINT AS gross_minor,
       sum(f.fee_minor)::BIGINT AS actual_fee_minor, sum(f.expected_fee)::BIGINT AS expected_fee_minor
FROM line_fees($business_date) f
JOIN work_rules r ON r.source = f.source AND r.kind = 'psp'
WHERE f.file_sha256 IN (SELECT sha256 FROM work_inputs)
GROUP BY ALL;

CREATE OR REPLACE TEMP TABLE work_fee_totals AS
SELECT source, business_date, currency, payment_method, txn_type,
       sum(lines)::BIGINT AS lines, sum(gross_minor)::BIGINT AS gross_minor,
       sum(actual_fee_minor)::BIGINT AS actual_fee_minor,
       sum(expected_fee_minor)::BIGINT AS expected_fee_minor
FROM work_fee_groups
GROUP BY ALL;
