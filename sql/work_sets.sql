-- Grain: builds the run's working sets, each row with state NULL (open).
-- work_ledger: one row per current ledger entry (latest version as of the watermark) of the
--   business day, plus the entries the previous run left open (carried forward);
-- work_stmt: one row per PSP line of the day a ledger entry can explain, plus carried lines;
-- work_bank: one row per bank line of the day, plus carried bank lines.
-- Inputs: ledger_entries, statement_lines, open_items, work_rules.
-- Parameters: $business_date, $watermark, $prev_run (NULL on a first day).
CREATE OR REPLACE TEMP TABLE work_ledger AS
SELECT e.* EXCLUDE (version), NULL::VARCHAR AS state
FROM (
    SELECT *, row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) AS version
    FROM ledger_entries
    WHERE recorded_at <= $watermark AND business_date <= $business_date
) e
WHERE e.version = 1
  AND e.source IN (SELECT source FROM work_rules)
  AND (e.business_date = $business_date
       OR e.entry_id IN (SELECT item_id FROM open_items WHERE run_id = $prev_run AND kind = 'ledger'));

CREATE OR REPLACE TEMP TABLE work_stmt AS
SELECT s.*, NULL::VARCHAR AS state
FROM statement_lines s
WHERE s.source IN (SELECT source FROM work_rules WHERE kind = 'psp')
  AND s.txn_type IN ('payment', 'refund', 'chargeback')
  AND (s.business_date = $business_date
       OR s.line_id IN (SELECT item_id FROM open_items WHERE run_id = $prev_run AND kind = 'line'));

CREATE OR REPLACE TEMP TABLE work_bank AS
SELECT s.*, NULL::VARCHAR AS state
FROM statement_lines s
WHERE s.source IN (SELECT source FROM work_rules WHERE kind = 'bank')
  AND (s.business_date = $business_date
       OR s.line_id IN (SELECT item_id FROM open_items WHERE run_id = $prev_run AND kind = 'line'));

CREATE OR REPLACE TEMP TABLE work_ambiguous (rule VARCHAR, entry_id VARCHAR, line_id VARCHAR);
