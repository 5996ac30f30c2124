-- Grain: work_versions (the ledger versions the day's readers rank: the day's, the carried
-- entries', up to the watermark), the work_ledger view (each entry's latest version as of the
-- watermark, with its duplicate mark as state) and work_ledger_rows (those rows in every column),
-- the general way: every version ranked. work_versions_one_load.sql gives the same rows for a
-- day that one load wrote (matching._work_sets chooses). Design: docs/cascade.md.
-- Inputs: ledger_entries, work_carried, work_duplicate_entries, work_rules (work_sets.sql).
-- Parameters: $business_date, $watermark.

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
           currency, merchant_reference, psp_reference, hold,
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
WHERE source IN (SELECT source FROM work_rules) AND hold IS NULL  -- held: kept, never matched
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
