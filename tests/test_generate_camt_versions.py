"""The camt.053 generator writes every published version (.001.02 to .001.13) as its schema has it,
and recon reads each to the same lines: amounts, references, parties, dates, control totals."""
from __future__ import annotations

import hashlib
from datetime import date

import pytest

from recon.generate import camt053
from schemas import registry

DAY = date(2026, 11, 22)
STATEMENTS = [
    camt053.Statement("CNY", 1_000_00, (
        camt053.Entry("R1", 15_550_21, "WX1900000109-20261121", "Tenpay Payment Technology Co., Ltd.",
                      "TENPAY SETTLEMENT", "DMCT"),)),
    camt053.Statement("USD", 50_00, (  # two credits of a day: one batch entry, a TxDtls each
        camt053.Entry("R2", 1_200_00, "po_1", "STRIPE PAYMENTS UK LTD", "STRIPE PAYOUT po_1", "XBCT"),
        camt053.Entry("R3", -25_50, "SUP-7", "ACME SUPPLIES", "invoice 7", "XBCT"))),
]


def _lines(version: int):
    data = camt053.render(DAY, STATEMENTS, version).encode("utf-8")
    assert registry.identify(data, "camt053.xml") == "camt053"
    parsed = registry.parse("camt053", data, name="camt053.xml", source="bank",
                            sha256=hashlib.sha256(data).hexdigest(), business_date=DAY,
                            timezone="Asia/Shanghai")
    assert parsed.quarantine.height == 0 and all(c.ok for c in parsed.checks)
    return data, parsed.frame.select("amount_minor", "currency", "end_to_end_id", "counterparty",
                                     "description", "value_date").sort("end_to_end_id").rows()


@pytest.mark.parametrize("version", camt053.VERSIONS)
def test_every_version_reads_to_the_same_lines(version):
    data, lines = _lines(version)
    assert f"camt.053.001.{version:02d}".encode() in data
    assert (b"<Pty><Nm>" in data) == (version >= 8)  # Party40Choice from .08 on
    assert (b"<TtlNetNtryAmt>" in data) == (version < 3)  # TotalTransactions2 of .02
    assert lines == [  # by end-to-end id
        (-2_550, "USD", "SUP-7", "ACME SUPPLIES", "invoice 7", DAY),
        (1_555_021, "CNY", "WX1900000109-20261121", "Tenpay Payment Technology Co., Ltd.", "TENPAY SETTLEMENT",
         DAY),
        (120_000, "USD", "po_1", "STRIPE PAYMENTS UK LTD", "STRIPE PAYOUT po_1", DAY),
    ]


def test_an_unpublished_version_is_refused():
    with pytest.raises(ValueError, match="camt.053 version 14"):
        camt053.render(DAY, STATEMENTS, 14)
