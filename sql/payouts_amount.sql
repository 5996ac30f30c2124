-- Grain: the PSP payouts no reference linked (work_payouts without a credit), each linked to the
-- one open bank credit of a bank receiving that PSP's payouts (work_banks) with its currency and
-- amount (declared, else its items' net), dated within [expected, expected + payout_window_days],
-- whose counterparty contains one of the PSP's payer_names (case-insensitive), when that credit
-- is no other such payout's candidate: rule payout_amount. A credit whose reference field holds
-- something else (a bank's own end-to-end id) is a candidate all the same. Several candidates either way: the
-- payout is ambiguous (a break, never a pick) and its candidates stay open.
-- Inputs: work_payouts, work_bank, work_banks, work_rules. Parameters: none.
CREATE OR REPLACE TEMP TABLE work_payout_candidates AS
SELECT p.source, p.payout_id, b.line_id, b.amount_minor, b.booked_at
FROM work_payouts p
JOIN work_rules r ON r.source = p.source
JOIN work_banks w ON w.psp = p.source
JOIN work_bank b ON b.source = w.bank
WHERE p.bank_credit IS NULL AND b.state IS NULL
  AND b.line_id NOT IN (SELECT unnest(bank_line_ids) FROM work_payouts WHERE bank_line_ids IS NOT NULL)
  AND b.currency = p.currency AND b.amount_minor = coalesce(p.declared, p.settled)
  AND b.business_date BETWEEN p.expected AND p.expected + r.payout_window_days
  AND len(list_filter(r.payer_names, lambda n: contains(lower(b.counterparty), lower(n)))) > 0;

UPDATE work_payouts SET candidates = c.n, bank_credit = CASE WHEN c.n = 1 AND c.lines = 1 THEN c.amount END,
       bank_line_ids = CASE WHEN c.n = 1 AND c.lines = 1 THEN [c.line_id] END,
       bank_booked_at = CASE WHEN c.n = 1 AND c.lines = 1 THEN c.booked_at END,
       rule = CASE WHEN c.n = 1 AND c.lines = 1 THEN 'payout_amount' END
FROM (SELECT x.source, x.payout_id, count(*) AS n, any_value(x.line_id) AS line_id,
             any_value(x.amount_minor) AS amount, any_value(x.booked_at) AS booked_at,
             max(l.payouts) AS lines  -- the payouts its candidate line is a candidate of
      FROM work_payout_candidates x
      JOIN (SELECT line_id, count(*) AS payouts FROM work_payout_candidates GROUP BY line_id) l
        ON l.line_id = x.line_id
      GROUP BY x.source, x.payout_id) c
WHERE work_payouts.source = c.source AND work_payouts.payout_id = c.payout_id;
