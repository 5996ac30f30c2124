-- Grain: matches rows of rule 'reversal_reference': a refund or chargeback ledger entry and a
-- statement line paired through the payment they reverse: the entry's original_reference (else
-- its own merchant_reference: an export may book a refund under the order id) equals, by
-- norm_ref, the line's original_reference or merchant_reference, or the PSP id of that payment
-- (its payment line's psp_reference); same source, type and currency; amount equal or within
-- the tolerance; statement day within the directional window. Several reversals of one payment
-- pair one-to-one: by amount where each side has one candidate, equal amounts in booking order;
-- any other item with more than one candidate goes to work_ambiguous, never a pick.
-- Inputs: work_ledger, work_stmt (whole rows: the cascade widens them first), work_rules,
-- statement_lines (the original payments). Parameters: $run_id.

-- An item that still shares its own reference (merchant or PSP) with an open counterpart of its
-- type is left to the reference_mismatch pass, which reports their difference: the original order
-- never pairs it with another.
CREATE OR REPLACE TEMP TABLE work_cand AS
WITH lref AS (  -- the own references of the open reversals on each side, normalised
    SELECT DISTINCT source, txn_type, unnest([merchant_key, norm_ref(psp_reference)]) AS ref
    FROM work_ledger WHERE state IS NULL AND txn_type IN ('refund', 'chargeback')
), sref AS (
    SELECT DISTINCT source, txn_type, unnest([merchant_key, norm_ref(psp_reference)]) AS ref
    FROM work_stmt WHERE state IS NULL AND txn_type IN ('refund', 'chargeback')
), l AS (
    SELECT l.entry_id, l.source, l.txn_type, l.currency, l.amount_minor, l.booked_at, l.business_date,
           norm_ref(coalesce(l.original_reference, l.merchant_reference)) AS k, r.amount_tolerance_minor AS tol,
           r.amount_tolerance_bps AS bps, r.window_before_days AS before_days,
           r.window_after_days AS after_days
    FROM work_ledger l
    JOIN work_rules r ON r.source = l.source AND list_contains(r.rules, 'reversal_reference')
    WHERE l.state IS NULL AND l.txn_type IN ('refund', 'chargeback')
      AND coalesce(l.original_reference, l.merchant_reference) IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM sref WHERE sref.source = l.source AND sref.txn_type = l.txn_type
                                            AND sref.ref IN (l.merchant_key, norm_ref(l.psp_reference)))
), open_s AS (
    SELECT s.* FROM work_stmt s WHERE s.state IS NULL AND s.txn_type IN ('refund', 'chargeback')
      AND NOT EXISTS (SELECT 1 FROM lref WHERE lref.source = s.source AND lref.txn_type = s.txn_type
                                            AND lref.ref IN (s.merchant_key, norm_ref(s.psp_reference)))
), orig AS (  -- the PSP's own id of each payment those lines name (pruned by ref_key's zone maps)
    SELECT DISTINCT p.source, p.ref_key AS k, norm_ref(p.psp_reference) AS psp_k
    FROM statement_lines p
    WHERE p.txn_type = 'payment' AND p.psp_reference IS NOT NULL
      AND p.ref_key IN (SELECT norm_ref(original_reference) FROM open_s)
), s AS (  -- each open reversal line once per distinct key it carries
    SELECT DISTINCT line_id, source, txn_type, currency, amount_minor, booked_at, business_date, k
    FROM (SELECT s.*, unnest([norm_ref(s.original_reference), norm_ref(s.merchant_reference)]) AS k
          FROM open_s s
          UNION ALL BY NAME
          SELECT s.*, o.psp_k AS k
          FROM open_s s JOIN orig o ON o.source = s.source AND o.k = norm_ref(s.original_reference))
    WHERE k IS NOT NULL
), cand AS (
    SELECT l.entry_id, s.line_id, l.source, l.txn_type, l.currency, l.k, l.amount_minor AS l_amount,
           s.amount_minor - l.amount_minor AS diff,
           date_diff('day', l.business_date, s.business_date) AS days, l.booked_at AS l_at, s.booked_at AS s_at
    FROM l JOIN s ON s.source = l.source AND s.k = l.k AND s.txn_type = l.txn_type AND s.currency = l.currency
    WHERE (abs(s.amount_minor - l.amount_minor) <= l.tol
           OR abs(s.amount_minor - l.amount_minor) * 10000 <= abs(l.amount_minor) * l.bps)
      AND date_diff('day', l.business_date, s.business_date) BETWEEN -l.before_days AND l.after_days
), counted AS (
    SELECT *, count(*) OVER (PARTITION BY entry_id) AS n_l, count(*) OVER (PARTITION BY line_id) AS n_s
    FROM cand
), blocks AS (  -- one payment's reversals of one ledger amount, and their candidate lines
    SELECT *,
           count(DISTINCT entry_id) OVER b AS m_l, count(DISTINCT line_id) OVER b AS m_s,
           count(*) OVER b AS pairs, count(DISTINCT l_at) OVER b AS t_l, count(DISTINCT s_at) OVER b AS t_s,
           max(n_l) OVER b AS max_l, max(n_s) OVER b AS max_s, bool_and(diff = 0) OVER b AS equal,
           dense_rank() OVER (b ORDER BY l_at) AS l_rank, dense_rank() OVER (b ORDER BY s_at) AS s_rank
    FROM counted
    WINDOW b AS (PARTITION BY source, txn_type, currency, k, l_amount)
)
SELECT entry_id, line_id, k, diff, days, m_l AS m, l_rank, s_rank,
       -- a complete block, each member's only candidates, one pair or equal amounts at distinct times
       m_l = m_s AND pairs = m_l * m_l AND max_l = m_l AND max_s = m_l
           AND (m_l = 1 OR (equal AND t_l = m_l AND t_s = m_l)) AS linkable
FROM blocks;

INSERT INTO matches
SELECT $run_id, 'ledger_statement', 'reversal_reference', entry_id, line_id, NULL, diff,
       json_object('original', k, 'difference_minor', diff, 'days_apart', days, 'candidates', m,
                   'time_order', CASE WHEN m > 1 THEN l_rank END)::VARCHAR
FROM work_cand WHERE linkable AND l_rank = s_rank;

INSERT INTO work_ambiguous
SELECT 'reversal_reference', entry_id, line_id FROM work_cand WHERE NOT linkable;

-- The pairs just linked, for mark_matched.
CREATE OR REPLACE TEMP VIEW work_links AS
SELECT entry_id, line_id FROM work_cand WHERE linkable AND l_rank = s_rank;
