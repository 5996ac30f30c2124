-- Grain: one break per PSP payment/refund line of the day whose actual fee differs from the
-- contracted rate card by more than the source's fee tolerance (macro expected_fee in
-- recon/warehouse.py, which follows recon/ratecard.py unit for unit).
-- Inputs: work_stmt, work_rules, rate_cards. Parameters: $run_id, $business_date.
INSERT INTO breaks (run_id, break_id, business_date, category, source, currency, reference,
                    psp_reference, ledger_entry_id, line_id, ledger_amount_minor,
                    statement_amount_minor, difference_minor, booked_at, rule, detail)
WITH expected AS (
    SELECT s.line_id, s.source, s.currency, s.merchant_reference, s.psp_reference, s.booked_at,
           s.fee_minor,
           expected_fee(s.amount_minor, s.txn_type, c.rate, c.fixed_minor, c.minimum_minor,
                        c.maximum_minor, c.refund_returns_fee) AS expected_fee
    FROM work_stmt s
    JOIN work_rules r ON r.source = s.source
    JOIN rate_cards c
      ON c.source = s.source
     AND c.method = coalesce((SELECT any_value(x.method) FROM rate_cards x
                              WHERE x.source = s.source AND x.method = s.payment_method), '*')
     AND $business_date BETWEEN c.valid_from AND coalesce(c.valid_to, DATE '9999-12-31')
    WHERE s.state IS DISTINCT FROM 'duplicate' AND s.fee_minor IS NOT NULL
)
SELECT $run_id, substr(sha256('fee_variance|' || e.source || '|' || e.line_id), 1, 16),
       $business_date, 'fee_variance', e.source, e.currency, e.merchant_reference, e.psp_reference,
       NULL, e.line_id, e.expected_fee, e.fee_minor, e.fee_minor - e.expected_fee, e.booked_at,
       'rate_card', 'fee charged ' || e.fee_minor || ' vs contracted ' || e.expected_fee || ' (minor units)'
FROM expected e
JOIN work_rules r ON r.source = e.source
WHERE abs(e.fee_minor - e.expected_fee) > r.fee_tolerance_minor;
