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
