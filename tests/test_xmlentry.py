"""`recon trace` of an ISO 20022 line shows its <Ntry> only, whichever way the statement is laid
out (the line numbering of schemas/iso20022.py: the start tag's physical line, or the entry's
position when entries share a line)."""
from __future__ import annotations

from recon import xmlentry
from recon.audit import source_line

PRETTY = b"""<?xml version="1.0"?>
<Document><BkToCstmrStmt><Stmt><Id>S1</Id>
  <Ntry>
    <Amt Ccy="EUR">1.00</Amt>
  </Ntry>
  <Ntry>
    <Amt Ccy="EUR">2.00</Amt>
    <NtryDtls><TxDtls><Refs><EndToEndId>E2</EndToEndId></Refs></TxDtls></NtryDtls>
  </Ntry>
</Stmt></BkToCstmrStmt></Document>
"""
MINIFIED = (b'<?xml version="1.0"?><c:Document xmlns:c="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">'
            b'<c:Stmt><c:Bal>9</c:Bal><c:Ntry><c:Amt>1.00</c:Amt></c:Ntry>'
            b'<c:Ntry><c:Amt>2.00</c:Amt></c:Ntry><c:NtryDtls/></c:Stmt></c:Document>')


BATCH = b"""<Document><Stmt>
<Ntry><Amt Ccy="EUR">3.00</Amt><NtryDtls>
<TxDtls><Refs><EndToEndId>B1</EndToEndId></Refs><Amt Ccy="EUR">1.00</Amt></TxDtls>
<TxDtls><Refs><EndToEndId>B2</EndToEndId></Refs><Amt Ccy="EUR">2.00</Amt></TxDtls>
</NtryDtls></Ntry>
<Ntry><Amt Ccy="EUR">5.00</Amt><NtryDtls>
<TxDtls><Refs><EndToEndId>C1</EndToEndId></Refs><AmtDtls><InstdAmt><Amt Ccy="USD">6</Amt></InstdAmt></AmtDtls></TxDtls>
<TxDtls><Refs><EndToEndId>C2</EndToEndId></Refs></TxDtls>
</NtryDtls></Ntry>
</Stmt></Document>
"""


class Stub:
    def __init__(self, data: bytes):
        self.data = data

    def open(self, sha: str) -> bytes:
        return self.data


def test_pretty_statement_entry_by_physical_line() -> None:
    assert xmlentry.entry(PRETTY, 3) == b'<Ntry>\n    <Amt Ccy="EUR">1.00</Amt>\n  </Ntry>'
    second = source_line(Stub(PRETTY), "x", 6)
    assert second.startswith("<Ntry>") and second.endswith("</Ntry>") and "E2" in second
    assert "1.00" not in second and "<Stmt>" not in second


def test_minified_statement_entry_by_position() -> None:
    assert xmlentry.entry(MINIFIED, 2) == b"<c:Ntry><c:Amt>2.00</c:Amt></c:Ntry>"
    assert source_line(Stub(MINIFIED), "x", 1) == "<c:Ntry><c:Amt>1.00</c:Amt></c:Ntry>"
    assert xmlentry.entry(MINIFIED, 3) is None  # no third entry: the line itself is shown


def test_a_csv_line_is_still_its_physical_line() -> None:
    assert source_line(Stub(b"a,b\n1,2\n3,4\n"), "x", 3) == "3,4"


def test_trace_text_says_who_loaded_a_corrected_ledger_entry() -> None:
    from recon.audit import format_trace
    brk = {"break_id": "b1", "category": "amount_mismatch", "status": "open", "source": "stripe",
           "reference": "ORD1", "run_id": "r", "business_date": "2026-11-21", "first_seen": None,
           "rule": "reference_mismatch", "ledger_amount_minor": 100, "statement_amount_minor": 90,
           "difference_minor": -10, "currency": "USD", "detail": ""}
    entry = {"entry_id": "LE1", "recorded_at": "2026-11-22 09:00", "txn_type": "payment",
             "amount_minor": 90, "currency": "USD", "merchant_reference": "ORD1", "file_name": "fix.csv",
             "file_line": 2, "raw_bytes": "LE1,...", "loaded_by": "ana", "load_reason": "keyed wrong"}
    text = format_trace({"break": brk, "evidence": [], "ledger_entries": [entry],
                         "statement_lines": [], "annotations": []})
    assert "    loaded by ana: keyed wrong" in text


def test_a_batch_entry_split_per_transaction_traces_to_its_txdtls() -> None:
    """A batch entry whose TxDtls carry amounts is one line per TxDtls (schemas.camt_details);
    one whose TxDtls carry none (an instructed amount is not theirs) stays one line, its Ntry."""
    assert xmlentry.entry(BATCH, 4) == b'<TxDtls><Refs><EndToEndId>B2</EndToEndId></Refs><Amt Ccy="EUR">2.00</Amt></TxDtls>'
    assert xmlentry.entry(BATCH, 6).startswith(b"<Ntry><Amt Ccy=\"EUR\">5.00") and b"C2" in xmlentry.entry(BATCH, 6)
    assert xmlentry.entry(BATCH, 2) is None  # the split entry's own line is no canonical line
    flat = BATCH.replace(b"\n", b"")  # minified: by position, B1, B2, then the C entry
    assert [xmlentry.entry(flat, n)[:30] for n in (1, 2, 3)] == [
        b"<TxDtls><Refs><EndToEndId>B1</", b"<TxDtls><Refs><EndToEndId>B2</", b'<Ntry><Amt Ccy="EUR">5.00</Amt']
