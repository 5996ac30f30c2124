-- Grain: marks as 'duplicate' every new statement line that repeats an earlier line of the same
-- source (same reference, type, amount and currency) delivered in the last 7 business days or
-- earlier in the run's own files of the day; the first occurrence stays open and is matched
-- normally.
-- Ledger entries that repeat a reference the same way are marked too. A reference that is blank
-- once normalised (norm_ref: NULL) is no key: such items repeat nothing.
-- A mark is a row of work_duplicate_lines or work_duplicate_entries (a few thousand ids), which
-- the work_stmt and work_ledger views (work_sets.sql) show as state 'duplicate'; d.mine says a
-- row is one of the day's items in the working set (the others are earlier days' lines and
-- entries, which only count).
-- The day's items come from one of two routes (matching.run_cascade), as views of (id, h), h the
-- hash of the key:
-- - mark_duplicates_day.sql ($all true): the whole day, hashed here (before any rule);
-- - mark_duplicates_first_pass.sql ($all false): when the first pass is one join of the exact
--   merchant key that every source uses, that join has keyed every item the same way
--   (work_cand.h), so only the items of the keys it holds more than once (work_dup_keys), of the
--   keys the week's items carry, and of the lines it could not key (work_dup_lines_extra) are
--   counted; the day is not hashed and grouped again (at 10M a day: 4.3 s for the lines and
--   3.1 s for the entries). first_pass_duplicates.sql then closes the marked items in its join.
-- Inputs: work_dup_lines_day, work_dup_lines_probe, work_dup_lines_extra, work_dup_entries_day,
-- work_dup_entries_probe, work_dup_keys (the route's views, dropped here); statement_lines,
-- files, ledger_entries, work_ledger, work_versions (read for its versions dated another day),
-- work_rules. Parameters: $business_date, $watermark, $all.
INSERT INTO work_duplicate_lines
SELECT line_id
FROM (
    -- Counted on a hash of the key alone, a line id beside it (10M lines in ~350 MB, where the
    -- lines with all their key columns took 1.2 GB twice over and spilled 4.9 GB at 10M); only the
    -- lines whose hash is repeated are fetched back whole and numbered by the key itself, so a
    -- hash collision only numbers a few more lines, each first in its own partition.
    WITH extra AS MATERIALIZED (  -- few, or none: read three times below
        SELECT line_id, h FROM work_dup_lines_extra
    ), day_all AS MATERIALIZED (  -- $all: the whole day's, read twice below; else none
        SELECT line_id, h FROM work_dup_lines_day WHERE $all
    ), week AS MATERIALIZED (  -- few: read twice below
        -- earlier days' lines, not from a delivery that a correction has since replaced, that
        -- carry one of the day's keys (only a partition holding a day's line can mark anything:
        -- the week's lines are hashed and probed, not counted)
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
        WHERE h IN (SELECT h FROM day_all) OR h IN (SELECT h FROM work_dup_lines_probe)
           OR h IN (SELECT h FROM extra)
    ), day AS (
        SELECT line_id, h FROM day_all
        UNION ALL
        SELECT line_id, h FROM work_dup_lines_day
        WHERE NOT $all AND h IN (SELECT h FROM work_dup_keys UNION ALL SELECT h FROM week
                                 UNION ALL SELECT h FROM extra)
        UNION ALL
        SELECT line_id, h FROM extra
    ), c AS (
        SELECT line_id, h FROM day
        UNION ALL
        SELECT line_id, h FROM week
    ), repeated AS (
        SELECT h FROM c GROUP BY h HAVING count(*) > 1
    ), candidates AS (
        SELECT line_id FROM c SEMI JOIN repeated r ON r.h = c.h
    ), whole AS (
        -- the day's candidates, by id (they passed day's filters above; the week's are dated
        -- other days), read once from the warehouse (work_stmt's day is a view of it)
        SELECT line_id, source, txn_type,
               CASE WHEN merchant_reference IS NOT NULL THEN stored_ref(ref_key, merchant_reference)
                    ELSE norm_ref(psp_reference) END AS k,  -- work_stmt's merchant_key, or ...
               amount_minor, currency, business_date, file_sha256, file_line, true AS mine
        FROM statement_lines
        WHERE business_date = $business_date AND line_id IN (SELECT line_id FROM candidates)
        UNION ALL
        SELECT * EXCLUDE (h), false FROM week WHERE line_id IN (SELECT line_id FROM candidates)
    )
    SELECT line_id, mine, row_number() OVER (
        PARTITION BY source, txn_type, k, amount_minor, currency
        ORDER BY business_date, file_sha256, file_line) AS n
    FROM whole
) d
WHERE d.n > 1 AND d.mine;

INSERT INTO work_duplicate_entries
SELECT entry_id
FROM (
    -- Each entry's latest version dated within the week, for the entries that can share a key
    -- with one of the day's: only a partition holding a day's entry can mark anything, and every
    -- entry in it has a version in the week with that key (its latest one). A day's entry (its
    -- latest version as of the day is dated the day: work_ledger's rows dated the day) has that
    -- version as its latest in the week too; the week's other versions are hashed and probed
    -- against the day's keys, and only the few other entries that hit are ranked (not every
    -- entry of the week).
    -- Counted on a hash of the key, an id beside it, as for the lines above; only the entries
    -- whose hash is repeated are fetched back whole and numbered by the key itself.
    -- (The first pass's route counts the carried entries among the day's too: they also come
    -- as others, so they are fetched, not numbered, twice.)
    WITH day_all AS MATERIALIZED (  -- $all: the whole day's, read three times below; else none
        SELECT entry_id, h FROM work_dup_entries_day WHERE $all
    ), early AS (  -- entries with a version dated earlier in the week that carries a day's key
        SELECT DISTINCT entry_id FROM ledger_entries
        WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date - INTERVAL 1 DAY
          AND recorded_at <= $watermark AND merchant_reference IS NOT NULL
          AND (hash(source, txn_type, stored_ref(ref_key, merchant_reference), amount_minor, currency)
                   IN (SELECT h FROM day_all)
               OR hash(source, txn_type, stored_ref(ref_key, merchant_reference), amount_minor, currency)
                   IN (SELECT h FROM work_dup_entries_probe))
    ), hits AS (  -- the entries to rank: those of early that are not the day's (few: probed
                  -- against early, not the other way round), and those with a version dated the
                  -- day whose latest is not (moved out of the day) or carried (work_versions)
        SELECT entry_id FROM early
        WHERE entry_id NOT IN (
            SELECT entry_id FROM (SELECT entry_id FROM day_all
                                  UNION ALL
                                  SELECT entry_id FROM work_dup_entries_day WHERE NOT $all)
            WHERE entry_id IN (SELECT entry_id FROM early))
        UNION ALL
        SELECT entry_id FROM work_versions WHERE business_date <> $business_date
    ), others AS MATERIALIZED (  -- few: each hit's latest version in the week, whole
        SELECT entry_id, source, txn_type, norm_ref(merchant_reference) AS k, amount_minor, currency,
               business_date, booked_at, hash(source, txn_type, k, amount_minor, currency) AS h
        FROM (
            SELECT * FROM ledger_entries
            WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date
              AND recorded_at <= $watermark AND entry_id IN (SELECT entry_id FROM hits)
            QUALIFY row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) = 1)
        WHERE k IS NOT NULL AND source IN (SELECT source FROM work_rules)
    ), day AS (
        SELECT entry_id, h FROM day_all
        UNION ALL
        SELECT entry_id, h FROM work_dup_entries_day
        WHERE NOT $all AND h IN (SELECT h FROM work_dup_keys UNION ALL SELECT h FROM others)
    ), c AS (
        SELECT entry_id, h FROM day
        UNION ALL
        SELECT entry_id, h FROM others
    ), repeated AS (
        SELECT h FROM c GROUP BY h HAVING count(*) > 1
    ), candidates AS (
        SELECT entry_id FROM c SEMI JOIN repeated r ON r.h = c.h
    ), whole AS (
        SELECT entry_id, source, txn_type, merchant_key AS k, amount_minor, currency, business_date, booked_at,
               true AS mine
        FROM work_ledger  -- the day's candidates, by id
        WHERE business_date = $business_date AND entry_id IN (SELECT entry_id FROM candidates)
        UNION ALL
        SELECT * EXCLUDE (h), false FROM others WHERE entry_id IN (SELECT entry_id FROM candidates)
    )
    SELECT entry_id, mine, row_number() OVER (
        PARTITION BY source, txn_type, k, amount_minor, currency
        ORDER BY business_date, booked_at, entry_id) AS n
    FROM whole
) d
WHERE d.n > 1 AND d.mine;

DROP VIEW work_dup_lines_day;

DROP VIEW work_dup_lines_probe;

DROP VIEW work_dup_lines_extra;

DROP VIEW work_dup_entries_day;

DROP VIEW work_dup_entries_probe;

DROP VIEW work_dup_keys;
