-- Grain: one break per ledger entry or statement line the cascade left unexplained: duplicates,
-- reference pairs whose amounts/currencies differ, ambiguous lines, cut-off timing, and items
-- missing on the other side. Timing: an unmatched item of the business day itself, of a PSP
-- source, booked within the timing window before its day's cut-off (ledger) or after it
-- (statement): its counterpart is expected on the neighbouring day. Carried items that are still
-- unmatched are missing. break_id is stable per item: 'match|source|item'.
-- Inputs: work_ledger, work_stmt, work_rules, work_ambiguous, matches.
-- Parameters: $run_id, $business_date.
INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH bounds AS (
    SELECT source, kind, timing_window_minutes AS w, tz, cutoff_minutes FROM work_rules
), found AS (
    SELECT 'duplicate' AS category, s.source, s.currency,
           coalesce(s.merchant_reference, s.psp_reference, s.end_to_end_id, s.bank_reference) AS reference, s.psp_reference,
           NULL AS entry_id, s.line_id, NULL::BIGINT AS l_amt, s.amount_minor AS s_amt,
           s.amount_minor AS diff, s.booked_at, 'duplicate_line' AS rule,
           'repeats an earlier line with the same reference, type and amount' AS detail
    FROM work_stmt s WHERE s.state = 'duplicate'
    UNION ALL
    SELECT 'duplicate', l.source, l.currency, l.merchant_reference, l.psp_reference,
           l.entry_id, NULL, l.amount_minor, NULL, -l.amount_minor, l.booked_at,
           'duplicate_entry', 'repeats another ledger entry with the same reference and amount'
    FROM work_ledger l WHERE l.state = 'duplicate'
    UNION ALL
    -- A line settled in another currency but presented in the ledger's is compared at presentment.
    SELECT CASE WHEN s.currency = l.currency OR s.orig_currency = l.currency THEN 'amount_mismatch'
                ELSE 'currency_mismatch' END,
           s.source, l.currency, coalesce(s.merchant_reference, l.merchant_reference),
           s.psp_reference, l.entry_id, s.line_id, l.amount_minor, p.amount, p.amount - l.amount_minor,
           s.booked_at, m.rule,
           'same reference; ledger ' || l.currency || ' ' || l.amount_minor || ', statement '
               || s.currency || ' ' || s.amount_minor
               || CASE WHEN s.currency <> l.currency AND s.orig_currency = l.currency
                       THEN ' presented as ' || s.orig_currency || ' ' || p.amount ELSE '' END
               || ' (minor units)'
    FROM matches m
    JOIN work_ledger l ON l.entry_id = m.ledger_entry_id
    JOIN work_stmt s ON s.line_id = m.line_id
    CROSS JOIN LATERAL (SELECT CASE WHEN s.currency <> l.currency AND s.orig_currency = l.currency
                                    THEN sign(s.amount_minor) * abs(s.orig_amount_minor)
                                    ELSE s.amount_minor END AS amount) p
    WHERE m.run_id = $run_id AND m.rule = 'reference_mismatch'
    UNION ALL
    SELECT 'ambiguous', s.source, s.currency, coalesce(s.merchant_reference, s.psp_reference, s.end_to_end_id, s.bank_reference),
           s.psp_reference, NULL, s.line_id, NULL, s.amount_minor, s.amount_minor, s.booked_at,
           'ambiguous_candidates',
           (SELECT count(DISTINCT a.entry_id) || ' equally good ledger candidates: '
                   || string_agg(DISTINCT a.entry_id, ', ' ORDER BY a.entry_id)
            FROM work_ambiguous a WHERE a.line_id = s.line_id)
    FROM work_stmt s WHERE s.state = 'ambiguous'
    UNION ALL
    SELECT CASE WHEN b.kind = 'psp' AND l.business_date = $business_date
                 AND l.booked_at >= timezone(b.tz, (l.business_date + 1)::TIMESTAMP
                                               + to_minutes(b.cutoff_minutes - b.w))
                THEN 'timing' ELSE 'missing_in_statement' END,
           l.source, l.currency, l.merchant_reference, l.psp_reference, l.entry_id, NULL,
           l.amount_minor, NULL, -l.amount_minor, l.booked_at, 'unmatched_ledger', ''
    FROM work_ledger l JOIN bounds b ON b.source = l.source
    WHERE l.state IS NULL
    UNION ALL
    SELECT CASE WHEN b.kind = 'psp' AND s.business_date = $business_date
                 AND s.booked_at < timezone(b.tz, s.business_date::TIMESTAMP
                                              + to_minutes(b.cutoff_minutes + b.w))
                THEN 'timing' ELSE 'missing_in_ledger' END,
           s.source, s.currency, coalesce(s.merchant_reference, s.psp_reference, s.end_to_end_id, s.bank_reference), s.psp_reference,
           NULL, s.line_id, NULL, s.amount_minor, s.amount_minor, s.booked_at, 'unmatched_statement', ''
    FROM work_stmt s JOIN bounds b ON b.source = s.source
    WHERE s.state IS NULL
)
SELECT $run_id, substr(sha256('match|' || source || '|' || coalesce(line_id, entry_id)), 1, 16),
       $business_date, category, source, currency, reference, psp_reference, entry_id, line_id,
       l_amt, s_amt, diff, booked_at, rule,
       CASE category
         WHEN 'timing' THEN CASE WHEN line_id IS NULL
              THEN 'booked just before the cut-off; expected in the next statement'
              ELSE 'booked just after the cut-off; the ledger has it on the previous day' END
         ELSE detail END
FROM found;
