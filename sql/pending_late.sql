-- Grain: the ledger side's unmatched-item breaks of a run (missing_in_statement, timing) whose
-- source has not delivered a statement for the entry's business date: they wait as 'pending'
-- (source late) instead of flooding the day with breaks, until the file is loaded (then they
-- match as normal) or the source's deadline passes (entries dated on or before pending_after
-- are raised as breaks again: breaks_transactions.sql recomputes them each run).
-- A statement counts as delivered when a loaded file of that source and business date was
-- fetched by the run's watermark, so a rerun decides as the original run did.
-- Inputs: breaks (breaks_transactions.sql), work_ledger, work_pending (recon/pending.py), files.
-- Parameters: $run_id, $watermark.
UPDATE breaks SET status = 'pending',
       detail = 'pending (source late): no ' || l.source || ' statement for ' || l.business_date
                || ' yet; a break after ' || r.pending_days || ' business days without one'
FROM work_ledger l JOIN work_pending r ON r.source = l.source
WHERE breaks.run_id = $run_id AND breaks.rule = 'unmatched_ledger' AND breaks.line_id IS NULL
  AND breaks.ledger_entry_id = l.entry_id AND breaks.source = l.source
  AND r.pending_after IS NOT NULL AND l.business_date > r.pending_after
  AND NOT EXISTS (SELECT 1 FROM files f
                  WHERE f.source = l.source AND f.business_date = l.business_date
                    AND f.parse_status = 'loaded' AND f.fetched_at <= $watermark);
