"""Small reading hooks shared by the CSV parsers: BOM, CRLF, backtick padding, raw JSON, exact sums.

Each quirk is one function so a format's parser stays a plain column mapping (STYLE.md §2).
Everything here is vectorised polars; nothing loops over rows in Python.
"""
from __future__ import annotations

import csv
import io
from collections.abc import Collection
from decimal import Decimal

import polars as pl

from schemas.bytecount import count_byte, count_pair
from recon.errors import ParseError
from recon.money import minor_expr
from schemas import csvhead

BOM = b"\xef\xbb\xbf"
# Control totals are compared in ten-thousandths of the major unit, whatever the currency: exact
# for any text with up to 4 decimals, so a row whose amount is inexact *for its currency* (and is
# quarantined later) still counts towards the file's own totals, which it is part of.
CHECK_EXPONENT = 4


def strip_bom(data: bytes) -> bytes:
    return data[len(BOM):] if data.startswith(BOM) else data


def header_line(data: bytes, file: str) -> list[str]:
    """The header row's names (BOM, CR, quotes and backtick padding removed; ``csvhead``);
    ParseError if it is not UTF-8 (``csvhead.as_utf8`` first) or names a column twice."""
    body = strip_bom(data[:data.find(b"\n") + 1 or len(data)])  # no copy of the rest of the file
    first = body.rstrip(b"\r\n")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ParseError(file, 1, f"expected a UTF-8 header row ({exc.reason})") from exc
    names = csvhead.split_names(text) if text.strip() else []
    csvhead.refuse_duplicates(names, file)
    return names


def require_columns(found: list[str], required: list[str], file: str) -> None:
    missing = [c for c in required if c not in found]
    if missing:
        raise ParseError(file, 1, f"expected a header row with the columns {', '.join(required)}; "
                                  f"missing {', '.join(missing)}")


def header_has(data: bytes, name: str, columns) -> bool:
    """``identify`` for header-row formats: the first line names all of ``columns`` (a tuple among
    them: any one of its names), in any encoding ``csvhead`` reads."""
    return not csvhead.missing(csvhead.header_names(data, name), list(columns))


def read_text_csv(data: bytes, file: str, *, first_line: int = 1,
                  columns: list[str] | None = None, checked: bool = True,
                  keep: Collection[str] | None = None) -> pl.DataFrame:
    """Every column as text, backtick padding stripped, plus ``file_line`` (physical, 1-based).

    ``first_line`` is the physical line of the header within the whole file. Rows are mapped to
    lines by position; a quoted field spanning lines (RFC 4180, e.g. a Stripe description) is
    read, each row then numbered by the line it starts on; a blank line, which would shift every
    line number after it, is refused rather than reported against the wrong line.
    ``columns``: read only these (the row checks still see every field). ``checked=False`` skips
    the line and field counts, for a look-ahead at data that is read again, checked, before use.
    ``keep``: after the checks (and with the same rows), only the columns among these are kept,
    for a parser that uses few of a wide table's columns (the padding is stripped only from them).
    """
    body = strip_bom(data)
    head = body[:body.find(b"\n") + 1 or len(body)]
    csvhead.refuse_duplicates(csvhead.split_names(head.decode("utf-8", errors="replace").rstrip("\r\n")),
                              file, first_line)
    try:
        frame = pl.read_csv(io.BytesIO(body), infer_schema=False, encoding="utf8",
                            truncate_ragged_lines=False, columns=columns)
    except Exception as exc:  # polars raises several types (ComputeError, NoDataError, ...)
        _refuse_long_rows(body, file, first_line)
        raise ParseError(file, None, f"expected a comma-separated table with a header row ({exc})") from exc
    starts = _check_lines(body, frame, file, first_line, columns) if checked else None
    if keep is not None:
        frame = frame.select([c for c in frame.columns if c in keep])
    if b"`" in body:  # WeChat Pay's padding; a file without any backtick is not copied again
        frame = frame.with_columns(pl.all().str.strip_chars_start("`"))
    if starts is not None:
        return frame.with_columns(pl.Series("file_line", starts, dtype=pl.Int64))
    return frame.with_columns(
        pl.int_range(first_line + 1, first_line + 1 + frame.height, dtype=pl.Int64).alias("file_line"))


def _check_lines(body: bytes, frame: pl.DataFrame, file: str, first_line: int,
                 columns: list[str] | None) -> list[int] | None:
    """One row per physical line, and no row with fewer fields than the header (ParseError).
    Rows with quoted line breaks: each row's physical line (None when every row is one line)."""
    physical = count_byte(body, ord("\n")) + (0 if body.endswith(b"\n") else 1)
    width = len(frame.columns) if columns is None else len(next(csv.reader([
        body[:body.find(b"\n") + 1 or len(body)].decode("utf-8", errors="replace")]), []))
    if physical != frame.height + 1:
        starts = spanning_rows(body, width, frame.height, first_line) if b'"' in body else None
        if starts is None:
            raise ParseError(file, None, f"expected one row per line ({frame.height} rows in {physical} "
                                         f"lines: blank lines or quoted line breaks)")
        return starts
    # Fast path: polars already refuses a row with too many fields, so with no quoting in the file
    # an exact total of separators means every row has exactly the header's width.
    if b'"' in body or count_byte(body, ord(",")) != (width - 1) * (frame.height + 1):
        _refuse_short_rows(body, width, file, first_line)


def part_ranges(data: bytes, part_bytes: int | None, end: int | None = None) -> list[tuple[int, int, int]]:
    """Cut a header-row CSV (``data[:end]``) into parts of about ``part_bytes`` bytes at line ends:
    ``(start, stop, header_line)`` per part, where ``header_line`` is the physical line number the
    part's rows follow (``read_text_csv(part_data(...), first_line=header_line)`` numbers them as
    in the whole file). One part when ``part_bytes`` is None or the table is smaller."""
    end = len(data) if end is None else end
    header_end = data.find(b"\n", 0, end) + 1
    if not part_bytes or end - header_end <= part_bytes or header_end == 0:
        return [(0, end, 1)]
    ranges, start, line = [], header_end, 1
    while start < end:
        cut = data.find(b"\n", min(start + part_bytes, end - 1), end)
        stop = end if cut < 0 else cut + 1
        ranges.append((start, stop, line))
        line += count_byte(data, ord("\n"), start, stop)
        start = stop
    return ranges


def whole_file(parse_parts):
    """A format's ``parse`` from its ``parse_parts``: the whole file as its one part."""
    def parse(data: bytes, **kwargs):
        (whole,) = parse_parts(data, **kwargs)
        return whole
    parse.__doc__ = f"``{parse_parts.__module__}.parse_parts`` as one part."
    return parse


def part_data(data: bytes, start: int, stop: int) -> bytes:
    """The header row followed by ``data[start:stop]`` (one part of ``part_ranges``), without the
    BOM (``read_text_csv`` would drop it with a copy of the whole part)."""
    bom = len(BOM) if data.startswith(BOM) else 0
    if start == 0:
        return data[bom:stop]
    # bytes: the part is copied once (by the join), not sliced and then concatenated; a FileView
    # reads its range, which the join copies behind the header
    body = memoryview(data)[start:stop] if isinstance(data, bytes) else data[start:stop]
    return b"".join((data[bom:data.find(b"\n") + 1], body))


def spanning_rows(body: bytes, width: int, rows: int, first_line: int, delimiter: str = ",") -> list[int] | None:
    """The physical line each row starts on, when the rows differ from the lines only by quoted
    line breaks: every record read by the csv module has the header's width and there are as
    many as polars read. None otherwise (a blank line, a short row: refused by the caller)."""
    reader = csv.reader(io.StringIO(body.decode("utf-8", errors="replace"), newline=""), delimiter=delimiter)
    starts, before = [], 0
    for record in reader:
        if len(record) != width:
            return None
        starts.append(first_line + before)
        before = reader.line_num
    return starts[1:] if len(starts) == rows + 1 else None


def _refuse_short_rows(body: bytes, width: int, file: str, first_line: int) -> None:
    """polars pads a row with fewer fields than the header with nulls: a file cut off mid-row would
    load a half row. Count each line's separators (vectorised; lines with quotes through the csv
    module) and refuse the file at the first short row."""
    lines = pl.Series(body.decode("utf-8", errors="replace").splitlines()[1:], dtype=pl.String)
    counts = lines.str.count_matches(",", literal=True) + 1
    quoted = lines.str.contains('"', literal=True)
    short = ((counts < width) & ~quoted).arg_true()
    bad = short.to_list()[:1]
    for i in quoted.arg_true().to_list():
        if bad and i > bad[0]:
            break
        if len(next(csv.reader([lines[i]]), [])) < width:
            bad = [i]
            break
    if bad:
        i = bad[0]
        found = len(next(csv.reader([lines[i]]), []))
        raise ParseError(file, first_line + 1 + i, f"expected {width} fields as in the header, found {found} "
                                                   f"(the row is cut short: a truncated file?)")


def _refuse_long_rows(body: bytes, file: str, first_line: int) -> None:
    """ParseError at the first row with more fields than the header (what polars refuses as a
    ragged line), said in the file's terms; returns if there is none."""
    rows = csv.reader(io.StringIO(body.decode("utf-8", errors="replace"), newline=""))
    width = len(next(rows, []))
    for i, row in enumerate(rows):
        if len(row) > width:
            raise ParseError(file, first_line + 1 + i, f"expected {width} fields as in the header, "
                                                       f"found {len(row)} (an unquoted comma in a value, "
                                                       f"or a row from another layout)")


def raw_json(columns: list[str]) -> pl.Expr:
    """The original fields of a line as a JSON object with sorted keys (UTF-8, not escaped)."""
    return pl.struct(sorted(columns)).struct.json_encode().alias("raw")


def audit(columns: list[str], *, raw: bool = True, card_field: str | None = None) -> list[pl.Expr]:
    """``raw_json`` and the ``attributes`` of the same original fields. ``raw=False`` (a format
    with ``RAW_OPTIONAL``, parsed for a store that keeps each line's span in the archive instead,
    recon.lineage): no raw, the costliest expression of a parse (a JSON string per line)."""
    return [*([raw_json(columns)] if raw else []), *attributes(columns, card_field)]


# Fields the clearing positions group by, first non-empty wins: a line's merchant and its
# sub-merchant. Taken out of the line when it is parsed (statement_lines' merchant_id and
# sub_merchant_id) so that no report reads them back out of raw's JSON for every line.
MERCHANT_FIELDS = ("商户号", "account")
SUB_MERCHANT_FIELDS = ("特约商户号", "子商户号", "connected_account", "payment_metadata[sub_merchant]")
ATTRIBUTES = ("merchant_id", "sub_merchant_id", "card_type")


def attributes(columns: list[str], card_field: str | None = None) -> list[pl.Expr]:
    """The canonical ``merchant_id``, ``sub_merchant_id`` and ``card_type`` of each line, from the
    fields among ``columns`` (the original ones, as in raw). '' where the line has none: NULL is
    kept for lines loaded before these columns existed, which the SQL reads from raw instead.
    ``card_field`` is the format's card-type field (``CARD_TYPE_FIELD`` of its module): a rate
    card that names this field reads ``card_type``, one that names another field reads raw."""
    def first(fields: tuple[str, ...]) -> pl.Expr:
        found = [pl.when(pl.col(f) != "").then(pl.col(f)) for f in fields if f in columns]
        return pl.coalesce(*found, pl.lit("")) if found else pl.lit("")
    card = (pl.col(card_field).fill_null("") if card_field in columns else pl.lit("")) \
        if card_field else pl.lit(None, pl.String)
    return [first(MERCHANT_FIELDS).alias("merchant_id"),
            first(SUB_MERCHANT_FIELDS).alias("sub_merchant_id"),
            card.alias("card_type")]


def line_id(sha256: str) -> pl.Expr:
    return (pl.lit(f"{sha256[:16]}:") + pl.col("file_line").cast(pl.String)).alias("line_id")


def check_units(text: pl.Expr, exponent: int = CHECK_EXPONENT) -> pl.Expr:
    """Exact amount text → integer units of 10^-exponent (ten-thousandths unless a format's totals
    are finer: WeChat's five-decimal 手续费); null if not a number."""
    return minor_expr(text, exponent)


def show_units(value: int | None, exponent: int = CHECK_EXPONENT) -> str:
    """Check units back to decimal text with at least two places (12.3 → '12.30')."""
    if value is None:
        return "(none)"
    d = Decimal(value).scaleb(-exponent).normalize()
    places = max(2, -d.as_tuple().exponent)
    return f"{d:.{places}f}"


def requote_backtick_rows(table: bytes) -> bytes:
    """A backtick-padded table (WeChat Pay bills: header, then data rows) with every data row
    readable as CSV.

    WeChat writes data rows unquoted, each field after ``,`` `` ` ``: a comma or a double quote
    inside a value (商品名称 ``年货礼盒,2件``, 商户数据包) is text, and public readers of the bills
    split rows on ``,`` `` ` ``. A row with exactly the header's number of ``,`` `` ` `` separators
    and a stray comma or a quote is re-written with every field quoted (backticks, line end and
    line count kept); any other row is left for the usual checks to report. A table without such
    a row is returned as it is: the usual file costs two byte counts."""
    header_end = table.find(b"\n") + 1
    # the check counts in place (no copy of the body), vectorised
    if not header_end or (table.find(b'"', header_end) < 0 and count_byte(table, ord(","), header_end)
                          == count_pair(table, ord(","), ord("`"), header_end)):
        return table
    body = table[header_end:]
    separators = table[:header_end].count(b",")
    out = [table[:header_end]]
    for line in body.splitlines(keepends=True):
        text = line.rstrip(b"\r\n")
        if (text.startswith(b"`") and text.count(b",`") == separators
                and (text.count(b",") != separators or b'"' in text)):
            first, *rest = text.split(b",`")
            fields = [first] + [b"`" + f for f in rest]
            text = b",".join(b'"' + f.replace(b'"', b'""') + b'"' for f in fields)
        out.append(text + line[len(line.rstrip(b"\r\n")):])
    return b"".join(out)
