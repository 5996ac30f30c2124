-- Grain: the bulk route's first pass, which links the bulk of the day when its rule compares keys
-- for equality ($mode 'exact' or 'normalized'): match_reference.sql's candidate pairs with the
-- same n_l and n_s, from one FULL OUTER JOIN of the open items. The join's one-sided rows are the
-- items left open (work_open_ledger, work_open_lines); only keys held more than once
-- (work_cand_repeated) are counted exactly. On the bulk route the duplicates are marked between the
-- grouping and the counts (matching.run_cascade). Design: docs/cascade.md.
-- Inputs: work_ledger, work_stmt, work_rules, work_duplicate_lines. Parameters: $rule, $mode.
-- Identifier: {key}.
CREATE OR REPLACE TEMP TABLE work_cand AS
WITH l0 AS (
    SELECT l.entry_id, l.source, l.txn_type, l.currency, l.amount_minor, l.business_date,
           CASE WHEN $mode = 'normalized' THEN norm_loose(l.{key}, r.prefixes)
                WHEN '{key}' = 'merchant_reference' THEN l.merchant_key  -- norm_ref, precomputed
                ELSE norm_ref(l.{key}) END AS k
    FROM work_ledger l JOIN work_rules r ON r.source = l.source
    WHERE l.state IS NULL AND list_contains(r.rules, $rule)
), s0 AS (
    SELECT s.line_id, s.source, s.txn_type, s.currency, s.amount_minor, s.business_date,
           CASE WHEN $mode = 'normalized' THEN norm_loose(s.{key}, r.prefixes)
                WHEN '{key}' = 'merchant_reference' THEN s.merchant_key  -- norm_ref, precomputed
                ELSE norm_ref(s.{key}) END AS k
    FROM work_stmt s JOIN work_rules r ON r.source = s.source
    WHERE s.state IS NULL
-- Each side's h before the join (no key: no pair, no h): a pair's two sides agree on every
-- hashed column, so its h is either side's, and the join carries neither side's key columns out.
), l AS (
    SELECT *, CASE WHEN k IS NOT NULL THEN hash(source, txn_type, k, amount_minor, currency) END AS h FROM l0
), s AS (
    SELECT *, CASE WHEN k IS NOT NULL THEN hash(source, txn_type, k, amount_minor, currency) END AS h FROM s0
)
SELECT l.entry_id, s.line_id, s.amount_minor - l.amount_minor AS diff,
       date_diff('day', l.business_date, s.business_date) AS days,
       CASE WHEN l.entry_id IS NULL OR s.line_id IS NULL THEN 0 ELSE 1 END::BIGINT AS n_l,
       CASE WHEN l.entry_id IS NULL OR s.line_id IS NULL THEN 0 ELSE 1 END::BIGINT AS n_s,
       coalesce(l.h, s.h) AS h
FROM l FULL OUTER JOIN s ON s.source = l.source AND s.k = l.k AND s.txn_type = l.txn_type
                        AND s.currency = l.currency AND s.amount_minor = l.amount_minor;

-- The keys held by more than one row: more than one pair, or more than one item on one side
-- without a counterpart. Only these can give an item more than one candidate, and (exact mode,
-- where h is mark_duplicates.sql's hash of the key) only these can hold two of the day's items
-- that repeat one another (mark_duplicates_first_pass.sql).
-- Found in sorted order, each hash against the one before it: cheaper than a hash aggregate with
-- one group per row, which nearly every hash is.
CREATE OR REPLACE TEMP TABLE work_cand_repeated AS
SELECT DISTINCT h
FROM (SELECT h, lag(h) OVER (ORDER BY h) AS before FROM work_cand WHERE h IS NOT NULL)
WHERE h = before;
