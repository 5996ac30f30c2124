-- Grain: work_versions and the work_ledger and work_ledger_rows views (work_sets.sql) when every
-- version dated the business day was written by one load of one ledger file (matching.run_cascade
-- checks: one file_sha256 and one recorded_at, $day_loaded_at, among the day's versions up to the watermark). The same
-- work_ledger as the general statements, without ranking the day's versions and without copying
-- them into work_versions:
-- - an export never holds an entry twice (schemas/ledger.py quarantines every repeat), so the
--   day has one version per entry, and it is the latest as of the day unless a version of the
--   same entry dated before the day was recorded after it (a correction that moved the entry to
--   an earlier day: recorded after $day_loaded_at, so the scan reads only the row groups of later
--   loads, whose zone maps mostly rule them out by date);
-- - those entries ("odd"), and the carried ones, are ranked as in the general statement (few):
--   work_versions holds them alone. Its readers (mark_duplicates.sql) read from it only the
--   versions dated another day than the business day, which are all among those; the day's
--   versions they read from work_ledger.
-- Here work_ledger shows every column of each version (work_versions holds few rows, whole), so
-- that set_aside.sql reads the open ones in one scan; its readers read only the columns they use.
-- Inputs: ledger_entries, work_carried, work_rules. Parameters: $business_date, $watermark,
-- $day_loaded_at.
CREATE OR REPLACE TEMP TABLE work_versions AS
WITH moved AS (  -- few: versions dated before the day, recorded after the day's load
    SELECT DISTINCT entry_id FROM ledger_entries
    WHERE business_date < $business_date AND recorded_at > $day_loaded_at AND recorded_at <= $watermark
), odd AS (
    SELECT entry_id FROM ledger_entries
    WHERE business_date = $business_date AND recorded_at <= $watermark
      AND entry_id IN (SELECT entry_id FROM moved)
    UNION
    SELECT item_id FROM work_carried WHERE kind = 'ledger'
), v AS (  -- every column (few rows): work_ledger shows them all
    SELECT * REPLACE (stored_ref(ref_key, merchant_reference) AS ref_key)
    FROM ledger_entries
    WHERE recorded_at <= $watermark AND business_date <= $business_date
      AND entry_id IN (SELECT entry_id FROM odd)
), latest AS (
    SELECT entry_id, max(recorded_at) AS as_of_day FROM v GROUP BY entry_id
)
SELECT v.* FROM v JOIN latest l ON l.entry_id = v.entry_id AND v.recorded_at = l.as_of_day;

-- Every odd entry has a version up to the day (the one that made it odd), so it is in
-- work_versions: the day's other entries are read straight from ledger_entries by the view.
CREATE OR REPLACE TEMP VIEW work_ledger AS
SELECT *,
       CASE WHEN entry_id IN (SELECT entry_id FROM work_duplicate_entries) THEN 'duplicate' END AS state
FROM (  -- every column of the version, so that set_aside.sql reads the open ones in one scan
    SELECT * EXCLUDE (ref_key),
           stored_ref(ref_key, merchant_reference) AS merchant_key  -- norm_ref(merchant_reference)
    FROM ledger_entries e
    WHERE business_date = getvariable('recon_business_date')
      AND recorded_at <= getvariable('recon_watermark')
      AND source IN (SELECT source FROM work_rules)
      AND NOT EXISTS (SELECT 1 FROM work_versions o WHERE o.entry_id = e.entry_id)
    UNION ALL
    SELECT * EXCLUDE (ref_key), ref_key AS merchant_key FROM work_versions  -- stored_ref, as above
    WHERE source IN (SELECT source FROM work_rules)
      AND (business_date = getvariable('recon_business_date')
           OR entry_id IN (SELECT item_id FROM work_carried WHERE kind = 'ledger'))
);

-- work_ledger already shows every column of each version: set_aside.sql reads the open rows
-- from it in one scan (work_sets.sql's own fetches them back from ledger_entries).
CREATE OR REPLACE TEMP VIEW work_ledger_rows AS
SELECT * FROM work_ledger;
