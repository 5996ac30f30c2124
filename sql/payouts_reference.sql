-- Grain: one row per open bank line and PSP whose payouts that bank receives (work_banks), where
-- a reference field of the line carries the PSP's payout reference: the first of the bank's
-- `payout_references.fields`, in order, in which the PSP's pattern matches; ref is the match's
-- first group, normalised as payout ids are. A bank without `payout_references` reads the whole
-- end-to-end id (pattern '^(.+)$'); a PSP without a pattern there has no row (payout_amount).
-- Inputs: work_bank, work_banks, statement_lines (raw, only where a bank lists it). Parameters: none.
-- The raw copies of the open bank lines, read only when a bank lists the field.
CREATE OR REPLACE TEMP TABLE work_bank_raw AS
SELECT line_id, raw FROM statement_lines
WHERE (SELECT coalesce(bool_or(list_contains(fields, 'raw')), false) FROM work_banks)
  AND source IN (SELECT bank FROM work_banks)
  AND line_id IN (SELECT line_id FROM work_bank WHERE state IS NULL);

CREATE OR REPLACE TEMP TABLE work_payout_refs AS
WITH found AS (
    SELECT w.psp, b.line_id,
           list_filter(list_transform(w.fields, lambda f: regexp_extract(
               CASE f WHEN 'end_to_end_id' THEN b.end_to_end_id WHEN 'bank_reference' THEN b.bank_reference
                      WHEN 'merchant_reference' THEN b.merchant_reference WHEN 'description' THEN b.description
                      WHEN 'counterparty' THEN b.counterparty
                      WHEN 'raw' THEN rw.raw END,
               w.pattern, 1)), lambda x: x <> '')[1] AS ref
    FROM work_bank b JOIN work_banks w ON w.bank = b.source LEFT JOIN work_bank_raw rw ON rw.line_id = b.line_id
    WHERE b.state IS NULL AND w.pattern IS NOT NULL
)
SELECT psp, line_id, norm_ref(ref) AS ref FROM found WHERE norm_ref(ref) IS NOT NULL;
