-- Grain: one row per break open in the earlier run ($prev_run) or raised by the later one
-- ($run_id, open or auto-cleared): how it moved between them and why, for the Summary's daily
-- roll-forward, the Cleared sheet and `recon runs diff`.
-- movement: continuing (open in both; its amount may have changed), new (open now only),
-- auto_cleared (the later run recorded it cleared: its counterpart arrived), resolved (gone, and
-- its latest annotation as of the later run's annotation watermark says resolved), left (gone
-- for another reason: a ledger correction, or no longer raised).
-- Who and why: the latest annotation (as of the later run), and the latest correction of its
-- ledger entry: a version recorded after the earlier run's ledger watermark, up to the later
-- run's, of an entry that had an earlier version, with the load's who and why (files).
-- Inputs: runs, breaks, annotations, ledger_entries, files. Parameters: $prev_run (NULL: the
-- first run, nothing was open before), $run_id.
WITH r AS (SELECT * FROM runs WHERE run_id = $run_id),
p AS (SELECT * FROM runs WHERE run_id = $prev_run),
before AS (SELECT * FROM breaks WHERE run_id = $prev_run AND status = 'open'),
after AS (SELECT * FROM breaks WHERE run_id = $run_id AND status IN ('open', 'auto_cleared')),
note AS (
    SELECT break_id, status, reason, comment, who, annotated_at FROM annotations
    WHERE annotated_at <= coalesce((SELECT annotation_watermark FROM r), annotated_at)
      AND break_id IN (SELECT break_id FROM before UNION ALL SELECT break_id FROM after)
    QUALIFY row_number() OVER (PARTITION BY break_id ORDER BY annotated_at DESC) = 1
),
versions AS (
    SELECT e.entry_id, e.recorded_at, f.name AS file_name, f.loaded_by, f.load_reason,
           row_number() OVER (PARTITION BY e.entry_id ORDER BY e.recorded_at) AS version
    FROM ledger_entries e JOIN files f ON f.sha256 = e.file_sha256
    WHERE e.entry_id IN (SELECT ledger_entry_id FROM before UNION ALL SELECT ledger_entry_id FROM after)
      AND e.recorded_at <= coalesce((SELECT ledger_watermark FROM r), e.recorded_at)
),
fix AS (
    SELECT * FROM versions
    WHERE version > 1 AND recorded_at > coalesce((SELECT ledger_watermark FROM p), '-infinity'::TIMESTAMPTZ)
    QUALIFY row_number() OVER (PARTITION BY entry_id ORDER BY recorded_at DESC) = 1
)
SELECT coalesce(a.break_id, b.break_id) AS break_id,
       coalesce(a.category, b.category) AS category,
       coalesce(a.source, b.source) AS source,
       coalesce(a.currency, b.currency, '') AS currency,
       coalesce(a.reference, b.reference, '') AS reference,
       coalesce(b.first_seen, a.first_seen) AS first_seen,
       CASE WHEN b.break_id IS NOT NULL AND a.status = 'open' THEN 'continuing'
            WHEN a.status = 'open' THEN 'new'
            WHEN a.status = 'auto_cleared' THEN 'auto_cleared'
            WHEN n.status = 'resolved' THEN 'resolved'
            ELSE 'left' END AS movement,
       b.difference_minor AS before_minor,
       CASE WHEN a.status = 'open' THEN a.difference_minor END AS after_minor,
       (SELECT business_date FROM r) AS business_date,
       a.cleared_on,
       CASE WHEN a.status = 'auto_cleared' THEN a.detail END AS cleared_detail,
       n.who AS note_who, n.annotated_at AS note_at, n.reason AS note_reason,
       n.comment AS note_comment, n.status AS note_status,
       x.recorded_at AS fix_at, x.loaded_by AS fix_by, x.load_reason AS fix_why,
       x.file_name AS fix_file
FROM before b
FULL OUTER JOIN after a ON a.break_id = b.break_id
LEFT JOIN note n ON n.break_id = coalesce(a.break_id, b.break_id)
LEFT JOIN fix x ON x.entry_id = coalesce(a.ledger_entry_id, b.ledger_entry_id)
WHERE NOT (b.break_id IS NULL AND a.status = 'auto_cleared')  -- cleared from another run's list
ORDER BY source, currency, movement, category, reference, break_id;
