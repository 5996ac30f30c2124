-- Grain: adds to work_stmt_more every bank line of the run that no payout explains (state NULL
-- after payouts.sql): disbursements (代付), ledger transfers out against bank debits, go through
-- the cascade like PSP lines, keyed by their end-to-end id where they carry no merchant reference.
-- Inputs: work_bank (payouts.sql), work_stmt_more (work_sets_stmt.sql). Parameters: none.
INSERT INTO work_stmt_more BY NAME
SELECT * EXCLUDE (state) REPLACE (coalesce(merchant_reference, end_to_end_id) AS merchant_reference),
       norm_ref(coalesce(merchant_reference, end_to_end_id)) AS merchant_key, false AS of_day
FROM work_bank
WHERE state IS NULL
