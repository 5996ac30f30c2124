-- Grain: after the cascade's first pass, which on a normal day links nearly every item: the
-- working sets keep only what is still open, so that every later rule, the breaks and the
-- carry-forward read a few thousand rows instead of the whole day (and the bulk is not marked row
-- by row with UPDATEs). The whole day stays available as work_ledger_all / work_stmt_all, as it
-- was built (with its duplicate marks, the only state set before the first pass), for what
-- concerns every line of the day however it matched: the fee check and the reversal links.
-- Inputs: work_ledger, work_stmt, work_links (the first pass's links). Parameters: none.
DROP TABLE IF EXISTS work_ledger_all;
DROP TABLE IF EXISTS work_stmt_all;
ALTER TABLE work_ledger RENAME TO work_ledger_all;
ALTER TABLE work_stmt RENAME TO work_stmt_all;

CREATE TEMP TABLE work_ledger AS
SELECT * FROM work_ledger_all
WHERE entry_id NOT IN (SELECT entry_id FROM work_links WHERE entry_id IS NOT NULL);

CREATE TEMP TABLE work_stmt AS
SELECT * FROM work_stmt_all
WHERE line_id NOT IN (SELECT line_id FROM work_links WHERE line_id IS NOT NULL);
