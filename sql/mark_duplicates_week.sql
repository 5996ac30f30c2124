-- Grain: what mark_duplicates.sql counts beside the day's items of repeated keys, as tables of
-- (id, hash of the key): on the whole-day route ($all true) the day's items themselves; the
-- day's lines that the first pass could not key; the week's lines and entries that carry one of
-- the day's keys (few). Tables, not part of mark_duplicates.sql, so that first_pass_fetch.sql can
-- fetch the day's items of all those keys in its one scan of the day; mark_duplicates.sql drops
-- them. Inputs: the route's views (mark_duplicates_day.sql or mark_duplicates_first_pass.sql),
-- statement_lines, files, ledger_entries, work_versions, work_rules.
-- Parameters: $business_date, $watermark, $all.

-- $all: the whole day's items, hashed once (the week's probes and the count read them); else none.
CREATE OR REPLACE TEMP TABLE work_dup_day_lines AS
SELECT line_id, h FROM work_dup_lines_day WHERE $all;

CREATE OR REPLACE TEMP TABLE work_dup_day_entries AS
SELECT entry_id, h FROM work_dup_entries_day WHERE $all;

-- The day's lines the first pass could not key, keyed on their PSP reference (few, or none).
CREATE OR REPLACE TEMP TABLE work_dup_extra AS
SELECT line_id, h FROM work_dup_lines_extra;

-- Earlier days' lines, not from a delivery that a correction has since replaced, that carry one
-- of the day's keys (only a key held by a day's line can mark anything: the week's lines are
-- hashed and probed, not counted).
CREATE OR REPLACE TEMP TABLE work_dup_week_lines AS
SELECT * FROM (
    SELECT line_id, source, txn_type,
           stored_ref(ref_key, coalesce(merchant_reference, psp_reference)) AS k,
           amount_minor, currency, business_date, file_sha256, file_line,
           hash(source, txn_type, k, amount_minor, currency) AS h
    FROM statement_lines
    WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date
      AND business_date <> $business_date
      AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
      AND txn_type IN ('payment', 'refund', 'chargeback')
      AND coalesce(merchant_reference, psp_reference) IS NOT NULL
      AND file_sha256 NOT IN (SELECT sha256 FROM files WHERE superseded_by IS NOT NULL))
WHERE h IN (SELECT h FROM work_dup_day_lines) OR h IN (SELECT h FROM work_dup_lines_probe)
   OR h IN (SELECT h FROM work_dup_extra);

-- The week's entries to rank beside the day's: each entry's latest version dated within the
-- week, for the entries that can share a key with one of the day's. Only a key held by a day's
-- entry can mark anything, and every entry of it has a version in the week with that key (its
-- latest one). A day's entry (its latest version as of the day is dated the day: work_ledger's
-- rows dated the day) has that version as its latest in the week too; the week's other versions
-- are hashed and probed against the day's keys, and only the few other entries that hit are
-- ranked (not every entry of the week). (The first pass's route counts the carried entries among
-- the day's too: they also come here, so they are fetched, not numbered, twice.)
CREATE OR REPLACE TEMP TABLE work_dup_week_entries AS
WITH early AS (  -- entries with a version dated earlier in the week that carries a day's key
    SELECT DISTINCT entry_id FROM ledger_entries
    WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date - INTERVAL 1 DAY
      AND recorded_at <= $watermark AND merchant_reference IS NOT NULL
      AND (hash(source, txn_type, stored_ref(ref_key, merchant_reference), amount_minor, currency)
               IN (SELECT h FROM work_dup_day_entries)
           OR hash(source, txn_type, stored_ref(ref_key, merchant_reference), amount_minor, currency)
               IN (SELECT h FROM work_dup_entries_probe))
), hits AS (  -- the entries to rank: those of early that are not the day's (few: probed against
              -- early, not the other way round), and those with a version dated the day whose
              -- latest is not (moved out of the day) or carried (work_versions)
    SELECT entry_id FROM early
    WHERE entry_id NOT IN (
        SELECT entry_id FROM (SELECT entry_id FROM work_dup_day_entries
                              UNION ALL
                              SELECT entry_id FROM work_dup_entries_day WHERE NOT $all)
        WHERE entry_id IN (SELECT entry_id FROM early))
    UNION ALL
    SELECT entry_id FROM work_versions WHERE business_date <> $business_date
)
SELECT entry_id, source, txn_type, norm_ref(merchant_reference) AS k, amount_minor, currency,
       business_date, booked_at, hash(source, txn_type, k, amount_minor, currency) AS h
FROM (
    SELECT * FROM ledger_entries
    WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date
      AND recorded_at <= $watermark AND entry_id IN (SELECT entry_id FROM hits)
    QUALIFY row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) = 1)
WHERE k IS NOT NULL AND source IN (SELECT source FROM work_rules) AND hold IS NULL;
