-- Grain: the statement side of the working sets (work_sets.sql made the ledger side):
-- work_stmt_more (carried and cascade-added lines), work_stmt_items and the work_stmt view (the
-- day's PSP lines of the run's input files with their duplicate mark as state), work_bank (the
-- day's and carried bank lines), and the empty work_ambiguous, work_links, work_stmt_fetched and
-- work_ledger_fetched the cascade fills. Design: docs/cascade.md.
-- Inputs: statement_lines, work_inputs, work_carried, work_duplicate_lines, work_rules.
-- Parameters: $business_date.
-- A line's file is not kept: of_day says whether it is one of the day's own lines (of the run's
-- input files), which the duplicate check counts. work_stmt_more holds the lines that are not:
-- the carried ones, and the bank lines no payout explains, which the cascade adds. The lines
-- matched: payments, refunds, chargebacks and a profit-sharing (分账) bill's allocation,
-- allocation_return and unfreeze lines.
CREATE OR REPLACE TEMP TABLE work_stmt_more AS
SELECT * EXCLUDE (raw, ref_key, byte_offset, byte_length),
       CASE WHEN merchant_reference IS NOT NULL  -- then ref_key is norm_ref(merchant_reference)
            THEN stored_ref(ref_key, merchant_reference) END AS merchant_key,
       false AS of_day
FROM statement_lines
WHERE line_id IN (SELECT item_id FROM work_carried WHERE kind = 'line')
  AND (business_date <> $business_date OR file_sha256 NOT IN (SELECT sha256 FROM work_inputs))
  AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
  AND txn_type IN ('payment', 'refund', 'chargeback', 'allocation', 'allocation_return', 'unfreeze');

-- work_stmt_items: the day's lines (its row groups alone: zone maps), then the others, each once,
-- without their state; the working set's count reads it (the state's probe of every line id
-- was most of the count's time).
CREATE OR REPLACE TEMP VIEW work_stmt_items AS
SELECT * EXCLUDE (raw, ref_key, byte_offset, byte_length),
       CASE WHEN merchant_reference IS NOT NULL THEN stored_ref(ref_key, merchant_reference) END
           AS merchant_key,
       true AS of_day
FROM statement_lines
WHERE business_date = getvariable('recon_business_date')
  AND file_sha256 IN (SELECT sha256 FROM work_inputs)
  AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
  AND txn_type IN ('payment', 'refund', 'chargeback', 'allocation', 'allocation_return', 'unfreeze')
UNION ALL
SELECT * FROM work_stmt_more;

CREATE OR REPLACE TEMP VIEW work_stmt AS
SELECT s.*,
       CASE WHEN s.line_id IN (SELECT line_id FROM work_duplicate_lines) THEN 'duplicate' END AS state
FROM work_stmt_items s;

CREATE OR REPLACE TEMP TABLE work_bank AS
SELECT s.* EXCLUDE (raw, ref_key, byte_offset, byte_length), NULL::VARCHAR AS state
FROM statement_lines s
WHERE s.source IN (SELECT source FROM work_rules WHERE kind = 'bank')
  AND ((s.business_date = $business_date AND s.file_sha256 IN (SELECT sha256 FROM work_inputs))
       OR s.line_id IN (SELECT item_id FROM work_carried WHERE kind = 'line'));

CREATE OR REPLACE TEMP TABLE work_ambiguous (rule VARCHAR, entry_id VARCHAR, line_id VARCHAR);

-- What the last matcher linked (matchers redefine it over their own result): nothing yet.
CREATE OR REPLACE TEMP VIEW work_links AS
SELECT NULL::VARCHAR AS entry_id, NULL::VARCHAR AS line_id WHERE false;

-- The rows of the day's items that first_pass_fetch.sql fetches ahead for the duplicate marks and
-- set_aside.sql, in one scan of the day each (the first pass's route alone); empty on the other
-- routes, whose readers then fetch all from the day. work_ledger_fetched leaves out the state:
-- it is read before the marks, and its readers take the state from them.
CREATE OR REPLACE TEMP TABLE work_stmt_fetched AS
SELECT * FROM work_stmt_items WHERE false;

CREATE OR REPLACE TEMP TABLE work_ledger_fetched AS
SELECT * EXCLUDE (state) FROM work_ledger_rows WHERE false;
