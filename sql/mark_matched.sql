-- Grain: closes every work item linked by a match of this run (state $state).
-- Inputs: matches, work_ledger, work_stmt. Parameters: $run_id, $rule, $state.
UPDATE work_ledger SET state = $state
WHERE state IS NULL AND entry_id IN (
    SELECT ledger_entry_id FROM matches WHERE run_id = $run_id AND rule = $rule);
UPDATE work_stmt SET state = $state
WHERE state IS NULL AND line_id IN (
    SELECT line_id FROM matches WHERE run_id = $run_id AND rule = $rule);
