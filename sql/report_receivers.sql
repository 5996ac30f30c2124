-- Grain: one row per split-settlement (分账) receiver and currency of a run: the day's
-- allocations and returns in the run's profit-sharing bills (allocated: money out to the receiver,
-- positive; returned: 回退, money back), and what is still open for it after the run: its bill
-- lines no ledger entry matched (open) and its ledger allocation entries no bill line matched
-- (ledger_open), each money out positive, from the run's open breaks (carried ones included).
-- Inputs: statement_lines, ledger_entries, breaks. Parameters: $run_id, $business_date, $inputs
-- (the run's files), $sources (the sources whose rules include allocation_receiver).
WITH day AS (
    SELECT trim(sub_merchant_id) AS receiver, currency, count(*) AS lines,
           coalesce(-sum(amount_minor) FILTER (WHERE txn_type = 'allocation'), 0) AS allocated_minor,
           coalesce(sum(amount_minor) FILTER (WHERE txn_type = 'allocation_return'), 0) AS returned_minor
    FROM statement_lines
    WHERE business_date = $business_date AND file_sha256 IN (SELECT unnest($inputs))
      AND list_contains($sources, source) AND txn_type IN ('allocation', 'allocation_return')
    GROUP BY ALL
), open_lines AS (
    SELECT trim(s.sub_merchant_id) AS receiver, s.currency, -sum(s.amount_minor) AS open_minor
    FROM breaks b JOIN statement_lines s ON s.line_id = b.line_id
    WHERE b.run_id = $run_id AND b.status = 'open' AND s.txn_type IN ('allocation', 'allocation_return')
      AND list_contains($sources, s.source)
    GROUP BY ALL
), open_entries AS (
    SELECT e.receiver, b.currency, -sum(b.ledger_amount_minor) AS ledger_open_minor
    FROM breaks b
    JOIN (SELECT entry_id, trim(arg_max(receiver, recorded_at)) AS receiver FROM ledger_entries
          WHERE entry_id IN (SELECT ledger_entry_id FROM breaks WHERE run_id = $run_id)
            AND txn_type IN ('allocation', 'allocation_return')
          GROUP BY entry_id) e ON e.entry_id = b.ledger_entry_id
    WHERE b.run_id = $run_id AND b.status = 'open' AND e.receiver IS NOT NULL
    GROUP BY ALL
)
SELECT receiver, currency, coalesce(d.lines, 0)::BIGINT AS lines,
       coalesce(d.allocated_minor, 0)::BIGINT AS allocated_minor,
       coalesce(d.returned_minor, 0)::BIGINT AS returned_minor,
       coalesce(o.open_minor, 0)::BIGINT AS open_minor,
       coalesce(e.ledger_open_minor, 0)::BIGINT AS ledger_open_minor
FROM day d
FULL JOIN open_lines o USING (receiver, currency)
FULL JOIN open_entries e USING (receiver, currency)
ORDER BY receiver, currency;
