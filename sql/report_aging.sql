-- Grain: one row per break of a run: when its break_id was first open and how old it is.
-- first_seen is the earliest business date on which the break_id appears in `breaks` (break ids
-- are stable across days for the same item), so this keeps working before and after breaks carry
-- their own first_seen. Buckets: 0-1, 2-3, 4-7, 8-30, >30 days (recon/reports/channels.py).
-- Inputs: breaks. Parameters: $run_id.
WITH run AS (SELECT break_id, business_date FROM breaks WHERE run_id = $run_id),
seen AS (
    SELECT b.break_id, min(b.business_date) AS first_seen
    FROM breaks b JOIN run r ON r.break_id = b.break_id AND b.business_date <= r.business_date
    GROUP BY b.break_id
)
SELECT r.break_id, s.first_seen, date_diff('day', s.first_seen, r.business_date) AS age_days,
       CASE WHEN date_diff('day', s.first_seen, r.business_date) <= 1 THEN '0-1'
            WHEN date_diff('day', s.first_seen, r.business_date) <= 3 THEN '2-3'
            WHEN date_diff('day', s.first_seen, r.business_date) <= 7 THEN '4-7'
            WHEN date_diff('day', s.first_seen, r.business_date) <= 30 THEN '8-30'
            ELSE '>30' END AS bucket
FROM run r JOIN seen s USING (break_id);
