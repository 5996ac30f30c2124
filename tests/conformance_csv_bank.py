"""The declared mapping of each public bank CSV export (conformance corpus ``csv-bank/``).

A bank CSV is only ever read through a mapping its source declares (``schemas.bankcsv``); these
are the mappings a payment-operations team would write for each of these banks.
"""
from __future__ import annotations

from recon.errors import ParseError

_DE = {"delimiter": ";", "decimal": ",", "thousands": "."}
_CH = {"delimiter": ";", "thousands": "'"}

CSV_MAPPINGS: dict[str, dict] = {
    "b2y-au-nab-TransactionHistory.csv": {
        "header_contains": ["Transaction date", "Value date"], "currency": "SGD", "thousands": ",",
        "continuation_rows": True,
        "date_format": "%d/%m/%Y", "columns": {
            "booked": "Transaction date", "value_date": "Value date", "debit": "Withdrawals (SGD)",
            "credit": "Deposits (SGD)", "description": "Description"}},
    "b2y-be-kbc-export.csv": {**_DE, "date_format": "%d/%m/%Y", "columns": {
        "booked": "Datum", "value_date": "Valuta", "amount": "Bedrag", "currency": "Munt",
        "counterparty": "Naam tegenpartij", "description": ["Omschrijving", "Vrije mededeling"],
        "reference": "gestructureerde mededeling"}},
    "b2y-cz-ceska-sporitelna-TH_20180521.csv": {
        **_DE, "currency": "CZK", "date_format": "%Y/%m/%d", "columns": {
            "booked": "Posting date", "value_date": "Execution date", "amount": "Amount CZK",
            "counterparty": "Counteraccount name", "description": "Message for payee",
            "bank_reference": "Transaction reference number"}},
    "b2y-cz-raiffeisen-Movements-cp1250.csv": {
        **_DE, "encoding": "cp1250", "date_format": "%d.%m.%Y", "columns": {
            "booked": "Datum zaúčtování", "value_date": "Datum provedení",
            "amount": "Zaúčtovaná částka", "currency": "Měna účtu",
            "counterparty": "Název protiúčtu", "description": "Zpráva", "reference": "VS"}},
    "b2y-de-commerzbank-Umsaetze.CSV": {**_DE, "date_format": "%d.%m.%Y", "columns": {
        "booked": "Buchungstag", "value_date": "Wertstellung", "amount": "Betrag",
        "currency": "Währung", "description": "Buchungstext"}},
    "b2y-de-n26-20171001-20171106.csv": {"currency": "EUR", "columns": {
        "booked": "Datum", "amount": "Betrag (EUR)", "counterparty": "Empfänger",
        "description": "Verwendungszweck"}},
    "b2y-de-ostseesparkasse-cc-umsatz.CSV": {**_DE, "encoding": "cp1252", "date_format": "%d.%m.%y",
                                             "columns": {
        "booked": "Buchungsdatum", "value_date": "Belegdatum", "amount": "Buchungsbetrag",
        "currency": "Buchungswährung", "description": "Transaktionsbeschreibung",
        "bank_reference": "Buchungsreferenz"}},
    "b2y-de-sparkasse-20180226-umsatz.CSV": {**_DE, "date_format": "%d.%m.%y", "columns": {
        "booked": "Buchungstag", "value_date": "Valutadatum", "amount": "Betrag",
        "currency": "Waehrung", "counterparty": "Beguenstigter/Zahlungspflichtiger",
        "description": "Verwendungszweck"}},
    "b2y-hu-erste-W80844_EBH.csv": {"date_format": "%Y.%m.%d.", "columns": {
        "booked": "Tranzakció dátuma", "value_date": "Értéknap", "amount": "Tranzakció összege",
        "currency": "Tranzakció devizaneme", "counterparty": "Partner neve",
        "description": "Közlemény"}},
    "b2y-ie-boi-TransactionExport.csv": {"currency": "EUR", "date_format": "%d/%m/%Y", "columns": {
        "booked": "Date", "debit": "Debit", "credit": "Credit", "description": "Details"}},
    "b2y-nl-bunq-statement-2019.csv": {"decimal": ",", "currency": "EUR", "columns": {
        "booked": "Date", "amount": "Amount", "counterparty": "Name", "description": "Description"}},
    "b2y-nl-rabobank-CSV_A_20180414.csv": {"decimal": ",", "encoding": "cp1252", "columns": {
        "booked": "Datum", "value_date": "Rentedatum", "amount": "Bedrag", "currency": "Munt",
        "counterparty": "Naam tegenpartij", "description": "Omschrijving-1",
        "end_to_end_id": "Transactiereferentie"}},
    "b2y-uk-MS_JANE_SMITH-bom.csv": {"currency": "GBP", "thousands": ",", "date_format": "%d-%b-%Y",
                                     "credit_marks": ["CR"], "columns": {
        "booked": "Date Processed", "amount": "Amount", "sign": "", "description": "Description"}},
    "b2y-uk-monzo-export-2018-02.csv": {"date_format": "%Y-%m-%d %H:%M:%S %z", "columns": {
        "booked": "created", "amount": "amount", "currency": "currency",
        "description": "description", "bank_reference": "id"}},
    "banana-ch-csv_creditsuisse_example_format5_20240108.csv": {
        "currency": "CHF", "date_format": "%d.%m.%Y", "footer_prefixes": ["NUIUM DECUCI"],
        "columns": {"booked": "Valutadatum", "debit": "Belastung", "credit": "Gutschrift",
                    "description": "Text"}},
    "banana-ch-csv_postfinance_example_format1_20160407.csv": {
        **_CH, "encoding": "cp1252", "currency": "CHF", "date_format": "%d.%m.%Y",
        "header_contains": ["Buchungsdatum", "Gutschrift"], "columns": {
            "booked": "Buchungsdatum", "value_date": "Valuta", "debit": "Lastschrift",
            "credit": "Gutschrift", "description": "Avisierungstext"}},
    "banana-ch-csv_postfinance_example_format2_CreditCard_20241118-EN.csv": {
        **_CH, "currency": "CHF", "date_format": "%d.%m.%Y", "footer_prefixes": ["Disclaimer", "The document"],
        "columns": {"booked": "Booking date", "value_date": "Purchase date", "debit": "Debit in CHF",
                    "credit": "Credit in CHF", "description": "Booking details"}},
    "banana-ch-csv_postfinance_example_format6_20240228-EN.csv": {
        **_CH, "currency": "CHF", "date_format": "%d.%m.%Y",
        "footer_prefixes": ["Disclaimer", "Reniuvivit", "Cor eamilibo"],
        "columns": {"booked": "Date", "debit": "Debit in CHF", "credit": "Credit in CHF",
                    "description": "Notification text"}},
    "banana-ch-csv_swisscard_example_format2_en_20241015.csv": {
        "date_format": "%d.%m.%Y", "credit_marks": ["Credit"], "columns": {
            "booked": "Transaction date", "amount": "Amount", "currency": "Currency",
            "sign": "Debit/Credit", "counterparty": "Merchant", "description": "Description"}},
    "banana-ch-csv_ubs_example_format2_en_20220928.csv": {
        **_CH, "date_format": "%Y-%m-%d", "header_contains": ["Trade date", "Transaction amount"],
        "columns": {"booked": "Trade date", "value_date": "Value date", "amount": "Transaction amount",
                    "currency": "Currency", "description": ["Description1", "Description2"],
                    "bank_reference": "Transaction no."}},
    "banana-ch-csv_ubs_example_format3_it_wdetails_20241111.csv": {"continuation_rows": True,
        **_CH, "date_format": "%Y-%m-%d", "header_contains": ["Data dell'operazione", "Addebito"],
        "columns": {"booked": "Data di contabilizzazione", "value_date": "Data di valuta",
                    "debit": "Addebito", "credit": "Accredito", "currency": "Moneta",
                    "description": ["Descrizione1", "Descrizione2"],
                    "bank_reference": "N. di transazione"}},
    "banana-ch-csv_yuh_example_format1_20250218.csv": {
        "delimiter": ";", "currency": "CHF", "date_format": "%d/%m/%Y", "columns": {
            "booked": "DATE", "debit": "DEBIT", "credit": "CREDIT",
            "description": "ACTIVITY NAME"}},
    "banana-ch-csv_zkb_example_format3_20170130C.csv": {"continuation_rows": True,
        **_CH, "currency": "CHF", "date_format": "%d.%m.%Y", "columns": {
            "booked": "Datum", "value_date": "Valuta", "debit": "Belastung CHF",
            "credit": "Gutschrift CHF", "description": ["Buchungstext", "Zahlungszweck"],
            "bank_reference": "ZKB-Referenz"}},
    "banana-ch-neon_example.csv": {"delimiter": ";", "currency": "CHF", "columns": {
        "booked": "Date", "amount": "Amount", "description": "Description"}},
    "banana-ch-raiffeisen-csv_example_format5_20250326.csv": {"continuation_rows": True,
        "delimiter": ";", "currency": "CHF", "date_format": "%Y-%m-%d %H:%M:%S%.f", "columns": {
            "booked": "Booked At", "value_date": "Valuta Date", "amount": "Credit/Debit Amount",
            "description": "Text"}},
    "deg-abc_debit-records.csv": {"currency": "CNY", "ragged": True, "date_format": "%Y%m%d", "columns": {
        "booked": "交易日期", "amount": "交易金额", "counterparty": "对手信息",
        "description": ["交易摘要", "交易附言"], "bank_reference": "日 志 号"}},
    "deg-bmo-records.csv": {"currency": "CAD", "date_format": "%Y%m%d",
                            "header_contains": ["Date Posted", "Transaction Type"], "columns": {
        "booked": "Date Posted", "amount": "Transaction Amount", "description": "Description"}},
    "deg-boc-records.csv": {"currency": "CNY", "thousands": ",", "columns": {
        "booked": "记账日期", "amount": "金额", "counterparty": "对方账户名",
        "description": ["交易名称", "附言"]}},
    "deg-bocom_debit-records.csv": {"currency": "CNY", "debit_marks": ["借 Dr"], "columns": {
        "booked": "交易日期", "amount": "交易金额", "sign": "借贷", "counterparty": "对方户名",
        "description": ["交易类型", "摘要"]}},
    "deg-cmb-records.csv": {"thousands": ",", "columns": {
        "booked": "记账日期", "amount": "交易金额", "currency": "货币", "counterparty": "对手信息",
        "description": ["交易摘要", "客户摘要"]}},
    "deg-hsbchk-debit-records.csv": {"thousands": ",", "date_format": "%d/%m/%Y", "columns": {
        "booked": "Date", "amount": "Billing amount", "currency": "Billing currency",
        "description": "Description"}},
    "deg-icbc-debit-v2-records.csv": {
        "currency": "CNY", "thousands": ",", "null_values": ["-"], "footer_prefixes": ["人民币合计"],
        "columns": {"booked": "交易日期", "debit": "记账金额(支出)", "credit": "记账金额(收入)",
                    "counterparty": "对方户名", "description": ["摘要", "交易场所"]}},
}

# A team's mapping for these banks expects a header row; these exports have none.
CSV_MAPPINGS["b2y-at-raiffeisen-rcm-kta_ei.dat"] = {
    "delimiter": "|", "currency": "EUR", "date_format": "%Y%m%d",
    "columns": {"booked": "Buchungsdatum", "amount": "Betrag", "description": "Text"}}
CSV_MAPPINGS["deg-td-records.csv"] = {
    "currency": "CAD", "date_format": "%m/%d/%Y",
    "columns": {"booked": "Date", "debit": "Debit", "credit": "Credit", "description": "Description"}}

# Files no declared mapping can read: rejected, with the reason.
CSV_REJECTED: dict[str, tuple[type, str, str]] = {
    "b2y-at-raiffeisen-rcm-kta_ei.dat": (ParseError, "header row",
                                         "pipe-separated account extract without a header row"),
    "deg-td-records.csv": (ParseError, "header row", "TD export has no header row"),
}
