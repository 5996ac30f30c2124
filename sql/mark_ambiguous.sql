-- Grain: after the cascade, every statement line still open that some rule found with more than
-- one equally good counterpart becomes 'ambiguous' (one break, naming its candidates), and its
-- still-open candidate ledger entries become 'candidate' (covered by that break, no break of
-- their own). Inputs: work_ambiguous, work_stmt, work_ledger. Parameters: none.
UPDATE work_stmt SET state = 'ambiguous'
WHERE state IS NULL AND line_id IN (SELECT line_id FROM work_ambiguous);
UPDATE work_ledger SET state = 'candidate'
WHERE state IS NULL AND entry_id IN (
    SELECT a.entry_id FROM work_ambiguous a JOIN work_stmt s ON s.line_id = a.line_id
    WHERE s.state = 'ambiguous');
