"""ISO 20022 bank-to-customer cash management (camt.052, camt.053, camt.054) → canonical lines.

The three messages share their entry (``Ntry``) and balance structure; they differ in the body and
record element (``BkToCstmrStmt/Stmt``, ``BkToCstmrAcctRpt/Rpt``, ``BkToCstmrDbtCdtNtfctn/Ntfctn``)
and in what a record carries (a notification has no balances). Elements are read by local name, so
versions .001.01/.02 to .001.13 (the tags recon reads did not change) parse alike. One canonical
line per ``Ntry``, or per ``TxDtls`` of a batch entry (``schemas.camt_details``). ``file_line`` is
the physical line of the ``<Ntry>`` (or ``<TxDtls>``) start tag as expat reports it; in a file
where two lines start on one physical line (minified XML) it is the line's 1-based position in the
file instead, so ``line_id`` stays unique. A record repeated in one file (same Id, ElctrncSeqNb and
page) is refused: loading it twice would double every line while every control total still held.

XML is parsed with defusedxml: a DOCTYPE, entity declaration or external reference is refused.
"""
from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from xml.etree.ElementTree import Element, ParseError as XMLSyntaxError, TreeBuilder
from zoneinfo import ZoneInfo

import polars as pl
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from recon.errors import ParseError
from recon.money import exponent_expr, minor_expr
from schemas import camt_details, quirks
from schemas.camt_checks import control_checks, pagination_checks
from schemas.validation import ParsedFile, finish

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Message:
    """One camt message type: its number, body and record elements and accepted versions."""

    number: str  # "053"
    body: str  # BkToCstmrStmt (a V01 suffix, as in camt.052.001.01, is accepted)
    record: str  # Stmt
    pagination: str  # StmtPgntn
    versions: range

    @property
    def namespace(self) -> re.Pattern:
        return re.compile(rf"^urn:iso:std:iso:20022:tech:xsd:camt\.{self.number}\.001\.(\d{{2}})$")

    def sniff(self, data: bytes) -> bool:
        pattern = rb"""xmlns(?::\w+)?\s*=\s*["']urn:iso:std:iso:20022:tech:xsd:camt\.""" + \
            self.number.encode() + rb"""\.001\.\d{2}["']"""
        return re.search(pattern, data[:4096]) is not None

    # The format-module entry points (schemas/camt05x.py bind these; one implementation for all).
    def identify(self, data: bytes, name: str) -> bool:
        return self.sniff(data)

    def read_statements(self, data: bytes, file: str) -> list["Statement"]:
        return read_statements(self, data, file)

    def parse(self, data: bytes, *, name: str, source: str, sha256: str, business_date: date,
              timezone: str) -> "ParsedFile":
        return parse_message(self, data, name=name, source=source, sha256=sha256,
                             business_date=business_date, timezone=timezone)


CAMT052 = Message("052", "BkToCstmrAcctRpt", "Rpt", "RptPgntn", range(1, 14))
CAMT053 = Message("053", "BkToCstmrStmt", "Stmt", "StmtPgntn", range(2, 14))
CAMT054 = Message("054", "BkToCstmrDbtCdtNtfctn", "Ntfctn", "NtfctnPgntn", range(2, 14))


@dataclass
class Statement:
    id: str | None
    line: int
    balances: dict[str, dict] = field(default_factory=dict)  # code → {amount, ccy, ind, date}
    summary: dict[str, dict] = field(default_factory=dict)  # TtlNtries/TtlCdtNtries/TtlDbtNtries
    entries: list[dict] = field(default_factory=list)
    account: str | None = None
    sequence: str | None = None  # ElctrncSeqNb
    page: str | None = None  # record pagination PgNb (StmtPgntn/RptPgntn/NtfctnPgntn)
    last_page: str | None = None  # LastPgInd
    copy: str | None = None  # CpyDplctInd: CODU copy, DUPL duplicate, COPY
    kind: str = "Stmt"  # the record element, for messages
    created: str | None = None  # CreDtTm of the record
    period_from: str | None = None  # FrToDt/FrDtTm of the record


def parse_message(message: Message, data: bytes, *, name: str, source: str, sha256: str,
                  business_date: date, timezone: str) -> ParsedFile:
    statements = read_statements(message, data, name)
    checks = [c for s in statements for c in control_checks(s)] + pagination_checks(statements)
    frame, originals = to_frame(statements, sha256=sha256, source=source,
                                business_date=business_date, timezone=timezone)
    return finish(frame, checks, file_name=name, source=source, originals=originals)


# --- reading -------------------------------------------------------------------------------------

_COUNTED_BARE = frozenset({"Ntry", "TxDtls", "Stmt", "Rpt", "Ntfctn"})
_COUNTED = tuple("}" + t for t in _COUNTED_BARE)  # str.endswith: no Python call per start tag


class _LineTreeBuilder(TreeBuilder):
    """Records the physical line of every record, ``Ntry`` and ``TxDtls`` start tag (expat's)."""

    def __init__(self) -> None:
        super().__init__()
        self.expat = None
        self.lines: dict[Element, int] = {}

    def start(self, tag, attrs):
        elem = super().start(tag, attrs)
        if tag.endswith(_COUNTED) or tag in _COUNTED_BARE:
            self.lines[elem] = self.expat.CurrentLineNumber
        return elem


def _load(message: Message, data: bytes, file: str) -> tuple[Element, dict[Element, int]]:
    builder = _LineTreeBuilder()
    parser = DefusedXMLParser(target=builder, forbid_dtd=True, forbid_entities=True,
                              forbid_external=True)
    builder.expat = parser.parser
    try:
        parser.feed(data)
        root = parser.close()
    except DefusedXmlException as exc:
        raise ParseError(file, None, f"expected XML without DOCTYPE, entities or external "
                                     f"references (refused: {exc!r})") from exc
    except XMLSyntaxError as exc:
        raise ParseError(file, exc.position[0], f"expected well-formed XML ({exc})") from exc
    except LookupError as exc:  # expat asks Python for the declaration's encoding by name
        raise ParseError(file, 1, f"expected an XML declaration naming a known encoding such as "
                                  f"UTF-8 ({exc}); the file may be damaged: ask the bank to "
                                  f"send it again") from exc
    ns, _, local = root.tag[1:].partition("}") if root.tag.startswith("{") else ("", "", root.tag)
    version = message.namespace.match(ns)
    if local != "Document" or not version or int(version.group(1)) not in message.versions:
        v = message.versions
        raise ParseError(file, 1, f"expected a camt.{message.number} Document in the namespace "
                                  f"urn:iso:std:iso:20022:tech:xsd:camt.{message.number}.001."
                                  f"{v.start:02d} to .{v.stop - 1:02d}, found "
                                  f"<{local}> in {ns or 'no namespace'!r}")
    return root, builder.lines


_LOCALS: dict[str, str] = {}  # namespaced tag → local name (a file repeats a few dozen tags)


def _local(el: Element) -> str:
    tag = el.tag
    name = _LOCALS.get(tag)
    if name is None:
        name = _LOCALS[tag] = tag.rpartition("}")[2]
    return name


def _kids(el: Element | None) -> dict[str, Element]:
    """Children by local name, the first of each name (one pass instead of a scan per lookup)."""
    out: dict[str, Element] = {}
    if el is not None:
        for c in el:
            out.setdefault(_local(c), c)
    return out


def _value(el: Element | None) -> str | None:
    if el is None or el.text is None:
        return None
    return el.text.strip() or None


def _find(el: Element | None, *path: str) -> Element | None:
    for name in path:
        if el is None:
            return None
        el = next((c for c in el if _local(c) == name), None)
    return el


def _all(el: Element | None, name: str) -> list[Element]:
    return [] if el is None else [c for c in el if _local(c) == name]


def _text(el: Element | None, *path: str) -> str | None:
    found = _find(el, *path)
    if found is None or found.text is None:
        return None
    return found.text.strip() or None


def _date_text(el: Element | None) -> str | None:
    """``Dt`` or ``DtTm`` inside a date choice element."""
    return _text(el, "Dt") or _text(el, "DtTm")


def _party(el: Element | None, role: str) -> str | None:
    return _text(el, role, "Nm") or _text(el, role, "Pty", "Nm")  # Pty from .001.08 on


def read_statements(message: Message, data: bytes, file: str) -> list[Statement]:
    """Every record with its balances, summary and entries as text; no control totals checked."""
    root, lines = _load(message, data, file)
    body = next((c for c in root if re.fullmatch(message.body + r"(V\d\d)?", _local(c))), None)
    stmts = _all(body, message.record)
    if not stmts:
        raise ParseError(file, None, f"expected {message.body} with at least one {message.record}")
    out = []
    for stmt in stmts:
        s = Statement(id=_text(stmt, "Id"), line=lines.get(stmt, 0), sequence=_text(stmt, "ElctrncSeqNb"),
                      page=_text(stmt, message.pagination, "PgNb"),
                      last_page=_text(stmt, message.pagination, "LastPgInd"),
                      copy=_text(stmt, "CpyDplctInd"), kind=message.record,
                      created=_text(stmt, "CreDtTm"),
                      period_from=_text(stmt, "FrToDt", "FrDtTm"))
        for bal in _all(stmt, "Bal"):
            code = _text(bal, "Tp", "CdOrPrtry", "Cd") or _text(bal, "Tp", "CdOrPrtry", "Prtry")
            amt = _find(bal, "Amt")
            s.balances.setdefault(code, {
                "amount": _text(bal, "Amt"), "ccy": None if amt is None else amt.get("Ccy"),
                "ind": _text(bal, "CdtDbtInd"), "date": _date_text(_find(bal, "Dt"))})
        totals = _find(stmt, "TxsSummry")
        for kind in ("TtlNtries", "TtlCdtNtries", "TtlDbtNtries"):
            t = _find(totals, kind)
            if t is not None:
                s.summary[kind] = {
                    "count": _text(t, "NbOfNtries"), "sum": _text(t, "Sum"),
                    "net": _text(t, "TtlNetNtry", "Amt") or _text(t, "TtlNetNtryAmt"),
                    "net_ind": _text(t, "TtlNetNtry", "CdtDbtInd") or _text(t, "CdtDbtInd")}
        s.account = acct = (_text(stmt, "Acct", "Id", "IBAN") or _text(stmt, "Acct", "Id", "Othr", "Id")
                            or _text(stmt, "Acct", "Id", "PrtryAcct", "Id"))
        s.entries = [_entry(n, lines, s, acct) for n in _all(stmt, "Ntry")]
        out.append(s)
    _refuse_repeats(out, file)
    _number_entries([e for s in out for e in s.entries], file)
    return out


def _refuse_repeats(records: list[Statement], file: str) -> None:
    """The same record twice in one file (same account, Id, ElctrncSeqNb and page) is refused."""
    seen: dict[tuple, Statement] = {}
    for s in records:
        if s.id is None:
            continue
        key = (s.account, s.id, s.sequence, s.page)
        if key in seen:
            first = seen[key]
            raise ParseError(file, s.line or None, (
                f"{s.kind} Id {s.id!r} (ElctrncSeqNb {s.sequence or '(none)'}"
                f"{', page ' + s.page if s.page else ''}) appears twice in the file, first at line "
                f"{first.line}, again at line {s.line}: expected each {s.kind} once (loading both "
                f"would count every entry twice); ask the bank whether the file was assembled twice "
                f"and for a corrected file"))
        seen[key] = s


def _entry(ntry: Element, lines: dict[Element, int], record: Statement,
           account: str | None) -> dict:
    k = _kids(ntry)
    txs = [tx for dtls in _all(ntry, "NtryDtls") for tx in _all(dtls, "TxDtls")]
    amt, sts, code = k.get("Amt"), k.get("Sts"), k.get("BkTxCd")
    domain = _find(code, "Domn")
    fields = {
        "Stmt/Id": record.id, "Acct": account, "ElctrncSeqNb": record.sequence,
        "PgNb": record.page, "LastPgInd": record.last_page, "CpyDplctInd": record.copy,
        "CreDtTm": record.created, "NtryRef": _value(k.get("NtryRef")),
        "Amt": _value(amt), "Amt@Ccy": None if amt is None else amt.get("Ccy"),
        "CdtDbtInd": _value(k.get("CdtDbtInd")), "RvslInd": _value(k.get("RvslInd")),
        "Sts": _text(sts, "Cd") or _value(sts),
        "BookgDt": _date_text(k.get("BookgDt")), "ValDt": _date_text(k.get("ValDt")),
        "AcctSvcrRef": _value(k.get("AcctSvcrRef")),
        "BkTxCd": "/".join(filter(None, [
            _text(domain, "Cd"), _text(domain, "Fmly", "Cd"), _text(domain, "Fmly", "SubFmlyCd"),
            _text(code, "Prtry", "Cd")])) or None,
        "TxDtls": len(txs), "PmtInfId": _text(k.get("NtryDtls"), "Btch", "PmtInfId"),
        "AddtlNtryInf": _value(k.get("AddtlNtryInf")),
        "FrDtTm": record.period_from,
    }
    return {"file_line": lines.get(ntry, 0), "fields": fields,
            "details": [camt_details.details(tx, _kids, _value, _party) for tx in txs],
            "detail_lines": [lines.get(tx, 0) for tx in txs]}


def _number_entries(entries: list[dict], file: str) -> None:
    """Each canonical line's file_line: its start tag's line, or its position if lines collide."""
    lines = [n for e in entries for n in (e["detail_lines"] if camt_details.is_split(e)
                                          else [e["file_line"]])]
    if len(set(lines)) != len(lines) or 0 in lines:
        log.warning("%s: entries share physical lines (minified XML); file_line is the line's "
                    "position instead", file)
        position = 0
        for e in entries:
            if camt_details.is_split(e):
                e["detail_lines"] = list(range(position + 1, position + 1 + len(e["details"])))
                position += len(e["details"])
            else:
                position += 1
                e["file_line"] = position


# --- canonical frame -----------------------------------------------------------------------------

_ZONED_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(Z|[+-]\d{2}:\d{2})$")


def _booked_at(text: str | None, tz: ZoneInfo) -> datetime | None:
    """BookgDt: a date is midnight in the source's timezone; a date-time keeps its own offset."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), time(), tz).astimezone(UTC)
        if _ZONED_DATE.match(text):  # xs:date with a zone (2026-03-02+01:00, 2026-03-02Z)
            return datetime.fromisoformat(f"{text[:10]}T00:00:00{text[10:]}").astimezone(UTC)
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=tz)).astimezone(UTC)


def _value_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


_TEXT = {"amount": pl.String, "ccy": pl.String, "bookg_dt": pl.String, "instd": pl.String,
         "instd_ccy": pl.String}


def to_frame(statements: list[Statement], *, sha256: str, source: str, business_date: date,
               timezone: str) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(canonical lines before validation, original texts per field) of already-read statements."""
    tz = ZoneInfo(timezone)
    rows = []
    for line, f in (x for s in statements for e in s.entries for x in camt_details.lines(e)):
        # BookgDt is optional (pending entries, notifications, some banks' booked entries): then
        # the value date, then the start of the record's period, then its creation time; raw
        # keeps which one the file had.
        when = f["BookgDt"] or f["ValDt"] or f["FrDtTm"] or f["CreDtTm"]
        credit = f["CdtDbtInd"] == "CRDT"
        rows.append({
            "file_line": line, "booked_at": _booked_at(when, tz),
            "value_date": _value_date(f["ValDt"]), "amount": f["Amt"], "ccy": f["Amt@Ccy"],
            "bookg_dt": when,
            "sign": {"CRDT": 1, "DBIT": -1}.get(f["CdtDbtInd"]),
            "instd": f.get("InstdAmt"), "instd_ccy": f.get("InstdAmt@Ccy"),
            "fx_rate": f.get("XchgRate"),
            "end_to_end_id": None if f.get("EndToEndId") == "NOTPROVIDED" else f.get("EndToEndId"),
            "bank_reference": f["AcctSvcrRef"],
            "counterparty": f.get("Dbtr") if credit else f.get("Cdtr"),
            # a structured creditor reference (RmtInf/Strd, RF…) is the remittance when no Ustrd
            "description": f.get("Ustrd") or f.get("CdtrRef") or f["AddtlNtryInf"], "status": f["Sts"],
            "raw": json.dumps(f, ensure_ascii=False, sort_keys=True),
        })
    schema = {"file_line": pl.Int64, "booked_at": pl.Datetime("us", "UTC"), "value_date": pl.Date,
              **_TEXT, "sign": pl.Int64, "fx_rate": pl.String, "end_to_end_id": pl.String,
              "bank_reference": pl.String, "counterparty": pl.String, "description": pl.String,
              "status": pl.String, "raw": pl.String}
    entries = pl.DataFrame(rows, schema=schema)
    ccy = pl.col("ccy").str.strip_chars().str.to_uppercase()
    instd_ccy = pl.col("instd_ccy").str.strip_chars().str.to_uppercase()
    frame = entries.select(
        quirks.line_id(sha256), pl.lit(source).alias("source"), pl.lit(sha256).alias("file_sha256"),
        "file_line", pl.lit(business_date).alias("business_date"), "booked_at", "value_date",
        pl.lit("transfer").alias("txn_type"),
        (minor_expr(_trim_zeros(pl.col("amount")), exponent_expr(ccy)) * pl.col("sign"))
          .alias("amount_minor"),
        ccy.alias("currency"),
        minor_expr(_trim_zeros(pl.col("instd")), exponent_expr(instd_ccy)).alias("orig_amount_minor"),
        instd_ccy.alias("orig_currency"), "fx_rate", "end_to_end_id", "bank_reference",
        "counterparty", "description", "status", "raw",
    )
    originals = entries.select("file_line", pl.col("amount").alias("amount_minor"),
                               pl.col("ccy").alias("currency"), pl.col("bookg_dt").alias("booked_at"),
                               pl.col("instd").alias("orig_amount_minor"),
                               pl.col("instd_ccy").alias("orig_currency"))
    return frame, originals


def _trim_zeros(text: pl.Expr) -> pl.Expr:
    """Banks pad amounts (``5442.09000``): drop trailing fraction zeros before the exact conversion."""
    return text.str.strip_chars().str.replace(r"(\.\d*?)0+$", "${1}")
