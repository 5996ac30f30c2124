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
-- work_versions: the latest version as of the day (its latest version with a business date up
-- to the day) of every entry that can take part: those with a version dated the day, and the
-- carried ones. Only their versions are ranked (a hash aggregate over the day's entries), never
-- the week's or the whole history's; the duplicate check (mark_duplicates.sql) looks back over
-- the week by itself, for the day's keys only. A version is (entry_id, recorded_at).
-- When one load of one ledger file wrote every version dated the day (the usual day),
-- work_versions_one_load.sql replaces this statement and the next: the same work_ledger, a view
-- of ledger_entries itself, without ranking the day's versions or copying them. Here work_ledger
-- is a view of work_versions, which set_aside.sql drops with it.
CREATE OR REPLACE TEMP TABLE work_versions AS
WITH ids AS (
    SELECT entry_id FROM ledger_entries
    WHERE business_date = $business_date AND recorded_at <= $watermark
    UNION ALL  -- an id twice is the same filter
    SELECT item_id FROM work_carried WHERE kind = 'ledger'
), v AS (
    SELECT entry_id, recorded_at, source, business_date, booked_at, txn_type, amount_minor,
           currency, merchant_reference, psp_reference,
           stored_ref(ref_key, merchant_reference) AS ref_key  -- normalised at load
    FROM ledger_entries
    WHERE recorded_at <= $watermark AND business_date <= $business_date
      AND entry_id IN (SELECT entry_id FROM ids)
), latest AS (  -- a hash aggregate per entry, not a sort of the versions
    SELECT entry_id, max(recorded_at) AS as_of_day FROM v GROUP BY entry_id
)
SELECT v.* FROM v JOIN latest l ON l.entry_id = v.entry_id AND v.recorded_at = l.as_of_day;

CREATE OR REPLACE TEMP VIEW work_ledger AS
SELECT entry_id, recorded_at, source, business_date, booked_at, txn_type, amount_minor, currency,
       merchant_reference, psp_reference, ref_key AS merchant_key,  -- norm_ref(merchant_reference)
       CASE WHEN entry_id IN (SELECT entry_id FROM work_duplicate_entries) THEN 'duplicate' END AS state
FROM work_versions
WHERE source IN (SELECT source FROM work_rules)
  AND (business_date = getvariable('recon_business_date')
       OR entry_id IN (SELECT item_id FROM work_carried WHERE kind = 'ledger'));

-- work_ledger's rows with every column of their version, which set_aside.sql keeps for the items
-- the first pass leaves open: here fetched back from ledger_entries (work_versions holds only
-- the columns the day's readers need, not a whole copy of the day's versions);
-- work_versions_one_load.sql's work_ledger has them all, and this is that view itself.
CREATE OR REPLACE TEMP VIEW work_ledger_rows AS
SELECT e.* EXCLUDE (ref_key), n.merchant_key, n.state
FROM work_ledger n
JOIN ledger_entries e ON e.entry_id = n.entry_id AND e.recorded_at = n.recorded_at
                     AND e.business_date = n.business_date;

-- A line's file is not kept: of_day says whether it is one of the day's own lines (of the run's
-- input files), which the duplicate check counts. work_stmt_more holds the lines that are not:
-- the carried ones, and the bank lines no payout explains, which the cascade adds.
CREATE OR REPLACE TEMP TABLE work_stmt_more AS
SELECT * EXCLUDE (raw, ref_key),
       CASE WHEN merchant_reference IS NOT NULL  -- then ref_key is norm_ref(merchant_reference)
            THEN stored_ref(ref_key, merchant_reference) END AS merchant_key,
       false AS of_day
FROM statement_lines
WHERE line_id IN (SELECT item_id FROM work_carried WHERE kind = 'line')
  AND (business_date <> $business_date OR file_sha256 NOT IN (SELECT sha256 FROM work_inputs))
  AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
  AND txn_type IN ('payment', 'refund', 'chargeback');

-- work_stmt_items: the day's lines (its row groups alone: zone maps), then the others, each once,
-- without their state; the working set's count reads it (the state's probe of every line id
-- was most of the count's time).
CREATE OR REPLACE TEMP VIEW work_stmt_items AS
SELECT * EXCLUDE (raw, ref_key),
       CASE WHEN merchant_reference IS NOT NULL THEN stored_ref(ref_key, merchant_reference) END
           AS merchant_key,
       true AS of_day
FROM statement_lines
WHERE business_date = getvariable('recon_business_date')
  AND file_sha256 IN (SELECT sha256 FROM work_inputs)
  AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
  AND txn_type IN ('payment', 'refund', 'chargeback')
UNION ALL
SELECT * FROM work_stmt_more;

CREATE OR REPLACE TEMP VIEW work_stmt AS
SELECT s.*,
       CASE WHEN s.line_id IN (SELECT line_id FROM work_duplicate_lines) THEN 'duplicate' END AS state
FROM work_stmt_items s;

CREATE OR REPLACE TEMP TABLE work_bank AS
SELECT s.* EXCLUDE (raw, ref_key), NULL::VARCHAR AS state
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
