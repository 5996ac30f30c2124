-- Grain: one break per ledger entry or PSP statement line the cascade left unexplained:
-- duplicates, reference pairs whose amounts/currencies differ, cut-off timing, and items
-- missing on the other side. Timing: an unmatched item booked within the source's timing
-- window of the day's cut-off is expected on the neighbouring day's file.
-- Inputs: work_ledger, work_stmt, work_rules, matches. Parameters: $run_id, $business_date.
INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH found AS (
    SELECT 'duplicate' AS category, s.source, s.currency,
           coalesce(s.merchant_reference, s.psp_reference) AS reference, s.psp_reference,
           NULL AS entry_id, s.line_id, NULL::BIGINT AS l_amt, s.amount_minor AS s_amt,
           s.amount_minor AS diff, s.booked_at, 'duplicate_line' AS rule,
           'repeats an earlier line of the same file or day' AS detail
    FROM work_stmt s WHERE s.state = 'duplicate'
    UNION ALL
    SELECT 'duplicate', l.source, l.currency, l.merchant_reference, l.psp_reference,
           l.entry_id, NULL, l.amount_minor, NULL, -l.amount_minor, l.booked_at,
           'duplicate_entry', 'repeats another ledger entry with the same reference and amount'
    FROM work_ledger l WHERE l.state = 'duplicate'
    UNION ALL
    SELECT CASE WHEN s.currency <> l.currency THEN 'currency_mismatch' ELSE 'amount_mismatch' END,
           s.source, s.currency, coalesce(s.merchant_reference, l.merchant_reference),
           s.psp_reference, l.entry_id, s.line_id, l.amount_minor, s.amount_minor,
           s.amount_minor - l.amount_minor, s.booked_at, m.rule,
           'same reference, ledger ' || l.currency || ' vs statement ' || s.currency
    FROM matches m
    JOIN work_ledger l ON l.entry_id = m.ledger_entry_id
    JOIN work_stmt s ON s.line_id = m.line_id
    WHERE m.run_id = $run_id AND m.rule = 'reference_mismatch'
    UNION ALL
    SELECT CASE WHEN l.booked_at >= r.day_end_utc - to_minutes(r.timing_window_minutes)
                THEN 'timing' ELSE 'missing_in_statement' END,
           l.source, l.currency, l.merchant_reference, l.psp_reference, l.entry_id, NULL,
           l.amount_minor, NULL, -l.amount_minor, l.booked_at, 'unmatched_ledger',
           CASE WHEN l.booked_at >= r.day_end_utc - to_minutes(r.timing_window_minutes)
                THEN 'booked just before the cut-off; expected in the next statement' ELSE '' END
    FROM work_ledger l JOIN work_rules r ON r.source = l.source
    WHERE l.state IS NULL
    UNION ALL
    SELECT CASE WHEN s.booked_at < r.day_start_utc + to_minutes(r.timing_window_minutes)
                THEN 'timing' ELSE 'missing_in_ledger' END,
           s.source, s.currency, coalesce(s.merchant_reference, s.psp_reference), s.psp_reference,
           NULL, s.line_id, NULL, s.amount_minor, s.amount_minor, s.booked_at, 'unmatched_statement',
           CASE WHEN s.booked_at < r.day_start_utc + to_minutes(r.timing_window_minutes)
                THEN 'booked just after the cut-off; the ledger has it on the previous day' ELSE '' END
    FROM work_stmt s JOIN work_rules r ON r.source = s.source
    WHERE s.state IS NULL
)
SELECT $run_id, substr(sha256(category || '|' || source || '|' || coalesce(line_id, entry_id)), 1, 16),
       $business_date, category, source, currency, reference, psp_reference, entry_id, line_id,
       l_amt, s_amt, diff, booked_at, rule, detail
FROM found;
