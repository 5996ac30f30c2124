-- Grain: closes every work item the rule that just ran linked (state $state). work_links is the
-- view each matcher defines over its own result (its pairs or groups): the run's earlier links
-- are closed already, and reading them back from `matches` would scan every link of the run
-- (and, by run_id, the table's history) once per rule and key.
-- Inputs: work_links, work_ledger, work_stmt. Parameters: $state.
UPDATE work_ledger SET state = $state
WHERE state IS NULL AND entry_id IN (SELECT entry_id FROM work_links WHERE entry_id IS NOT NULL);
UPDATE work_stmt SET state = $state
WHERE state IS NULL AND line_id IN (SELECT line_id FROM work_links WHERE line_id IS NOT NULL);
