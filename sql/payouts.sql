-- Grain: one row per PSP payout to clear in this run: the day's payouts (by payout id: the items
-- they settle, their net, the amount the PSP declared where the format has a payout row) plus
-- those the previous run left open (unsettled, in transit, ambiguous); each with the bank credits
-- whose reference carries the payout id (work_payout_refs, rule payout_reference; several credits
-- are summed: a split payout), only in the bank sources that receive that PSP's payouts.
-- expected = PSP business date + payout_lag_days; due (a missing credit is a break) = expected +
-- payout_window_days when the PSP declares its lag, else the next day (docs/rules.md).
-- payouts_amount.sql then links what no reference found; payouts_close.sql sets the status.
-- Inputs: statement_lines, payouts, work_bank, work_payout_refs, work_rules, work_inputs.
-- Parameters: $business_date, $prev_run.
CREATE OR REPLACE TEMP TABLE work_payouts AS
WITH items AS (
    -- A PSP declaring payout_lag_days pays each business day's net: its lines without a payout
    -- id (WeChat bills carry none) are that day's payout per currency, keyed '<source> <date>
    -- <currency>' (recon's key, no PSP's id: only payout_amount can find its credit).
    SELECT source, coalesce(payout_id, source || ' ' || $business_date::DATE || ' ' || currency) AS payout_id,
           any_value(currency) AS currency, count(*) AS items, sum(net_minor) AS settled
    FROM statement_lines
    WHERE business_date = $business_date AND file_sha256 IN (SELECT sha256 FROM work_inputs) AND txn_type <> 'payout'
      AND (payout_id IS NOT NULL OR source IN (SELECT source FROM work_rules WHERE payout_lag_days IS NOT NULL))
      AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
    GROUP BY ALL
), declared AS (
    SELECT source, payout_id, any_value(currency) AS currency, -sum(amount_minor) AS declared
    FROM statement_lines
    WHERE business_date = $business_date AND file_sha256 IN (SELECT sha256 FROM work_inputs) AND txn_type = 'payout' AND payout_id IS NOT NULL
      AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
    GROUP BY source, payout_id
), today AS (
    SELECT coalesce(i.source, d.source) AS source, coalesce(i.payout_id, d.payout_id) AS payout_id,
           coalesce(i.currency, d.currency) AS currency, coalesce(i.items, 0) AS items,
           coalesce(i.settled, 0) AS settled, d.declared, $business_date AS first_seen
    FROM items i FULL JOIN declared d ON d.source = i.source AND d.payout_id = i.payout_id
), carried AS (
    SELECT source, payout_id, currency, items, settled_minor AS settled, declared_minor AS declared,
           first_seen
    FROM payouts p
    WHERE run_id = $prev_run AND status IN ('unsettled', 'in_transit', 'ambiguous')
      AND NOT EXISTS (SELECT 1 FROM today t WHERE t.source = p.source AND t.payout_id = p.payout_id)
), credits AS (
    SELECT r.psp, r.ref, sum(b.amount_minor) AS credit,
           list(b.line_id ORDER BY b.line_id) AS line_ids, min(b.booked_at) AS booked_at
    FROM work_payout_refs r JOIN work_bank b ON b.line_id = r.line_id
    GROUP BY r.psp, r.ref
)
SELECT p.*, c.credit AS bank_credit, c.line_ids AS bank_line_ids, c.booked_at AS bank_booked_at,
       CASE WHEN c.credit IS NOT NULL THEN 'payout_reference' END AS rule,
       NULL::INTEGER AS candidates,
       p.first_seen + coalesce(w.payout_lag_days, 0) AS expected,
       p.first_seen + coalesce(w.payout_lag_days + w.payout_window_days, 1) AS due,
       NULL::VARCHAR AS status
FROM (SELECT * FROM today UNION ALL BY NAME SELECT * FROM carried) p
LEFT JOIN work_rules w ON w.source = p.source
LEFT JOIN credits c ON c.psp = p.source AND c.ref = norm_ref(p.payout_id);
