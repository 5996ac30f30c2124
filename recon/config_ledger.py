"""The ``[ledger]`` table: where the export is dropped, and the mapping of its layout.

Without mapping keys the export is in recon's own layout (docs/formats.md). With them, the
mapping (schemas.ledger_layout.LedgerLayout) is checked here, at load, against the rest of the
config: every canonical field known, the required ones named, every type and channel target one
recon knows, sign settings consistent. A header the file lacks is found when the file is read.
"""
from __future__ import annotations

import codecs
from dataclasses import dataclass, field, replace
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from connectors.settle import DEFAULT_SETTLE_S
from schemas.ledger_layout import DEFAULT, FIELDS, LEDGER_TYPES, SIGNS, LedgerLayout

PLACE_KEYS = {"directory", "pattern", "settle_s", "done_marker"}  # where, and when a file is complete
MAPPING_KEYS = {"columns", "delimiter", "encoding", "header_row", "footer_rows", "date_format", "datetime_format",
                "timezone", "decimal_separator", "thousands_separator", "sign", "money_in", "money_out",
                "types", "channels", "default_source", "unmatched_statuses"}


@dataclass(frozen=True)
class LedgerConfig:
    directory: Path
    pattern: str
    layout: LedgerLayout = field(default=DEFAULT)
    settle_s: float = DEFAULT_SETTLE_S  # connectors/settle.py
    done_marker: str | None = None

    def filename(self, day: date) -> str:
        return self.pattern.format(date=day)


def ledger_config(r, *, directory: Path, pattern: str, sources, run_timezone: str,
                  settle_s: float = DEFAULT_SETTLE_S, done_marker: str | None = None) -> LedgerConfig:
    """``r``: recon.config's reader of the [ledger] table; ``sources``: the parsed [[sources]]."""
    r.unknown(PLACE_KEYS | MAPPING_KEYS)
    kinds = {s.name: s.kind for s in sources}
    where = dict(psp_sources=tuple(n for n, k in kinds.items() if k == "psp"),
                 bank_sources=tuple(n for n, k in kinds.items() if k == "bank"),
                 clearing_banks=tuple(s.name for s in sources if s.kind == "bank" and s.payouts_for))
    if not MAPPING_KEYS & set(r.table):
        return LedgerConfig(directory, pattern, replace(DEFAULT, **where), settle_s, done_marker)
    # Without [ledger.columns], recon's own names (e.g. only the delimiter or the formats differ).
    columns = _columns(r, r.sub("columns")) if "columns" in r.table else dict(DEFAULT.columns)
    sign = r.get("sign", str, "signed", choices=SIGNS)
    need = {"signed": ("amount",), "indicator": ("amount", "direction"), "columns": ("amount_in", "amount_out")}[sign]
    for key in ("entry_id", "currency", *need):
        if key not in columns:
            r.fail(f"columns.{key}", f"missing; expected the export's header name for {key} (sign = {sign!r})")
    if "booked_at" not in columns and "business_date" not in columns:
        r.fail("columns.booked_at", "missing; expected booked_at or business_date (or both)")
    money_in, money_out = _words(r, "money_in"), _words(r, "money_out")
    if sign == "indicator" and not (money_in and money_out):
        r.fail("money_in" if not money_in else "money_out",
               "missing; sign = \"indicator\" needs the direction column's values for money in and out")
    if set(v.upper() for v in money_in) & set(v.upper() for v in money_out):
        r.fail("money_out", "expected values different from money_in")
    types = _table(r, "types")
    for value, target in types.items():
        if target not in LEDGER_TYPES:
            r.fail(f"types.{value}", f"expected one of {', '.join(LEDGER_TYPES)}, found {target!r}")
    channels = _table(r, "channels")
    for value, target in channels.items():
        if target not in kinds:
            r.fail(f"channels.{value}", f"expected a configured source name ({', '.join(kinds)}), "
                                        f"found {target!r}")
    default_source = r.get("default_source", str, None)
    if default_source is not None and default_source not in kinds:
        r.fail("default_source", f"expected a configured source name ({', '.join(kinds)}), found {default_source!r}")
    if "channel" not in columns and default_source is None:
        r.fail("columns.channel", "missing; expected the export's channel column, or a default_source")
    tz = r.get("timezone", str, run_timezone)
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        r.fail("timezone", f"expected an IANA timezone like Europe/Berlin, found {tz!r}")
    delimiter = r.get("delimiter", str, ",")
    if len(delimiter) != 1 or delimiter in "\"\n\r":
        r.fail("delimiter", f"expected one character like \";\" or \"\\t\", found {delimiter!r}")
    decimal = r.get("decimal_separator", str, ".", choices=(".", ","))
    thousands = r.get("thousands_separator", str, "", choices=("", ",", ".", " ", "'"))
    if thousands == decimal:
        r.fail("thousands_separator", f"expected a character other than the decimal separator {decimal!r}")
    header_row = r.get("header_row", int, 1)
    if header_row < 1:
        r.fail("header_row", f"expected the header's line number, 1 or more, found {header_row}")
    footer_rows = r.get("footer_rows", int, 0)
    if footer_rows < 0:
        r.fail("footer_rows", f"expected the number of total lines below the entries, 0 or more, found {footer_rows}")
    encoding = r.get("encoding", str, None)
    if encoding is not None:
        try:
            codecs.lookup(encoding)
        except LookupError:
            r.fail("encoding", f"expected an encoding Python knows (utf-8, cp1252, gb18030, …), found {encoding!r}")
    layout = LedgerLayout(
        columns=columns, custom=True, delimiter=delimiter, encoding=encoding, header_row=header_row,
        footer_rows=footer_rows, date_format=_strftime(r, "date_format", "%Y-%m-%d"),
        datetime_format=_strftime(r, "datetime_format", "%Y-%m-%dT%H:%M:%S%:z"),
        timezone=tz, decimal_separator=decimal, thousands_separator=thousands, sign=sign,
        money_in=money_in, money_out=money_out, types=types, channels=channels,
        default_source=default_source, unmatched_statuses=_words(r, "unmatched_statuses"), **where)
    if layout.unmatched_statuses and "status" not in columns:
        r.fail("unmatched_statuses", "expected a status column too ([ledger.columns] status = \"…\")")
    return LedgerConfig(directory, pattern, layout, settle_s, done_marker)


def _columns(r, c) -> dict[str, str | tuple[str, ...]]:
    out: dict[str, str | tuple[str, ...]] = {}
    for key, value in c.table.items():
        if key not in FIELDS:
            c.fail(key, f"not a canonical ledger field; expected one of {', '.join(FIELDS)}")
        if key == "booked_at" and isinstance(value, list) and value and all(isinstance(v, str) and v for v in value):
            out[key] = tuple(value)  # a date column and a time column, read joined by a space
        elif isinstance(value, str) and value.strip():
            out[key] = value.strip()
        else:
            c.fail(key, f"expected the export's header name as a string, found {value!r}")
    return out


def _table(r, key: str) -> dict[str, str]:
    if key not in r.table:
        return {}
    t = r.sub(key)
    for value, target in t.table.items():
        if not isinstance(target, str):
            t.fail(value, f"expected a string, found {target!r}")
    return dict(t.table)


def _words(r, key: str) -> tuple[str, ...]:
    values = r.get(key, list, [])
    if not all(isinstance(v, str) and v.strip() for v in values):
        r.fail(key, "expected a list of non-empty strings")
    return tuple(v.strip() for v in values)


def _strftime(r, key: str, default: str) -> str:
    fmt = r.get(key, str, default)
    try:
        datetime(2026, 11, 21, 9, 15, 2).strftime(fmt)
    except ValueError as e:
        r.fail(key, f"expected a strftime pattern like \"%d.%m.%Y\", found {fmt!r} ({e})")
    if "%" not in fmt:
        r.fail(key, f"expected a strftime pattern like \"%d.%m.%Y\", found {fmt!r}")
    return fmt
