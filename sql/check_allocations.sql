-- Grain: one 'allocation_mismatch' break per 分账 order whose profit-sharing bill does not add up
-- to what its trade bills settled. Per order (psp_reference, 微信订单号), over every loaded line:
-- allocated, returned (回退), unfrozen (released to the 分账方); settled = net of the order's
-- payment lines plus the net of their refunds. Released (an unfreeze line):
-- allocated − returned + unfrozen = settled; not yet released: allocated − returned ≤ settled;
-- no payment in any loaded trade bill: a break. Orders with only returns loaded are not checked.
-- Checked: orders with a 分账 line in the run's files, and those whose break is still open
-- (a later line that makes one add up clears it: carry_forward.sql). docs/rules.md has the why.
-- Inputs: statement_lines, files, work_inputs, work_rules, breaks, work_resolved.
-- Parameters: $run_id, $business_date, $prev_run.
INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH bills AS (
    SELECT source FROM work_rules WHERE list_contains(rules, 'allocation_receiver')
), live AS (
    SELECT sha256 FROM files WHERE parse_status = 'loaded' AND superseded_by IS NULL
), orders AS (
    SELECT DISTINCT source, norm_ref(psp_reference) AS k
    FROM statement_lines
    WHERE business_date = $business_date AND file_sha256 IN (SELECT sha256 FROM work_inputs)
      AND source IN (SELECT source FROM bills)
      AND txn_type IN ('allocation', 'allocation_return', 'unfreeze') AND psp_reference IS NOT NULL
    UNION
    SELECT source, norm_ref(psp_reference) FROM breaks
    WHERE run_id = $prev_run AND category = 'allocation_mismatch' AND status = 'open'
      AND source IN (SELECT source FROM bills)
      AND break_id NOT IN (SELECT break_id FROM work_resolved)
), split AS (
    SELECT o.source, o.k, s.currency, min(s.psp_reference) AS order_id, max(s.booked_at) AS booked_at,
           coalesce(-sum(s.amount_minor) FILTER (WHERE s.txn_type = 'allocation'), 0) AS allocated,
           coalesce(sum(s.amount_minor) FILTER (WHERE s.txn_type = 'allocation_return'), 0) AS returned,
           coalesce(sum(abs(s.amount_minor)) FILTER (WHERE s.txn_type = 'unfreeze'), 0) AS unfrozen,
           bool_or(s.txn_type = 'unfreeze') AS released
    FROM orders o
    JOIN statement_lines s ON s.source = o.source AND norm_ref(s.psp_reference) = o.k
    WHERE s.business_date <= $business_date AND s.file_sha256 IN (SELECT sha256 FROM live)
      AND s.txn_type IN ('allocation', 'allocation_return', 'unfreeze')
    GROUP BY ALL
), paid AS (  -- the order's payments in the trade bills
    SELECT p.source, p.currency, norm_ref(p.psp_reference) AS k, norm_ref(p.merchant_reference) AS order_ref,
           coalesce(p.net_minor, p.amount_minor - coalesce(p.fee_minor, 0)) AS net
    FROM statement_lines p
    WHERE p.txn_type = 'payment'  -- a profit-sharing bill has none
      AND p.business_date <= $business_date AND p.file_sha256 IN (SELECT sha256 FROM live)
      AND norm_ref(p.psp_reference) IN (SELECT k FROM orders)
), refunded AS (  -- their refunds, by the payment's merchant reference
    SELECT p.k, p.currency, coalesce(r.net_minor, r.amount_minor - coalesce(r.fee_minor, 0)) AS net
    FROM (SELECT DISTINCT source, currency, k, order_ref FROM paid WHERE order_ref IS NOT NULL) p
    JOIN statement_lines r ON r.source = p.source AND r.currency = p.currency
                          AND norm_ref(r.original_reference) = p.order_ref
    WHERE r.txn_type = 'refund' AND r.business_date <= $business_date
      AND r.file_sha256 IN (SELECT sha256 FROM live)
), settled AS (
    SELECT k, currency, sum(net) AS settled
    FROM (SELECT k, currency, net FROM paid UNION ALL SELECT k, currency, net FROM refunded)
    GROUP BY ALL
), checked AS (
    SELECT s.*, t.settled, s.allocated - s.returned + s.unfrozen AS shared
    FROM split s LEFT JOIN settled t ON t.k = s.k AND t.currency = s.currency
)
SELECT $run_id, substr(sha256('allocation|' || source || '|' || order_id), 1, 16), $business_date,
       'allocation_mismatch', source, currency, order_id, order_id, NULL, NULL, settled, shared,
       shared - coalesce(settled, 0), booked_at, 'allocation_check',
       'allocated ' || allocated || ' − returned ' || returned || ' + unfrozen ' || unfrozen || ' = '
           || shared || CASE WHEN settled IS NULL THEN '; no payment of this order in the trade bills loaded'
                             WHEN released THEN '; settled in the trade bill ' || settled
                             ELSE '; more than the ' || settled || ' settled in the trade bill (not yet released)'
                        END || ' (minor units)'
FROM checked
WHERE allocated + unfrozen > 0  -- only returns seen: its allocations precede the bills loaded
  AND (settled IS NULL OR (released AND shared <> settled) OR (NOT released AND shared > settled))
  AND substr(sha256('allocation|' || source || '|' || order_id), 1, 16)
      NOT IN (SELECT break_id FROM breaks WHERE run_id = $run_id);
