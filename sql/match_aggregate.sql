-- Grain: links whole groups: the open ledger entries and open statement lines of one source,
-- type and currency that share a normalised reference, where at least one side has more than
-- one item (one-to-many, many-to-one, bounded many-to-many up to max_group items) and the sums
-- agree within the source's absolute tolerance. One matches row per item, evidence naming the
-- group key and both sums. Inputs: work_ledger, work_stmt, work_rules. Parameters: $run_id.
CREATE OR REPLACE TEMP TABLE work_cand AS
WITH lg AS (
    SELECT l.source, l.txn_type, l.currency, norm_loose(l.merchant_reference, r.prefixes) AS k,
           sum(l.amount_minor) AS total, count(*) AS n, list(l.entry_id ORDER BY l.entry_id) AS ids,
           any_value(r.max_group) AS max_group, any_value(r.amount_tolerance_minor) AS tol
    FROM work_ledger l JOIN work_rules r ON r.source = l.source AND list_contains(r.rules, 'aggregate_reference')
    WHERE l.state IS NULL AND l.merchant_reference IS NOT NULL
    GROUP BY ALL
), sg AS (
    SELECT s.source, s.txn_type, s.currency, norm_loose(s.merchant_reference, r.prefixes) AS k,
           sum(s.amount_minor) AS total, count(*) AS n, list(s.line_id ORDER BY s.line_id) AS ids
    FROM work_stmt s JOIN work_rules r ON r.source = s.source
    WHERE s.state IS NULL AND s.merchant_reference IS NOT NULL
    GROUP BY ALL
)
SELECT lg.source, lg.k, lg.total AS ledger_total, sg.total AS statement_total, lg.ids AS entry_ids,
       sg.ids AS line_ids
FROM lg JOIN sg USING (source, txn_type, currency, k)
WHERE (lg.n > 1 OR sg.n > 1) AND lg.n + sg.n <= lg.max_group AND abs(sg.total - lg.total) <= lg.tol;

INSERT INTO matches
SELECT $run_id, 'ledger_statement', 'aggregate_reference', unnest(entry_ids), NULL, NULL,
       statement_total - ledger_total,
       json_object('group', k, 'ledger_total', ledger_total, 'statement_total', statement_total,
                   'entries', len(entry_ids), 'lines', len(line_ids))::VARCHAR
FROM work_cand;

INSERT INTO matches
SELECT $run_id, 'ledger_statement', 'aggregate_reference', NULL, unnest(line_ids), NULL,
       statement_total - ledger_total,
       json_object('group', k, 'ledger_total', ledger_total, 'statement_total', statement_total,
                   'entries', len(entry_ids), 'lines', len(line_ids))::VARCHAR
FROM work_cand;

-- The items just linked, for mark_matched.
CREATE OR REPLACE TEMP VIEW work_links AS
SELECT unnest(entry_ids) AS entry_id, NULL::VARCHAR AS line_id FROM work_cand
UNION ALL
SELECT NULL::VARCHAR, unnest(line_ids) FROM work_cand;
