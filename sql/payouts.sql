-- Grain: one row per PSP payout of the business day, by payout id: the items it settles and
-- their net (gross − fees − refunds ...), the amount the PSP declared (its payout row, where the
-- format has one) and the bank credit whose end-to-end id carries the payout id, looked for only
-- in the bank sources configured to receive that PSP's payouts.
-- Inputs: statement_lines, work_rules, work_banks. Parameters: $business_date.
CREATE OR REPLACE TEMP TABLE work_payouts AS
WITH items AS (
    SELECT source, payout_id, any_value(currency) AS currency, count(*) AS items,
           sum(net_minor) AS settled
    FROM statement_lines
    WHERE business_date = $business_date AND txn_type <> 'payout' AND payout_id IS NOT NULL
      AND source IN (SELECT source FROM work_rules)
    GROUP BY source, payout_id
), declared AS (
    SELECT source, payout_id, any_value(currency) AS currency, -sum(amount_minor) AS declared,
           min(line_id) AS payout_line_id
    FROM statement_lines
    WHERE business_date = $business_date AND txn_type = 'payout' AND payout_id IS NOT NULL
      AND source IN (SELECT source FROM work_rules)
    GROUP BY source, payout_id
), payouts AS (
    SELECT coalesce(i.source, d.source) AS source, coalesce(i.payout_id, d.payout_id) AS payout_id,
           coalesce(i.currency, d.currency) AS currency, coalesce(i.items, 0) AS items,
           coalesce(i.settled, 0) AS settled, d.declared, d.payout_line_id
    FROM items i FULL JOIN declared d ON d.source = i.source AND d.payout_id = i.payout_id
), bank AS (
    SELECT w.psp, b.line_id, b.end_to_end_id, b.amount_minor, b.currency, b.booked_at,
           count(*) OVER (PARTITION BY w.psp, b.end_to_end_id) AS n
    FROM statement_lines b JOIN work_banks w ON w.bank = b.source
    WHERE b.business_date = $business_date AND b.end_to_end_id IS NOT NULL
)
SELECT p.*, b.line_id AS bank_line_id, b.amount_minor AS bank_credit, b.currency AS bank_currency,
       b.booked_at AS bank_booked_at, coalesce(b.n, 0) AS bank_candidates
FROM payouts p
LEFT JOIN bank b ON b.psp = p.source AND norm_ref(b.end_to_end_id) = norm_ref(p.payout_id);
