-- Grain: one row per PSP payout to clear in this run: the payouts of the business day (by payout
-- id: the items they settle and their net, the amount the PSP declared where the format has a
-- payout row) plus the payouts the previous run left unsettled; each with the bank credits whose
-- end-to-end id carries the payout id (several credits are summed: a split payout), looked for
-- only in the bank sources configured to receive that PSP's payouts. Each bank file is read on its
-- own day, and a PSP pays a day's net on a later day: a payout of the day with no credit yet is
-- in_transit (no break); carried to the next run, it is unsettled there if still not credited.
-- Inputs: statement_lines, payouts, work_bank, work_banks, work_rules, work_inputs.
-- Parameters: $business_date, $prev_run.
CREATE OR REPLACE TEMP TABLE work_payouts AS
WITH items AS (
    SELECT source, payout_id, any_value(currency) AS currency, count(*) AS items,
           sum(net_minor) AS settled
    FROM statement_lines
    WHERE business_date = $business_date AND file_sha256 IN (SELECT sha256 FROM work_inputs) AND txn_type <> 'payout' AND payout_id IS NOT NULL
      AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
    GROUP BY source, payout_id
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
    WHERE run_id = $prev_run AND status IN ('unsettled', 'in_transit')
      AND NOT EXISTS (SELECT 1 FROM today t WHERE t.source = p.source AND t.payout_id = p.payout_id)
), credits AS (
    SELECT w.psp, norm_ref(b.end_to_end_id) AS ref, sum(b.amount_minor) AS credit,
           list(b.line_id ORDER BY b.line_id) AS line_ids, min(b.booked_at) AS booked_at
    FROM work_bank b JOIN work_banks w ON w.bank = b.source
    WHERE b.end_to_end_id IS NOT NULL AND b.state IS NULL
    GROUP BY w.psp, norm_ref(b.end_to_end_id)
)
SELECT p.*, c.credit AS bank_credit, c.line_ids AS bank_line_ids, c.booked_at AS bank_booked_at,
       CASE WHEN c.credit IS NULL AND p.first_seen = $business_date THEN 'in_transit'
            WHEN c.credit IS NULL THEN 'unsettled'
            WHEN c.credit <> coalesce(p.declared, p.settled) OR p.declared <> p.settled THEN 'payout_mismatch'
            ELSE 'matched' END AS status
FROM (SELECT * FROM today UNION ALL BY NAME SELECT * FROM carried) p
LEFT JOIN credits c ON c.psp = p.source AND c.ref = norm_ref(p.payout_id);

UPDATE work_bank SET state = 'payout'
WHERE line_id IN (SELECT unnest(bank_line_ids) FROM work_payouts WHERE bank_line_ids IS NOT NULL);
