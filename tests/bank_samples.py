"""Small, balanced bank files in each format, built in code for the unit and property tests."""
from __future__ import annotations

MT940 = (
    "\x01{1:F01DEUTDEFFAXXX0000000000}{2:O9400000DEUTDEFFXXXX}{4:\r\n"
    ":20:STMT0001\r\n:25:DE89370400440532013000\r\n:28C:00041/001\r\n"
    ":60F:C251231EUR1000,00\r\n"
    ":61:2601021231D250,50NTRFKREF-4711//BANKREF1\r\n"
    ":86:166?00SEPA-UEBERWEISUNG?20EREF+E2E-123?21KREF+ORD-4711?22SVWZ+Rechnung 2025-12?23 Nr. 9\r\n"
    "?30COBADEFFXXX?31DE44500105175407324931?32Muster GmbH?33Berlin\r\n"
    ":61:260102C1234,56NTRFNONREF//BANKREF2\r\n"
    ":86:/TRTP/SEPA OVERBOEKING/IBAN/NL91ABNA0417164300/NAME/Acme B.V./REMI/Invoice 77/EREF/NL-E2E-9\r\n"
    ":62F:C260102EUR1984,06\r\n-}\x03\x1a")

MT942 = (
    ":20:INTRA1\n:25:DE89370400440532013000\n:28C:7/1\n:34F:EURD0,00\n:34F:EURC0,00\n"
    ":13D:2601021200+0100\n"
    ":61:260102D10,00NTRFNONREF//B1\n:86:fee\n"
    ":61:260102C15,25NTRFNONREF//B2\n:86:credit\n"
    ":90D:1EUR10,00\n:90C:1EUR15,25\n-")

BAI2 = (
    "01,SENDER,RECEIVER,260102,0800,1,80,1,2/\n"
    "02,RECEIVER,BANK,1,260102,2400,USD,2/\n"
    "03,123456789,USD,010,100000,,,015,112345,,/\n"
    "16,165,12345,V,260103,,BREF1,CREF1,ACH CREDIT, ACME CORP/\n"
    "88,INVOICE 42, PAID/\n"
    "16,475,0,0,BREF2,CREF2,/\n"
    "49,224690,5/\n"
    "98,224690,1,7/\n"
    "99,224690,1,9/\n")

CAMT054 = """<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.054.001.08">
<BkToCstmrDbtCdtNtfctn><GrpHdr><MsgId>M1</MsgId><CreDtTm>2026-01-02T10:00:00</CreDtTm></GrpHdr>
<Ntfctn><Id>N1</Id><CreDtTm>2026-01-02T10:00:00</CreDtTm><CpyDplctInd>DUPL</CpyDplctInd>
<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
<TxsSummry><TtlNtries><NbOfNtries>1</NbOfNtries><Sum>12.30</Sum></TtlNtries></TxsSummry>
<Ntry><Amt Ccy="EUR">12.30</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
<BookgDt><Dt>2026-01-02</Dt></BookgDt><ValDt><Dt>2026-01-02</Dt></ValDt><AcctSvcrRef>R1</AcctSvcrRef>
<NtryDtls><TxDtls><Refs><EndToEndId>E2E-1</EndToEndId></Refs>
<RltdPties><Dbtr><Pty><Nm>Payer Ltd</Nm></Pty></Dbtr></RltdPties><RmtInf><Ustrd>INV 1</Ustrd></RmtInf>
</TxDtls></NtryDtls></Ntry></Ntfctn></BkToCstmrDbtCdtNtfctn></Document>"""


def camt052(pages: tuple[int, ...] = (1, 2)) -> str:
    reports = "".join(f"""<Rpt><Id>R{p}</Id><ElctrncSeqNb>9</ElctrncSeqNb>
<RptPgntn><PgNb>{p}</PgNb><LastPgInd>{str(p == max(pages)).lower()}</LastPgInd></RptPgntn>
<Acct><Id><IBAN>DE89370400440532013000</IBAN></Id></Acct>
<Ntry><Amt Ccy="EUR">{p}.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts><Cd>PDNG</Cd></Sts>
<ValDt><Dt>2026-01-02</Dt></ValDt></Ntry></Rpt>""" for p in pages)
    return f"""<?xml version="1.0"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.08"><BkToCstmrAcctRpt>
<GrpHdr><MsgId>M</MsgId><CreDtTm>2026-01-02T10:00:00</CreDtTm></GrpHdr>{reports}
</BkToCstmrAcctRpt></Document>"""


BANKCSV = ("Umsatzanzeige;Konto 123\n\nBuchungstag;Valuta;Auftraggeber/Empfänger;Verwendungszweck;"
           "Soll;Haben;Währung\n"
           "02.01.2026;03.01.2026;Müller GmbH;Rechnung 1;1.234,56;;EUR\n"
           "02.01.2026;02.01.2026;Acme;Gutschrift;;99,90;EUR\n"
           "Kontostand;02.01.2026;;;;;\n")
BANKCSV_OPTIONS = {
    "encoding": "cp1252", "delimiter": ";", "decimal": ",", "thousands": ".",
    "date_format": "%d.%m.%Y", "header_contains": ["Buchungstag", "Soll"],
    "footer_prefixes": ["Kontostand"],
    "columns": {"booked": "Buchungstag", "value_date": "Valuta", "debit": "Soll", "credit": "Haben",
                "currency": "Währung", "counterparty": "Auftraggeber/Empfänger",
                "description": "Verwendungszweck"}}
