"""The statement formats recon reads: which module claims a file, and parsing it.

Every format module offers ``identify(data, name) -> bool`` and ``parse(data, *, name, source,
sha256, business_date, timezone) -> ParsedFile``. A file that no format, or more than one format,
claims is a ParseError: recon never guesses. A gzip file, or a zip of one file, around any format
is opened first (``schemas.archives.unwrap``, bounded) unless the format reads the archive itself.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import date
from types import ModuleType

from recon.errors import ParseError
from schemas import archives, camt053, stripe, wechatpay
from schemas import bai2, bankcsv, camt052, camt054, mt940, mt942  # bank formats (issue 3)
from schemas import (  # PSP formats (issue 3)
    adyen, alipay, alipay_account, alipay_personal, paypal, paypal_report, stripe_payments, unionpay,
    wechatpay_fundflow, wechatpay_personal,
)
from schemas import adyen_xlsx, coda, norma43, wechatpay_profitsharing  # issue 28, item 4
from schemas.validation import QUARANTINE_COLUMNS, ControlCheck, ParsedFile

__all__ = ["FORMATS", "QUARANTINE_COLUMNS", "ControlCheck", "ParsedFile", "identify", "parse"]

log = logging.getLogger(__name__)

FORMATS: dict[str, ModuleType] = {
    wechatpay.NAME: wechatpay,
    stripe.NAME: stripe,
    camt053.NAME: camt053,
    camt052.NAME: camt052,
    camt054.NAME: camt054,
    mt940.NAME: mt940,
    mt942.NAME: mt942,
    bai2.NAME: bai2,
    bankcsv.NAME: bankcsv,
    wechatpay_fundflow.NAME: wechatpay_fundflow,
    wechatpay_personal.NAME: wechatpay_personal,
    alipay.NAME: alipay,
    alipay_account.NAME: alipay_account,
    alipay_personal.NAME: alipay_personal,
    unionpay.NAME: unionpay,
    adyen.NAME: adyen,
    paypal.NAME: paypal,
    paypal_report.NAME: paypal_report,
    stripe_payments.NAME: stripe_payments,
    coda.NAME: coda,
    norma43.NAME: norma43,
    adyen_xlsx.NAME: adyen_xlsx,
    wechatpay_profitsharing.NAME: wechatpay_profitsharing,
}


def identify(data: bytes, name: str) -> str:
    claims = [fmt for fmt, module in FORMATS.items() if module.identify(data, name)]
    opened, inner, label = "", data, name
    if not claims and _compressed(data):
        try:
            inner, label = archives.unwrap(bytes(data[:len(data)]), name)
        except ParseError as exc:  # an xlsx is a zip too: say why it was not opened
            opened = f" (not opened as an archive: {exc.message.removeprefix(name + ': ')})"
        else:
            claims = [fmt for fmt, module in FORMATS.items() if module.identify(inner, label)]
    if len(claims) != 1:
        found = ("none" + opened) if not claims else " and ".join(claims)
        why = "" if claims else _closest(inner, label)
        raise ParseError(name, None, f"expected exactly one known format to claim the file "
                                     f"({', '.join(FORMATS)}); claimed by {found}{why}")
    return claims[0]


def _closest(data: bytes, name: str, shown: int = 3) -> str:
    """Why the formats that say why (an optional ``why_not(data, name) -> str`` in the module)
    declined the file, those with the shortest reasons (fewest names missing) first."""
    reasons = [r for m in FORMATS.values() if hasattr(m, "why_not") for r in [m.why_not(data, name)] if r]
    if not reasons:
        return ""
    reasons.sort(key=lambda r: (r.count(",") + r.count(" or "), len(r)))
    return "; closest: " + "; ".join(reasons[:shown])


def parse(fmt: str, data: bytes, *, name: str, source: str, sha256: str, business_date: date,
          timezone: str, options: dict | None = None, raw: bool = True) -> ParsedFile:
    """``options`` is the source's ``[sources.options]`` table, for formats that need one (the
    generic bank CSV's column mapping); a format that takes none is called without it.
    ``raw=False``: the caller needs no ``raw`` copy (a line stored with its span in the archive,
    recon.lineage): a format that can leave it out (``RAW_OPTIONAL``) does, the others keep it."""
    try:
        module = FORMATS[fmt]
    except KeyError:
        raise ParseError(name, None, f"expected a known format ({', '.join(FORMATS)}), "
                                     f"got {fmt!r}") from None
    data, name = _open(module, data, name)
    extra = _extra(module, options, raw)
    parsed = module.parse(data, name=name, source=source, sha256=sha256,
                          business_date=business_date, timezone=timezone, **extra)
    log.info("%s (%s): %d lines, %d loaded, %d quarantine rows, %d control totals balanced",
             name, fmt, parsed.line_count, parsed.frame.height, parsed.quarantine.height,
             len(parsed.checks))
    return parsed


def card_type_field(fmt: str) -> str | None:
    """The field a format's parser copies into the canonical ``card_type`` (None: it has none)."""
    module = FORMATS.get(fmt)
    return getattr(module, "CARD_TYPE_FIELD", None) if module else None


def reads_parts(fmt: str, options: dict | None = None) -> bool:
    """Whether ``parse_parts`` reads ``fmt`` a part at a time (and so takes a FileView)."""
    module = FORMATS.get(fmt)
    return hasattr(module, "parse_parts") and (not options or getattr(module, "TAKES_OPTIONS", False))


def parse_parts(fmt: str, data: bytes, *, name: str, source: str, sha256: str, business_date: date,
                timezone: str, options: dict | None = None,
                part_bytes: int | None = None, raw: bool = True) -> Iterator[ParsedFile]:
    """``parse`` a part at a time: the high-volume formats (``parse_parts`` in their module) yield
    consecutive parts of about ``part_bytes`` bytes of lines once the file's control totals hold;
    every other format yields its one ParsedFile. ``raw`` as for ``parse``."""
    module = FORMATS.get(fmt)
    if module is not None and _compressed(data):
        data, name = _open(module, data, name)
    if not reads_parts(fmt, options):
        yield parse(fmt, data, name=name, source=source, sha256=sha256, business_date=business_date,
                    timezone=timezone, options=options, raw=raw)
        return
    extra = _extra(module, options, raw)
    yield from module.parse_parts(data, name=name, source=source, sha256=sha256,
                                  business_date=business_date, timezone=timezone,
                                  part_bytes=part_bytes, **extra)


def _extra(module: ModuleType, options: dict | None, raw: bool) -> dict:
    """The optional keywords a format's parse is called with: its options if any, and raw=False
    where the caller needs no raw copy and the format can leave it out."""
    extra = {"options": options} if options else {}
    if not raw and getattr(module, "RAW_OPTIONAL", False):
        extra["raw"] = False
    return extra


def _compressed(data) -> bool:
    head = bytes(data[:4])
    return archives.is_gzip(head) or archives.is_zip(head)


def _open(module: ModuleType, data, name: str) -> tuple:
    """The file inside a gzip/zip wrapper, unless the format reads that archive itself."""
    if not _compressed(data) or module.identify(data, name):
        return data, name
    return archives.unwrap(bytes(data[:len(data)]), name)
