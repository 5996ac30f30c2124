-- Grain: mark_duplicates.sql's marks, the same rows, when the first pass's join has already run
-- over the whole day (matching.run_cascade: an exact merchant-reference pass that every source
-- uses, run as one join). That join keyed every item on mark_duplicates.sql's key and hashed it
-- the same way (work_cand.h), so the day's repeats are among the keys it holds more than once
-- (work_cand_repeated, a few thousand): only those, and the keys an earlier line or entry of the
-- week carries, are checked, not the whole day hashed and grouped again (at 10M lines a day
-- that took 4.3 s for the lines and 3.1 s for the entries). Then the join's rows are made what
-- it would have given with the duplicates closed before it: their rows go, and an item whose
-- every candidate was a duplicate is left with none.
-- A line without a merchant reference is keyed on its PSP reference (the first pass could not
-- key it): those are read from the day and checked whatever their key (few).
-- Inputs: work_cand, work_cand_repeated (first_pass.sql), statement_lines, files, ledger_entries,
-- work_stmt, work_stmt_more, work_ledger, work_versions, work_rules.
-- Parameters: $business_date, $watermark.
INSERT INTO work_duplicate_lines
SELECT line_id
FROM (
    WITH nokey AS MATERIALIZED (  -- few: read three times below
        SELECT line_id, hash(source, txn_type, norm_ref(psp_reference), amount_minor, currency) AS h
        FROM work_stmt
        WHERE of_day AND merchant_reference IS NULL AND norm_ref(psp_reference) IS NOT NULL
    ), week AS MATERIALIZED (  -- few: earlier days' lines that carry a key of the day's
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
        WHERE h IN (SELECT h FROM work_cand) OR h IN (SELECT h FROM nokey)
    ), day AS (  -- the day's own lines (not carried, not bank: work_stmt_more) of those keys
        SELECT line_id, h FROM work_cand
        WHERE line_id IS NOT NULL
          AND h IN (SELECT h FROM work_cand_repeated UNION ALL SELECT h FROM week
                    UNION ALL SELECT h FROM nokey)
          AND line_id NOT IN (SELECT line_id FROM work_stmt_more)
        UNION ALL
        SELECT line_id, h FROM nokey
    ), c AS (
        SELECT line_id, h FROM day
        UNION ALL
        SELECT line_id, h FROM week
    ), repeated AS (
        SELECT h FROM c GROUP BY h HAVING count(*) > 1
    ), candidates AS (
        SELECT line_id FROM c SEMI JOIN repeated r ON r.h = c.h
    ), whole AS (  -- as in mark_duplicates.sql
        SELECT line_id, source, txn_type,
               CASE WHEN merchant_reference IS NOT NULL THEN stored_ref(ref_key, merchant_reference)
                    ELSE norm_ref(psp_reference) END AS k,
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
    -- As in mark_duplicates.sql, with work_cand's entries (the day's, and the carried ones,
    -- which also come as others: counted twice, they are only fetched, not numbered twice) in
    -- place of the day's hashed again.
    WITH early AS (  -- entries with a version dated earlier in the week that carries a day's key
        SELECT DISTINCT entry_id FROM ledger_entries
        WHERE business_date BETWEEN $business_date - INTERVAL 7 DAY AND $business_date - INTERVAL 1 DAY
          AND recorded_at <= $watermark AND merchant_reference IS NOT NULL
          AND hash(source, txn_type, stored_ref(ref_key, merchant_reference), amount_minor, currency)
              IN (SELECT h FROM work_cand WHERE entry_id IS NOT NULL)
    ), hits AS (  -- those of early that are not in the working set, and those with a version
                  -- dated the day whose latest is not (moved out of the day) or carried
        SELECT entry_id FROM early
        WHERE entry_id NOT IN (SELECT entry_id FROM work_cand WHERE entry_id IN (SELECT entry_id FROM early))
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
        SELECT entry_id, h FROM work_cand
        WHERE entry_id IS NOT NULL
          AND h IN (SELECT h FROM work_cand_repeated UNION ALL SELECT h FROM others)
    ), c AS (
        SELECT entry_id, h FROM day
        UNION ALL
        SELECT entry_id, h FROM others
    ), repeated AS (
        SELECT h FROM c GROUP BY h HAVING count(*) > 1
    ), candidates AS (
        SELECT entry_id FROM c SEMI JOIN repeated r ON r.h = c.h
    ), whole AS (  -- as in mark_duplicates.sql
        SELECT entry_id, source, txn_type, merchant_key AS k, amount_minor, currency, business_date, booked_at,
               true AS mine
        FROM work_ledger
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

-- The join's rows of the keys that hold a duplicate (few): all the pairs of an item share its
-- key, so its hash.
CREATE OR REPLACE TEMP TABLE work_cand_dup AS
SELECT * FROM work_cand
WHERE h IN (SELECT h FROM work_cand
            WHERE entry_id IN (SELECT entry_id FROM work_duplicate_entries)
               OR line_id IN (SELECT line_id FROM work_duplicate_lines));

-- An item all of whose candidates were duplicates is left without one, as the join would have
-- left it: a one-sided row.
INSERT INTO work_cand
SELECT entry_id, NULL, NULL, NULL, 0, 0, any_value(h)
FROM work_cand_dup
WHERE line_id IS NOT NULL AND entry_id NOT IN (SELECT entry_id FROM work_duplicate_entries)
GROUP BY entry_id
HAVING bool_and(line_id IN (SELECT line_id FROM work_duplicate_lines))
UNION ALL
SELECT NULL, line_id, NULL, NULL, 0, 0, any_value(h)
FROM work_cand_dup
WHERE entry_id IS NOT NULL AND line_id NOT IN (SELECT line_id FROM work_duplicate_lines)
GROUP BY line_id
HAVING bool_and(entry_id IN (SELECT entry_id FROM work_duplicate_entries));

-- The duplicates' pairs go. (A duplicate's own one-sided row may stay: it is open all the same,
-- by its mark, and n_l = n_s = 0 makes it neither a link nor ambiguous.)
DELETE FROM work_cand
WHERE h IN (SELECT h FROM work_cand_dup)
  AND (entry_id IN (SELECT entry_id FROM work_duplicate_entries)
       OR line_id IN (SELECT line_id FROM work_duplicate_lines));

DROP TABLE work_cand_dup;
