-- Grain: records the run's payouts and their bank links, and one break per payout whose legs
-- disagree (items' net, PSP's declared payout, bank credit: payout_mismatch) or that no bank
-- credit carries by the run after its own (unsettled; in_transit until then: a break only if the
-- PSP's declared payout already differs from its items). break_id is stable per payout:
-- 'payout|source|payout_id'.
-- Inputs: work_payouts. Parameters: $run_id, $business_date.
INSERT INTO payouts
SELECT $run_id, source, payout_id, currency, items, settled, declared, bank_credit,
       bank_line_ids[1], status, first_seen, len(bank_line_ids)
FROM work_payouts;

INSERT INTO matches
SELECT $run_id, 'payout_bank', 'payout_reference', NULL, unnest(bank_line_ids), payout_id,
       bank_credit - coalesce(declared, settled),
       json_object('items', items, 'settled_net', settled, 'declared', declared,
                   'bank_credit', bank_credit, 'bank_lines', len(bank_line_ids))::VARCHAR
FROM work_payouts
WHERE bank_line_ids IS NOT NULL;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
SELECT $run_id, substr(sha256('payout|' || source || '|' || payout_id), 1, 16), $business_date,
       CASE status WHEN 'unsettled' THEN 'unsettled' ELSE 'payout_mismatch' END,
       source, currency, payout_id, NULL, NULL, bank_line_ids[1], settled,
       CASE WHEN status = 'unsettled' THEN declared
            WHEN bank_credit <> coalesce(declared, settled) THEN bank_credit
            ELSE declared END,
       coalesce(CASE WHEN status = 'unsettled' THEN declared
                     WHEN bank_credit <> coalesce(declared, settled) THEN bank_credit
                     ELSE declared END, 0) - settled,
       bank_booked_at, 'three_way_payout',
       CASE WHEN status = 'unsettled' THEN 'no bank credit carries this payout id yet'
            WHEN bank_credit <> coalesce(declared, settled) THEN 'bank credited ' || bank_credit
                 || ' in ' || len(bank_line_ids) || ' line(s), payout ' || coalesce(declared, settled)
                 || ' (minor units)'
            ELSE 'PSP declared ' || declared || ' but its items net to ' || settled END
FROM work_payouts
WHERE status NOT IN ('matched', 'in_transit') OR (status = 'in_transit' AND declared <> settled);
