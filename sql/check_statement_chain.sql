-- Grain: one row per bank account and currency whose statement of the business date does not
-- continue the previous statement: the previous closing balance (CLBD) is not this opening
-- balance (OPBD/PRCD); sequence_gap says whether the electronic sequence number (ElctrncSeqNb)
-- skips too (a statement missing). A skip alone, balances chaining, is no gap: banks number by
-- day of year or otherwise. A check: zero rows pass. Inputs: chain_balances (account, currency,
-- file_date, sequence, opening_minor, closing_minor; one row per statement of the previous and
-- the current file, read from the archive by recon/chain.py — balances are not stored in the
-- warehouse). Parameters: $business_date.
WITH ordered AS (
    SELECT *, lag(closing_minor) OVER w AS prev_closing_minor, lag(sequence) OVER w AS prev_sequence,
           lag(file_date) OVER w AS prev_file_date
    FROM chain_balances
    WINDOW w AS (PARTITION BY account, currency ORDER BY file_date, sequence)
)
SELECT account, currency, prev_file_date, file_date, prev_closing_minor, opening_minor,
       prev_sequence, sequence,
       prev_closing_minor IS DISTINCT FROM opening_minor AS balance_gap,
       (TRY_CAST(sequence AS BIGINT) IS NOT NULL AND TRY_CAST(prev_sequence AS BIGINT) IS NOT NULL
        AND TRY_CAST(sequence AS BIGINT) <> TRY_CAST(prev_sequence AS BIGINT) + 1) AS sequence_gap
FROM ordered
WHERE file_date = $business_date AND prev_file_date IS NOT NULL
  AND prev_closing_minor IS DISTINCT FROM opening_minor
ORDER BY account, currency;
