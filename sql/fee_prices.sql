-- Grain: prices every PSP payment/refund line of the run's input files for the day against the
-- rate card (table macro line_fees, recon/warehouse.py; unit for unit recon/ratecard.py) and keeps
-- work_fee_totals (per source, day, currency, method, type; duplicates counted) and the lines off
-- their fee by more than the source's tolerance, each a group of its own (work_fee_groups), which
-- fee_variances.sql checks against the duplicate marks. Runs before the first pass sets the day
-- aside: a fee depends on the line alone. Design: docs/cascade.md.
-- Inputs: line_fees (statement_lines, rate_cards), work_inputs, work_rules.
-- Parameters: $business_date.
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
