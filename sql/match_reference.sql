-- Grain: work_cand, one row per candidate (ledger entry, statement line) pair of rule $rule on
-- the reference column {key} (an allow-listed identifier), with each side's number of candidates
-- (n_l, n_s): a pair is a link only when both are 1 (match_reference_links.sql), more is
-- ambiguous (match_reference_close.sql), never picked. Open items only, same source and type.
-- $mode: 'exact'      norm_ref keys equal, same currency and amount;
--        'normalized' norm_loose keys equal (case, spaces, punctuation, prefixes, leading zeros);
--        'fx'         the ledger's currency/amount against the line's original (presentment)
--                     currency/amount, within fx_tolerance_minor (the residue is recorded);
--        'tolerance'  same currency, amount within the absolute or relative tolerance, and the
--                     statement's business date within [-window_before, +window_after] days;
--        'any'        the reference alone: pairs what is left so its difference is reported.
-- Inputs: work_ledger, work_stmt, work_rules. Parameters: $rule, $mode. Bulk twin: first_pass.sql.
CREATE OR REPLACE TEMP TABLE work_cand AS
WITH l AS (
    SELECT l.*, r.rules, r.prefixes, r.fx_tolerance_minor, r.amount_tolerance_minor,
           r.amount_tolerance_bps, r.window_before_days, r.window_after_days,
           CASE WHEN $mode = 'normalized' THEN norm_loose(l.{key}, r.prefixes)
                WHEN '{key}' = 'merchant_reference' THEN l.merchant_key  -- norm_ref, precomputed
                ELSE norm_ref(l.{key}) END AS k
    FROM work_ledger l JOIN work_rules r ON r.source = l.source
    WHERE l.state IS NULL AND ($mode = 'any' OR list_contains(r.rules, $rule))
), s AS (
    SELECT s.*, CASE WHEN $mode = 'normalized' THEN norm_loose(s.{key}, r.prefixes)
                     WHEN '{key}' = 'merchant_reference' THEN s.merchant_key  -- norm_ref, precomputed
                     ELSE norm_ref(s.{key}) END AS k
    FROM work_stmt s JOIN work_rules r ON r.source = s.source
    WHERE s.state IS NULL
), cand AS (
    SELECT l.entry_id, s.line_id,
           CASE WHEN $mode = 'fx' THEN sign(s.amount_minor) * abs(s.orig_amount_minor) - l.amount_minor
                ELSE s.amount_minor - l.amount_minor END AS diff,
           date_diff('day', l.business_date, s.business_date) AS days
    FROM l JOIN s ON s.source = l.source AND s.k = l.k AND s.txn_type = l.txn_type
    WHERE CASE $mode
          WHEN 'exact' THEN s.currency = l.currency AND s.amount_minor = l.amount_minor
          WHEN 'normalized' THEN s.currency = l.currency AND s.amount_minor = l.amount_minor
          WHEN 'fx' THEN s.orig_currency = l.currency AND s.orig_currency <> s.currency
               AND abs(sign(s.amount_minor) * abs(s.orig_amount_minor) - l.amount_minor) <= l.fx_tolerance_minor
          WHEN 'tolerance' THEN s.currency = l.currency
               AND (abs(s.amount_minor - l.amount_minor) <= l.amount_tolerance_minor
                    OR abs(s.amount_minor - l.amount_minor) * 10000 <= abs(l.amount_minor) * l.amount_tolerance_bps)
               AND date_diff('day', l.business_date, s.business_date)
                   BETWEEN -l.window_before_days AND l.window_after_days
          ELSE true
          END
)
-- How many candidates each side has. Only the few ids with more than one are counted (a hash
-- count); a window over every pair would sort them all, and on the first pass that is every line.
, multi_l AS (
    SELECT entry_id, count(*) AS n FROM cand GROUP BY entry_id HAVING count(*) > 1
), multi_s AS (
    SELECT line_id, count(*) AS n FROM cand GROUP BY line_id HAVING count(*) > 1
)
SELECT c.entry_id, c.line_id, c.diff, c.days, coalesce(ml.n, 1) AS n_l, coalesce(ms.n, 1) AS n_s
FROM cand c LEFT JOIN multi_l ml ON ml.entry_id = c.entry_id LEFT JOIN multi_s ms ON ms.line_id = c.line_id;
