-- Grain: records the run's payouts and their bank links (the rule that found them:
-- payout_reference, payout_amount), and one break per payout whose legs disagree (items' net,
-- PSP's declared payout, bank credit: payout_mismatch), that no bank credit carries by its due day
-- (unsettled) or that has several candidate credits (ambiguous); in transit until then: a break
-- only if the PSP's declared payout already differs from its items. break_id is stable per
-- payout: 'payout|source|payout_id'.
-- Inputs: work_payouts. Parameters: $run_id, $business_date.
INSERT INTO payouts
SELECT $run_id, source, payout_id, currency, items, settled, declared, bank_credit,
       bank_line_ids[1], status, first_seen, len(bank_line_ids)
FROM work_payouts;

INSERT INTO matches
SELECT $run_id, 'payout_bank', rule, NULL, unnest(bank_line_ids), payout_id,
       bank_credit - coalesce(declared, settled),
       json_object('by', rule, 'items', items, 'settled_net', settled, 'declared', declared,
                   'bank_credit', bank_credit, 'bank_lines', len(bank_line_ids))::VARCHAR
FROM work_payouts
WHERE bank_line_ids IS NOT NULL;

INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
SELECT $run_id, substr(sha256('payout|' || source || '|' || payout_id), 1, 16), $business_date,
       CASE WHEN status IN ('unsettled', 'ambiguous') THEN status ELSE 'payout_mismatch' END,
       source, currency, payout_id, NULL, NULL, bank_line_ids[1], settled,
       CASE WHEN status IN ('unsettled', 'ambiguous') THEN declared
            WHEN bank_credit <> coalesce(declared, settled) THEN bank_credit
            ELSE declared END,
       coalesce(CASE WHEN status IN ('unsettled', 'ambiguous') THEN declared
                     WHEN bank_credit <> coalesce(declared, settled) THEN bank_credit
                     ELSE declared END, 0) - settled,
       bank_booked_at, 'three_way_payout',
       CASE WHEN status = 'unsettled' THEN 'no bank credit carries this payout id by ' || due
            WHEN status = 'ambiguous' THEN candidates || ' bank credits from the PSP of this currency and '
                 || 'amount dated from ' || expected || ' (window payout_window_days)'
            WHEN bank_credit <> coalesce(declared, settled) THEN 'bank credited ' || bank_credit
                 || ' in ' || len(bank_line_ids) || ' line(s), payout ' || coalesce(declared, settled)
                 || ' (minor units)'
            ELSE 'PSP declared ' || declared || ' but its items net to ' || settled END
FROM work_payouts
WHERE status IN ('unsettled', 'payout_mismatch', 'ambiguous') OR (status = 'in_transit' AND declared <> settled);
