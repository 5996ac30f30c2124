-- Grain: matches rows of rule 'allocation_receiver': the split settlement (分账) cleared per
-- order and receiver. A ledger entry typed allocation (money out) or allocation_return (回退)
-- pairs with the bill line of the same order (psp_reference = 微信订单号, norm_ref), receiver
-- (entry's receiver = line's sub_merchant_id), type and currency; amount equal or within the
-- tolerance; statement day within the window. The entry may be on the bill's source or another
-- PSP source (a company books 分账 on the trade channel). Several allocations of one order to one
-- receiver pair one-to-one as reversal_reference's do, else work_ambiguous. Unfreeze lines
-- (解冻给分账方) have no ledger side: each is a line-only link (read by check_allocations.sql).
-- Inputs: work_ledger, work_stmt (whole rows: the cascade widens them first), work_rules.
-- Parameters: $run_id.
CREATE OR REPLACE TEMP TABLE work_cand AS
WITH bills AS (
    SELECT * FROM work_rules WHERE list_contains(rules, 'allocation_receiver')
), s AS (
    SELECT s.line_id, s.source, s.txn_type, s.currency, s.amount_minor, s.booked_at, s.business_date,
           norm_ref(s.psp_reference) AS k, trim(s.sub_merchant_id) AS receiver,
           b.amount_tolerance_minor AS tol, b.amount_tolerance_bps AS bps,
           b.window_before_days AS before_days, b.window_after_days AS after_days
    FROM work_stmt s JOIN bills b ON b.source = s.source
    WHERE s.state IS NULL AND s.txn_type IN ('allocation', 'allocation_return')
      AND s.psp_reference IS NOT NULL AND s.sub_merchant_id IS NOT NULL
), l AS (
    SELECT l.entry_id, l.source, l.txn_type, l.currency, l.amount_minor, l.booked_at, l.business_date,
           norm_ref(l.psp_reference) AS k, trim(l.receiver) AS receiver
    FROM work_ledger l JOIN work_rules r ON r.source = l.source AND r.kind = 'psp'
    WHERE l.state IS NULL AND l.txn_type IN ('allocation', 'allocation_return')
      AND l.psp_reference IS NOT NULL AND l.receiver IS NOT NULL
), cand AS (
    SELECT l.entry_id, s.line_id, s.source, s.txn_type, s.currency, s.k, s.receiver,
           l.amount_minor AS l_amount, s.amount_minor - l.amount_minor AS diff,
           date_diff('day', l.business_date, s.business_date) AS days, l.booked_at AS l_at, s.booked_at AS s_at
    FROM l JOIN s ON s.k = l.k AND s.receiver = l.receiver AND s.txn_type = l.txn_type
                 AND s.currency = l.currency
    WHERE (abs(s.amount_minor - l.amount_minor) <= s.tol
           OR abs(s.amount_minor - l.amount_minor) * 10000 <= abs(l.amount_minor) * s.bps)
      AND date_diff('day', l.business_date, s.business_date) BETWEEN -s.before_days AND s.after_days
), counted AS (
    SELECT *, count(*) OVER (PARTITION BY entry_id) AS n_l, count(*) OVER (PARTITION BY line_id) AS n_s
    FROM cand
), blocks AS (  -- one order's allocations to one receiver of one ledger amount, and their lines
    SELECT *,
           count(DISTINCT entry_id) OVER b AS m_l, count(DISTINCT line_id) OVER b AS m_s,
           count(*) OVER b AS pairs, count(DISTINCT l_at) OVER b AS t_l, count(DISTINCT s_at) OVER b AS t_s,
           max(n_l) OVER b AS max_l, max(n_s) OVER b AS max_s, bool_and(diff = 0) OVER b AS equal,
           dense_rank() OVER (b ORDER BY l_at) AS l_rank, dense_rank() OVER (b ORDER BY s_at) AS s_rank
    FROM counted
    WINDOW b AS (PARTITION BY source, txn_type, currency, k, receiver, l_amount)
)
SELECT entry_id, line_id, k, receiver, diff, days, m_l AS m, l_rank, s_rank,
       m_l = m_s AND pairs = m_l * m_l AND max_l = m_l AND max_s = m_l
           AND (m_l = 1 OR (equal AND t_l = m_l AND t_s = m_l)) AS linkable
FROM blocks;

INSERT INTO matches
SELECT $run_id, 'ledger_statement', 'allocation_receiver', entry_id, line_id, NULL, diff,
       json_object('order', k, 'receiver', receiver, 'difference_minor', diff, 'days_apart', days,
                   'candidates', m, 'time_order', CASE WHEN m > 1 THEN l_rank END)::VARCHAR
FROM work_cand WHERE linkable AND l_rank = s_rank;

INSERT INTO work_ambiguous
SELECT 'allocation_receiver', entry_id, line_id FROM work_cand WHERE NOT linkable;

INSERT INTO matches
SELECT $run_id, 'statement_check', 'allocation_receiver', NULL, s.line_id, NULL, 0,
       json_object('order', norm_ref(s.psp_reference), 'unfreeze', true)::VARCHAR
FROM work_stmt s
WHERE s.state IS NULL AND s.txn_type = 'unfreeze'
  AND s.source IN (SELECT source FROM work_rules WHERE list_contains(rules, 'allocation_receiver'));

-- The pairs just linked and the unfreeze lines (still open until mark_matched), for mark_matched.
CREATE OR REPLACE TEMP VIEW work_links AS
SELECT entry_id, line_id FROM work_cand WHERE linkable AND l_rank = s_rank
UNION ALL
SELECT NULL, s.line_id
FROM work_stmt s
WHERE s.state IS NULL AND s.txn_type = 'unfreeze'
  AND s.source IN (SELECT source FROM work_rules WHERE list_contains(rules, 'allocation_receiver'));
