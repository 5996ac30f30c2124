-- Grain: one row per source, currency and tie-out check whose two sides differ: the day's
-- figures as each report states them must agree to the minor unit. A check: zero rows pass.
--   fee gross      fee report Σ gross (payments, refunds)   = positions Σ payments − refunds
--   fee actual     fee report Σ actual fee                  = positions Σ fees on payments and refunds
--   journal fees   journal fee expense (Dr − Cr)            = positions Σ fees
--   journal sales  journal sales (Cr − Dr; [posting] psp)   = positions Σ payments
--   journal bank   journal bank (Dr − Cr)                   = payouts Σ bank credit
--   paid           positions Σ paid                         = bank credits of the day's payouts
--   journal        journal debits                           = journal credits (per currency)
-- Inputs: tie_fees, tie_positions, tie_journal, tie_payouts (in-memory tables of the run's report
-- model: recon/reports/tieout.py names their columns). Parameters: $sales (psp | gl).
WITH f AS (SELECT source, currency, sum(gross_minor) AS gross, sum(fee_minor) AS fee
           FROM tie_fees GROUP BY ALL),
p AS (SELECT source, currency, sum(payments_minor) AS payments, sum(refunds_minor) AS refunds,
             sum(fees_minor) AS fees, sum(other_fees_minor) AS other_fees, sum(paid_minor) AS paid
      FROM tie_positions GROUP BY ALL),
j AS (SELECT source, currency,
             sum(debit_minor - credit_minor) FILTER (WHERE key = 'fees') AS fees,
             sum(credit_minor - debit_minor) FILTER (WHERE key = 'sales') AS sales,
             sum(debit_minor - credit_minor) FILTER (WHERE key = 'bank') AS bank
      FROM tie_journal GROUP BY ALL),
o AS (SELECT source, currency, sum(bank_credit_minor) AS bank,
             sum(bank_credit_minor) FILTER (WHERE of_day) AS bank_of_day
      FROM tie_payouts GROUP BY ALL),
k AS (SELECT source, currency FROM f UNION SELECT source, currency FROM p
      UNION SELECT source, currency FROM j UNION SELECT source, currency FROM o),
sides AS (
    SELECT k.source, k.currency, c.* FROM k
    LEFT JOIN f USING (source, currency) LEFT JOIN p USING (source, currency)
    LEFT JOIN j USING (source, currency) LEFT JOIN o USING (source, currency),
    LATERAL (VALUES
        (1, 'fee gross', 'fee report gross', coalesce(f.gross, 0), 'positions payments - refunds',
         coalesce(p.payments, 0) - coalesce(p.refunds, 0)),
        (2, 'fee actual', 'fee report actual fee', coalesce(f.fee, 0),
         'positions fees on payments and refunds', coalesce(p.fees, 0) - coalesce(p.other_fees, 0)),
        (3, 'journal fees', 'journal fee expense', coalesce(j.fees, 0), 'positions fees', coalesce(p.fees, 0)),
        (4, 'journal sales', 'journal sales', CASE WHEN $sales = 'psp' THEN coalesce(j.sales, 0) END,
         'positions payments', coalesce(p.payments, 0)),
        (5, 'journal bank', 'journal bank', coalesce(j.bank, 0), 'payouts bank credit', coalesce(o.bank, 0)),
        (6, 'paid', 'positions paid', coalesce(p.paid, 0), 'bank credit of the day''s payouts',
         coalesce(o.bank_of_day, 0))
    ) c(n, check_name, left_name, left_minor, right_name, right_minor)
    UNION ALL
    SELECT '' AS source, currency, 7, 'journal balanced', 'journal debits', sum(debit_minor),
           'journal credits', sum(credit_minor)
    FROM tie_journal GROUP BY currency
)
SELECT source, currency, check_name, left_name, left_minor, right_name, right_minor,
       left_minor - right_minor AS difference_minor
FROM sides
WHERE left_minor IS NOT NULL AND left_minor <> right_minor
ORDER BY source, currency, n;
