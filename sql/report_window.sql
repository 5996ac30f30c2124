-- Grain: two table macros the 30-day reports share (report_history.sql, report_channels.sql):
-- report_latest, one row per business date of the 30 up to p_day that has a run: that date's
-- latest run (by started_at; failed runs, runs started after p_as_of and reproductions unseen,
-- the current run p_run_id always counted, and alone for the current date); report_inputs, the
-- files each of those runs read (the current run's: p_inputs, not yet recorded), so a corrected
-- delivery's replaced file is not among them, nor a file a run left out. Defined at connect
-- (recon/warehouse.py). Inputs: runs. Parameters: none (the macros': p_run_id, p_day, p_as_of,
-- p_inputs).
CREATE OR REPLACE MACRO report_latest(p_run_id, p_day, p_as_of) AS TABLE
SELECT business_date, arg_max(run_id, started_at) AS run_id
FROM runs
WHERE business_date BETWEEN p_day - INTERVAL 29 DAY AND p_day
  AND (run_id = p_run_id OR (status IN ('reconciled', 'breaks') AND started_at <= p_as_of))
  AND (business_date <> p_day OR run_id = p_run_id)
GROUP BY business_date;

CREATE OR REPLACE MACRO report_inputs(p_run_id, p_day, p_as_of, p_inputs) AS TABLE
SELECT l.business_date, unnest(CASE WHEN l.run_id = p_run_id THEN p_inputs
                                    ELSE json_extract_string(r.input_files, '$[*].sha256') END) AS sha256
FROM report_latest(p_run_id, p_day, p_as_of) l JOIN runs r ON r.run_id = l.run_id;
