-- Grain: each payout of the run gets its status, and the bank lines its legs took are closed
-- (state 'payout') before the cascade reads the rest: matched, payout_mismatch (items' net,
-- declared payout and bank credit disagree), ambiguous (several candidate credits), in_transit
-- (no credit yet, before its due day: no break) or unsettled (no credit by then: a break).
-- Inputs: work_payouts, work_bank. Parameters: $business_date.
UPDATE work_payouts SET status = CASE
    WHEN bank_credit IS NOT NULL AND (bank_credit <> coalesce(declared, settled) OR declared <> settled)
        THEN 'payout_mismatch'
    WHEN bank_credit IS NOT NULL THEN 'matched'
    WHEN candidates > 0 THEN 'ambiguous'
    WHEN $business_date < due THEN 'in_transit'
    ELSE 'unsettled' END;

UPDATE work_bank SET state = 'payout'
WHERE line_id IN (SELECT unnest(bank_line_ids) FROM work_payouts WHERE bank_line_ids IS NOT NULL);
