-- Grain: builds the run's working sets. work_ledger: one row per current ledger entry
-- (latest version as of the watermark) of the business day for the matched PSP sources;
-- work_stmt: one row per PSP statement line of the business day that a ledger entry can explain.
-- Inputs: ledger_entries, statement_lines, work_rules (one row per PSP source, made by Python).
-- Parameters: $business_date, $watermark.
CREATE OR REPLACE TEMP TABLE work_ledger AS
SELECT e.* EXCLUDE (version), NULL::VARCHAR AS state
FROM (
    SELECT *, row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) AS version
    FROM ledger_entries
    WHERE recorded_at <= $watermark
) e
WHERE e.version = 1
  AND e.business_date = $business_date
  AND e.source IN (SELECT source FROM work_rules);

CREATE OR REPLACE TEMP TABLE work_stmt AS
SELECT s.*, NULL::VARCHAR AS state
FROM statement_lines s
WHERE s.business_date = $business_date
  AND s.source IN (SELECT source FROM work_rules)
  AND s.txn_type IN ('payment', 'refund', 'chargeback');
