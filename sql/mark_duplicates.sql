-- Grain: marks as 'duplicate' every new statement line (and ledger entry) that repeats an earlier
-- one of the same source (same normalised reference, type, amount, currency) from the last 7
-- business days or earlier in the day's own files; the first occurrence stays open. A mark is a
-- row of work_duplicate_lines / work_duplicate_entries, which the working-set views show as state.
-- The day's items come from mark_duplicates_day.sql ($all true) or, on the bulk route, from the
-- first pass's join (mark_duplicates_first_pass.sql, $all false). Design: docs/cascade.md.
-- A split settlement's (分账) allocations are never marked: one request shares its reference
-- (商户分账单号) among its receivers, equal amounts included; allocation_receiver pairs them per
-- receiver, and an allocation booked twice is an ambiguous break there.
-- Inputs: work_dup_* (the route's views and mark_duplicates_week.sql's tables, dropped here),
-- work_stmt_fetched, work_ledger_fetched, statement_lines, work_ledger.
-- Parameters: $business_date, $all.
INSERT INTO work_duplicate_lines
SELECT line_id
FROM (
    -- Counted on a hash of the key alone, a line id beside it (a fraction of the memory of the
    -- lines with all their key columns, which spill on a large day); only the
    -- lines whose hash is repeated are fetched back whole and numbered by the key itself, so a
    -- hash collision only numbers a few more lines, each first in its own partition.
    WITH extra AS (SELECT line_id, h FROM work_dup_extra),
    day_all AS (SELECT line_id, h FROM work_dup_day_lines),
    week AS (SELECT * FROM work_dup_week_lines
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
        -- other days): fetched ahead, or else read from the warehouse (work_stmt's day is a view
        -- of it)
        SELECT line_id, source, txn_type,
               CASE WHEN merchant_reference IS NOT NULL THEN merchant_key  -- stored_ref(ref_key, ...)
                    ELSE norm_ref(psp_reference) END AS k,
               amount_minor, currency, business_date, file_sha256, file_line, true AS mine
        FROM work_stmt_fetched
        WHERE of_day AND line_id IN (SELECT line_id FROM candidates)
        UNION ALL
        SELECT line_id, source, txn_type,
               CASE WHEN merchant_reference IS NOT NULL THEN stored_ref(ref_key, merchant_reference)
                    ELSE norm_ref(psp_reference) END AS k,  -- work_stmt's merchant_key, or ...
               amount_minor, currency, business_date, file_sha256, file_line, true AS mine
        FROM statement_lines
        WHERE business_date = $business_date
          AND line_id IN (SELECT line_id FROM candidates ANTI JOIN work_stmt_fetched USING (line_id))
        UNION ALL
        SELECT * EXCLUDE (h), false FROM week WHERE line_id IN (SELECT line_id FROM candidates)
    )
    SELECT line_id, mine, txn_type, row_number() OVER (
        PARTITION BY source, txn_type, k, amount_minor, currency
        ORDER BY business_date, file_sha256, file_line) AS n
    FROM whole
) d
WHERE d.n > 1 AND d.mine AND d.txn_type NOT IN ('allocation', 'allocation_return', 'unfreeze');

INSERT INTO work_duplicate_entries
SELECT entry_id
FROM (
    -- Counted on a hash of the key, an id beside it, as for the lines above; only the entries
    -- whose hash is repeated are fetched back whole and numbered by the key itself.
    WITH day_all AS (SELECT entry_id, h FROM work_dup_day_entries),
    others AS (SELECT * FROM work_dup_week_entries
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
        FROM work_ledger_fetched  -- the day's candidates, by id: fetched ahead, or else
        WHERE business_date = $business_date AND entry_id IN (SELECT entry_id FROM candidates)
        UNION ALL
        SELECT entry_id, source, txn_type, merchant_key AS k, amount_minor, currency, business_date, booked_at,
               true AS mine
        FROM work_ledger  -- read from the day
        WHERE business_date = $business_date
          AND entry_id IN (SELECT entry_id FROM candidates ANTI JOIN work_ledger_fetched USING (entry_id))
        UNION ALL
        SELECT * EXCLUDE (h), false FROM others WHERE entry_id IN (SELECT entry_id FROM candidates)
    )
    SELECT entry_id, mine, txn_type, row_number() OVER (
        PARTITION BY source, txn_type, k, amount_minor, currency
        ORDER BY business_date, booked_at, entry_id) AS n
    FROM whole
) d
WHERE d.n > 1 AND d.mine AND d.txn_type NOT IN ('allocation', 'allocation_return', 'unfreeze');

DROP VIEW work_dup_lines_day;

DROP VIEW work_dup_lines_probe;

DROP VIEW work_dup_lines_extra;

DROP VIEW work_dup_entries_day;

DROP VIEW work_dup_entries_probe;

DROP VIEW work_dup_keys;

DROP TABLE work_dup_day_lines;

DROP TABLE work_dup_day_entries;

DROP TABLE work_dup_extra;

DROP TABLE work_dup_week_lines;

DROP TABLE work_dup_week_entries;
