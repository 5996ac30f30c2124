-- Grain: one row: whether every source of the run lists $rule among its rules (work_rules).
-- The bulk route's first pass marks the duplicates only then: its join holds every item the
-- duplicate check counts (recon/routes.py, BulkRoute.marks_in_first_pass).
-- Inputs: work_rules. Parameters: $rule.
SELECT coalesce(bool_and(list_contains(rules, $rule)), false) FROM work_rules
