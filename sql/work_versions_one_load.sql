-- Grain: work_versions (work_sets.sql) when every version dated the business day was written by
-- one load of one ledger file (matching.run_cascade checks: one file_sha256 and one recorded_at,
-- $day_loaded_at, among the day's versions up to the watermark). The same rows as the general
-- statement, without ranking the day's versions:
-- - an export never holds an entry twice (schemas/ledger.py quarantines every repeat), so the
--   day has one version per entry, and it is the latest as of the day unless a version of the
--   same entry dated before the day was recorded after it (a correction that moved the entry to
--   an earlier day: recorded after $day_loaded_at, so the scan reads only the row groups of later
--   loads, whose zone maps mostly rule them out by date);
-- - those entries, and the carried ones, are ranked as in the general statement (few).
-- Inputs: ledger_entries, work_carried. Parameters: $business_date, $watermark, $day_loaded_at.
CREATE OR REPLACE TEMP TABLE work_versions AS
WITH moved AS (  -- few: versions dated before the day, recorded after the day's load
    SELECT DISTINCT entry_id FROM ledger_entries
    WHERE business_date < $business_date AND recorded_at > $day_loaded_at AND recorded_at <= $watermark
), odd AS (  -- ranked below: moved entries of the day, and the carried ones
    SELECT entry_id FROM ledger_entries
    WHERE business_date = $business_date AND recorded_at <= $watermark
      AND entry_id IN (SELECT entry_id FROM moved)
    UNION
    SELECT item_id FROM work_carried WHERE kind = 'ledger'
), v AS (
    SELECT entry_id, recorded_at, source, business_date, booked_at, txn_type, amount_minor,
           currency, merchant_reference, psp_reference,
           stored_ref(ref_key, merchant_reference) AS ref_key
    FROM ledger_entries
    WHERE recorded_at <= $watermark AND business_date <= $business_date
      AND entry_id IN (SELECT entry_id FROM odd)
), latest AS (
    SELECT entry_id, max(recorded_at) AS as_of_day FROM v GROUP BY entry_id
)
SELECT entry_id, recorded_at, source, business_date, booked_at, txn_type, amount_minor,
       currency, merchant_reference, psp_reference,
       stored_ref(ref_key, merchant_reference) AS ref_key
FROM ledger_entries e
WHERE business_date = $business_date AND recorded_at <= $watermark
  AND NOT EXISTS (SELECT 1 FROM odd o WHERE o.entry_id = e.entry_id)
UNION ALL
SELECT v.* FROM v JOIN latest l ON l.entry_id = v.entry_id AND v.recorded_at = l.as_of_day;
