-- Grain: the day's items for mark_duplicates.sql when it runs before any rule ($all true):
-- every line of the run's input files and every ledger entry dated the day that has a key, each
-- with the hash of its key (source, type, normalised reference, amount, currency; a line without
-- a merchant reference is keyed on its PSP reference). mark_duplicates.sql hashes them once and
-- probes the week with them. The other views it reads are empty on this route.
-- Inputs: work_stmt, work_ledger (views of the day: work_sets.sql), work_rules. Parameters: none
-- (the day is the connection's recon_business_date, set by work_sets.sql).
CREATE OR REPLACE TEMP VIEW work_dup_lines_day AS
SELECT line_id,
       hash(source, txn_type, CASE WHEN merchant_reference IS NOT NULL THEN merchant_key
                                   ELSE norm_ref(psp_reference) END,  -- norm_ref(coalesce(...))
            amount_minor, currency) AS h
FROM work_stmt
WHERE of_day  -- business_date = the day AND file_sha256 IN work_inputs
  AND source IN (SELECT source FROM work_rules WHERE kind = 'psp')
  AND txn_type IN ('payment', 'refund', 'chargeback')
  AND CASE WHEN merchant_reference IS NOT NULL THEN merchant_key
           ELSE norm_ref(psp_reference) END IS NOT NULL;  -- a blank reference is no key

CREATE OR REPLACE TEMP VIEW work_dup_lines_probe AS
SELECT NULL::UBIGINT AS h WHERE false;

CREATE OR REPLACE TEMP VIEW work_dup_lines_extra AS
SELECT NULL::VARCHAR AS line_id, NULL::UBIGINT AS h WHERE false;

CREATE OR REPLACE TEMP VIEW work_dup_entries_day AS
SELECT entry_id, hash(source, txn_type, merchant_key, amount_minor, currency) AS h
FROM work_ledger  -- of work_rules' sources
WHERE business_date = getvariable('recon_business_date') AND merchant_key IS NOT NULL;

CREATE OR REPLACE TEMP VIEW work_dup_entries_probe AS
SELECT NULL::UBIGINT AS h WHERE false;

CREATE OR REPLACE TEMP VIEW work_dup_keys AS
SELECT NULL::UBIGINT AS h WHERE false;
