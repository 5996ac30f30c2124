"""The ``real`` scenario's ledger: the company's own export (``buchungen_YYYYMMDD.csv``), a German
accounting journal read through a ``[ledger]`` mapping (recon.eval_real writes it).

Two preamble lines, then the header (header_row = 3); ``;`` between fields, CRLF; date
``%d.%m.%Y`` and time ``%H:%M:%S`` in two columns, local time (Asia/Shanghai); amounts positive
with ``1.234,56`` separators and an S/H column (S money in, H money out); the company's own type
words; a status column (failed and pending attempts the PSPs never report); the receiver of a
分账 allocation in its own column. Refunds carry only the original order id, never the PSP's
refund id; payouts are the settlement the company expects from each PSP (Stripe's with its
payout id, WeChat's with none).
"""
from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from pathlib import Path

HEADER = ("Belegnr", "Buchungsdatum", "Uhrzeit", "Kanal", "Vorgang", "Auftragsnr", "Zahlungsref", "Bezug",
          "Betrag", "S/H", "Währung", "Status", "Gegenpartei", "Empfänger", "Verwendungszweck")
TYPES = {"payment": "Zahlungseingang", "refund": "Erstattung", "payout": "Auszahlung",
         "bank_charge": "Bankgebühr", "transfer": "Überweisung", "salary": "Gehalt",
         "allocation": "Aufteilung", "allocation_return": "Aufteilung Rückgabe"}
CHANNELS = {"wechatpay": "WeChatPay", "stripe": "Stripe", "bank": "Hausbank"}
MONEY_IN, MONEY_OUT = "S", "H"
# How the export is read: the [ledger] mapping (recon.eval_real adds the keys of its features).
COLUMNS = {"entry_id": "Belegnr", "booked_at": ["Buchungsdatum", "Uhrzeit"], "channel": "Kanal",
           "txn_type": "Vorgang", "merchant_reference": "Auftragsnr", "psp_reference": "Zahlungsref",
           "original_reference": "Bezug", "amount": "Betrag", "direction": "S/H", "currency": "Währung",
           "status": "Status", "counterparty": "Gegenpartei", "description": "Verwendungszweck"}


@dataclass(frozen=True)
class Booking:
    sec: int                 # seconds after local midnight of the day
    channel: str             # a key of CHANNELS
    kind: str                # a key of TYPES
    amount_minor: int        # signed from the channel's point of view (+ in, - out)
    currency: str
    reference: str = ""      # Auftragsnr
    psp_reference: str = ""  # Zahlungsref
    original: str = ""       # Bezug
    status: str = "SUCCESS"
    counterparty: str = ""
    receiver: str = ""
    description: str = ""


def german_amount(minor: int) -> str:
    """|minor| in major units as the export writes it: ``1.234,56``."""
    whole, cents = divmod(abs(minor), 100)
    return f"{whole:,}".replace(",", ".") + f",{cents:02d}"


def write(path: Path, day: date, bookings: list[Booking]) -> int:
    """Write the day's journal in booking order; returns the number of entries."""
    out = io.StringIO()
    w = csv.writer(out, delimiter=";", lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    blank = [""] * (len(HEADER) - 1)
    w.writerow(["Buchungsjournal Export Mandant 1000", *blank])
    w.writerow([f"Zeitraum: {day:%d.%m.%Y} bis {day:%d.%m.%Y}", *blank])
    w.writerow(HEADER)
    ordered = sorted(bookings, key=lambda b: b.sec)
    for n, b in enumerate(ordered, 1):
        hh, mm, ss = b.sec // 3600, b.sec % 3600 // 60, b.sec % 60
        w.writerow([f"B{day:%Y%m%d}-{n:05d}", f"{day:%d.%m.%Y}", f"{hh:02d}:{mm:02d}:{ss:02d}",
                    CHANNELS[b.channel], TYPES[b.kind], b.reference, b.psp_reference, b.original,
                    german_amount(b.amount_minor), MONEY_IN if b.amount_minor >= 0 else MONEY_OUT,
                    b.currency, b.status, b.counterparty, b.receiver, b.description])
    path.write_bytes(out.getvalue().encode("utf-8"))
    return len(ordered)
