-- Grain: the run's fee report without the day's duplicate PSP lines (the lines the run closed as
-- duplicates): their count, gross and fees priced again (line_fees, as fee_prices.sql priced
-- them) and taken out of their group, so that the fee report, the positions and the journal
-- count the same lines (the duplicates' net goes to suspense in the journal). A group left with
-- no line is removed. Run after fee_check.sql, only when the run raised duplicate lines.
-- Inputs: fee_report, breaks, line_fees_of (statement_lines, rate_cards), work_inputs.
-- Parameters: $run_id, $business_date, $lines (the duplicate lines' ids: line_fees_of prices
-- only those, not the day).
CREATE OR REPLACE TEMP TABLE work_fee_duplicates AS
SELECT f.source, f.business_date, f.currency, coalesce(f.payment_method, '') AS payment_method,
       f.txn_type, count(*) AS lines, sum(f.amount_minor)::BIGINT AS gross_minor,
       sum(f.fee_minor)::BIGINT AS actual_fee_minor, sum(f.expected_fee)::BIGINT AS expected_fee_minor
FROM line_fees_of($business_date, $lines) f
WHERE f.file_sha256 IN (SELECT sha256 FROM work_inputs)
GROUP BY ALL;

UPDATE fee_report SET count = fee_report.count - d.lines,
                      gross_minor = fee_report.gross_minor - d.gross_minor,
                      actual_fee_minor = fee_report.actual_fee_minor - d.actual_fee_minor,
                      expected_fee_minor = fee_report.expected_fee_minor - d.expected_fee_minor
FROM work_fee_duplicates d
WHERE fee_report.run_id = $run_id AND fee_report.source = d.source
  AND fee_report.business_date = d.business_date AND fee_report.currency = d.currency
  AND fee_report.payment_method = d.payment_method AND fee_report.txn_type = d.txn_type;

DELETE FROM fee_report WHERE run_id = $run_id AND count = 0;

DROP TABLE work_fee_duplicates;
