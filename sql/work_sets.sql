-- Grain: the run's working sets, each row with state NULL (open) or 'duplicate':
-- work_ledger (the day's current ledger entries as of the watermark, plus carried ones),
-- work_stmt (the day's PSP lines of the run's input files, plus carried ones) and work_bank (the
-- day's bank lines, plus carried ones). Views of the warehouse until the first pass (set_aside.sql
-- turns them into tables of what stays open); they read the day and the watermark from connection
-- variables set below. Carried items an accountant has resolved are not carried.
-- Design: docs/cascade.md.
-- Inputs: ledger_entries, statement_lines, open_items, annotations, work_rules, work_inputs.
-- Parameters: $business_date, $watermark, $annotation_watermark, $prev_run (NULL on a first day).
SET VARIABLE recon_business_date = $business_date::DATE;

SET VARIABLE recon_watermark = $watermark::TIMESTAMPTZ;

CREATE OR REPLACE TEMP TABLE work_duplicate_entries (entry_id VARCHAR);

CREATE OR REPLACE TEMP TABLE work_duplicate_lines (line_id VARCHAR);

CREATE OR REPLACE TEMP TABLE work_resolved AS
SELECT break_id FROM annotations
WHERE annotated_at <= $annotation_watermark
QUALIFY row_number() OVER (PARTITION BY break_id ORDER BY annotated_at DESC) = 1
    AND status = 'resolved';

CREATE OR REPLACE TEMP TABLE work_carried AS
SELECT o.kind, o.item_id
FROM open_items o
WHERE o.run_id = $prev_run
  AND NOT EXISTS (
      SELECT 1 FROM work_resolved r, (SELECT entry_id AS id, source FROM ledger_entries WHERE o.kind = 'ledger'
                                      UNION ALL
                                      SELECT line_id, source FROM statement_lines WHERE o.kind = 'line') i
      WHERE i.id = o.item_id AND r.break_id = substr(sha256('match|' || i.source || '|' || o.item_id), 1, 16));
