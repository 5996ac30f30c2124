-- Grain: one row per (ledger entry, statement line) pair linked by rule 'fuzzy': same source,
-- type and currency, amount within the absolute tolerance, business dates within the directional
-- window, and counterparty (or description) Jaro-Winkler similarity at or above the source's
-- threshold. Lines that carry a merchant reference are left alone unless the source allows it.
-- Only one-to-one candidates are linked; groups with more go to work_ambiguous.
-- Inputs: work_ledger, work_stmt, work_rules. Parameters: $run_id.
CREATE OR REPLACE TEMP TABLE work_cand AS
WITH cand AS (
    SELECT l.entry_id, s.line_id, s.amount_minor - l.amount_minor AS diff,
           date_diff('day', l.business_date, s.business_date) AS days,
           greatest(coalesce(jaro_winkler_similarity(lower(l.counterparty), lower(s.counterparty)), 0),
                    coalesce(jaro_winkler_similarity(lower(l.description), lower(s.description)), 0))
               AS similarity,
           r.fuzzy_threshold AS threshold
    FROM work_ledger l
    JOIN work_rules r ON r.source = l.source AND list_contains(r.rules, 'fuzzy')
    JOIN work_stmt s
      ON s.source = l.source AND s.txn_type = l.txn_type AND s.currency = l.currency
     AND abs(s.amount_minor - l.amount_minor) <= r.amount_tolerance_minor
    WHERE l.state IS NULL AND s.state IS NULL
      AND (s.merchant_reference IS NULL OR NOT r.fuzzy_requires_missing_reference)
      AND date_diff('day', l.business_date, s.business_date) BETWEEN -r.window_before_days AND r.window_after_days
)
SELECT *, count(*) OVER (PARTITION BY entry_id) AS n_l, count(*) OVER (PARTITION BY line_id) AS n_s
FROM cand
WHERE similarity >= threshold;

INSERT INTO matches
SELECT $run_id, 'ledger_statement', 'fuzzy', entry_id, line_id, NULL, diff,
       json_object('similarity', round(similarity, 3)::VARCHAR, 'difference_minor', diff,
                   'days_apart', days, 'candidates', 1)::VARCHAR
FROM work_cand WHERE n_l = 1 AND n_s = 1;

INSERT INTO work_ambiguous
SELECT 'fuzzy', entry_id, line_id FROM work_cand WHERE n_l > 1 OR n_s > 1;

-- The pairs just linked, for mark_matched.
CREATE OR REPLACE TEMP VIEW work_links AS
SELECT entry_id, line_id FROM work_cand WHERE n_l = 1 AND n_s = 1;
