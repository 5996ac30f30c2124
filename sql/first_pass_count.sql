-- Grain: one row, the working set's entries and lines as the first pass's join holds them, when
-- that join holds them all (matching.run_cascade: the first pass marks the duplicates, so its
-- rule is every source's and nothing is closed before it). Read here, not by counting the
-- working sets' views, which scans the day again for each.
-- Every item is in work_cand once, or once per candidate: an item with more than one shares its
-- key's hash with them all, so that hash is in work_cand_repeated, and only the rows of those
-- keys (few) are counted distinct. A row without a key (h NULL) is an item alone. (Not one
-- aggregate with count(DISTINCT ...) FILTER: DuckDB counts every row distinct then.)
-- The lines include the bank lines no payout explains, which the cascade added to work_stmt
-- after the count that the other routes log (matching.run_cascade takes them off).
-- Inputs: work_cand, work_cand_repeated (first_pass.sql). Parameters: none.
WITH every AS (
    SELECT count(entry_id) AS entries, count(line_id) AS lines FROM work_cand
), rep AS (  -- the rows of the keys held more than once
    SELECT count(entry_id) AS entries, count(line_id) AS lines,
           count(DISTINCT entry_id) AS distinct_entries, count(DISTINCT line_id) AS distinct_lines
    FROM work_cand WHERE h IN (SELECT h FROM work_cand_repeated)
)
SELECT every.entries - rep.entries + rep.distinct_entries, every.lines - rep.lines + rep.distinct_lines
FROM every, rep
