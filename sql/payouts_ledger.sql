-- Grain: work_ledger_payout, one row per open ledger payout (an entry typed payout on a PSP
-- channel, held out of the cascade as $clearing; the day's and those left open, each its latest
-- version as of the watermark) with the PSP payout it settles (rule ledger_payout): the one whose
-- id its reference carries, else the one payout of its source, currency and unsigned amount
-- whose window [PSP business date, expected + payout_window_days] holds the entry's date and that
-- no other entry claims. Payouts: the run's and the earlier unclaimed ones (open_items
-- 'payout_unbooked', 31 days; work_payouts_unbooked is handed on). Several: ambiguous. None: in
-- transit until its due day, then missing_in_statement (breaks_payouts_ledger.sql).
-- Inputs: ledger_entries, work_payouts, payouts, runs, work_carried, work_rules, work_banks.
-- Parameters: $business_date, $watermark, $clearing.
CREATE OR REPLACE TEMP TABLE work_ledger_payout AS
WITH ids AS (
    SELECT entry_id FROM ledger_entries
    WHERE business_date = $business_date AND recorded_at <= $watermark
      AND txn_type = 'payout' AND hold = $clearing
    UNION ALL  -- an id twice is the same filter
    SELECT item_id FROM work_carried WHERE kind = 'ledger_payout'
), latest AS (
    SELECT * FROM ledger_entries
    WHERE recorded_at <= $watermark AND business_date <= $business_date
      AND entry_id IN (SELECT entry_id FROM ids)
    QUALIFY row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) = 1
), entries AS (
    SELECT e.entry_id, e.source, e.currency, e.amount_minor, e.business_date, e.booked_at,
           norm_ref(e.psp_reference) AS psp_ref, norm_ref(e.merchant_reference) AS merchant_ref,
           e.business_date + coalesce(r.payout_lag_days + r.payout_window_days, 0) AS due,
           r.payout_window_days AS window_days
    FROM latest e JOIN work_rules r ON r.source = e.source AND r.kind = 'psp'
    WHERE e.txn_type = 'payout' AND e.hold = $clearing AND e.source IN (SELECT psp FROM work_banks)
), pays AS (
    SELECT source, payout_id, currency, coalesce(declared, settled) AS amount, first_seen, expected,
           $business_date::DATE AS seen
    FROM work_payouts
    UNION ALL
    SELECT p.source, p.payout_id, p.currency, coalesce(p.declared_minor, p.settled_minor), p.first_seen,
           p.first_seen + coalesce(w.payout_lag_days, 0), r.business_date
    FROM payouts p JOIN runs r ON r.run_id = p.run_id JOIN work_rules w ON w.source = p.source
    WHERE p.source || '|' || p.payout_id IN (SELECT item_id FROM work_carried WHERE kind = 'payout_unbooked')
      AND r.business_date < $business_date AND r.business_date >= $business_date - 31
), open_pays AS (
    SELECT DISTINCT ON (source, payout_id) * FROM pays ORDER BY source, payout_id, seen DESC
), by_ref AS (
    SELECT e.entry_id, p.payout_id, p.amount
    FROM entries e JOIN open_pays p ON p.source = e.source
     AND norm_ref(p.payout_id) IN (e.psp_ref, e.merchant_ref)
), by_amount AS (
    SELECT e.entry_id, p.payout_id, p.amount
    FROM entries e JOIN open_pays p ON p.source = e.source AND p.currency = e.currency
     AND p.amount = abs(e.amount_minor)
     AND e.business_date BETWEEN p.first_seen AND p.expected + e.window_days
    WHERE e.entry_id NOT IN (SELECT entry_id FROM by_ref)
      AND p.payout_id NOT IN (SELECT payout_id FROM by_ref)
), counted AS (
    SELECT *, count(*) OVER (PARTITION BY entry_id) AS per_entry,
           count(*) OVER (PARTITION BY payout_id) AS per_payout
    FROM by_amount
), found AS (
    SELECT entry_id, any_value(payout_id) AS payout_id, any_value(amount) AS amount, 'reference' AS way,
           1 AS candidates
    FROM by_ref GROUP BY entry_id HAVING count(*) = 1
    UNION ALL
    SELECT entry_id, CASE WHEN max(per_entry) = 1 AND max(per_payout) = 1 THEN any_value(payout_id) END,
           CASE WHEN max(per_entry) = 1 AND max(per_payout) = 1 THEN any_value(amount) END, 'amount',
           max(greatest(per_entry, per_payout))
    FROM counted GROUP BY entry_id
)
SELECT e.*, f.payout_id, f.amount AS payout_amount, f.way, coalesce(f.candidates, 0) AS candidates,
       CASE WHEN f.payout_id IS NOT NULL THEN f.amount - abs(e.amount_minor) END AS difference_minor,
       CASE WHEN f.payout_id IS NOT NULL AND f.amount = abs(e.amount_minor) THEN 'matched'
            WHEN f.payout_id IS NOT NULL THEN 'amount_mismatch'
            WHEN f.candidates > 1 THEN 'ambiguous'
            WHEN $business_date < e.due THEN 'in_transit'
            ELSE 'missing_in_statement' END AS status
FROM entries e LEFT JOIN found f ON f.entry_id = e.entry_id;

-- The PSP payouts no ledger entry has claimed, handed on for 31 days after their business date.
CREATE OR REPLACE TEMP TABLE work_payouts_unbooked AS
SELECT DISTINCT source, payout_id FROM (
    SELECT source, payout_id, first_seen FROM work_payouts
    UNION ALL
    SELECT p.source, p.payout_id, p.first_seen FROM payouts p JOIN runs r ON r.run_id = p.run_id
    WHERE p.source || '|' || p.payout_id IN (SELECT item_id FROM work_carried WHERE kind = 'payout_unbooked')
      AND r.business_date < $business_date AND r.business_date >= $business_date - 31)
WHERE first_seen >= $business_date - 31
  AND payout_id NOT IN (SELECT payout_id FROM work_ledger_payout WHERE payout_id IS NOT NULL);
