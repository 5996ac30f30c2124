-- Grain: work_versions, work_ledger and work_ledger_rows (as in work_sets.sql) for the usual day
-- whose versions were all written by one load of one ledger file ($day_loaded_at): the day's
-- versions are taken as they are, without ranking or copying them; only corrected ("odd") and
-- carried entries are ranked, in work_versions. Same rows as the general statements.
-- Design: docs/cascade.md.
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
      AND source IN (SELECT source FROM work_rules) AND hold IS NULL  -- held: never matched
      AND NOT EXISTS (SELECT 1 FROM work_versions o WHERE o.entry_id = e.entry_id)
    UNION ALL
    SELECT * EXCLUDE (ref_key), ref_key AS merchant_key FROM work_versions  -- stored_ref, as above
    WHERE source IN (SELECT source FROM work_rules) AND hold IS NULL
      AND (business_date = getvariable('recon_business_date')
           OR entry_id IN (SELECT item_id FROM work_carried WHERE kind = 'ledger'))
);

-- work_ledger already shows every column of each version: set_aside.sql reads the open rows
-- from it in one scan (work_sets.sql's own fetches them back from ledger_entries).
CREATE OR REPLACE TEMP VIEW work_ledger_rows AS
SELECT * FROM work_ledger;
