"""One part of a big header-row CSV read as text, without first copying it behind its header.

``quirks.read_text_csv(quirks.part_data(data, start, stop), ...)`` reads a part after joining the
header row and the part's bytes into a new buffer: a copy of every byte of the file, a part at a
time, which costs more CPU than reading the part itself. :func:`read_part` gives the same frame
(or the same error) and reads the part's bytes as they lie, with the header's column names, when
the part is plain: no quote anywhere, one row per line, and the header's number of fields on every
line (the bulk exports). Anything else is read the usual way, so every other case (quoted line
breaks, short or long rows, blank lines) is judged by exactly the code that judged it before.
"""
from __future__ import annotations

import polars as pl

from schemas import csvhead, quirks
from schemas.bytecount import count_byte


def read_part(data, start: int, stop: int, first_line: int, file: str, *,
              columns: list[str] | None = None, checked: bool = True) -> pl.DataFrame:
    """``quirks.read_text_csv(quirks.part_data(data, start, stop), file, first_line=first_line,
    columns=columns, checked=checked)`` for a part of ``quirks.part_ranges``; ``data`` is bytes
    or an archive FileView."""
    if start > 0:  # a part after the first: the header row is elsewhere (a FileView finds it in its head)
        end = data.find(b"\n", 0, min(len(data), 1 << 16))
        header = quirks.strip_bom(data[:(end if end >= 0 else data.find(b"\n")) + 1])
        frame = _plain(header, data, start, stop, file, first_line, columns)
        if frame is not None:
            return frame
    return quirks.read_text_csv(quirks.part_data(data, start, stop), file, first_line=first_line,
                                columns=columns, checked=checked)


def _plain(header: bytes, data, start: int, stop: int, file: str, first_line: int,
           columns: list[str] | None) -> pl.DataFrame | None:
    """The part's frame when it is plain (see the module), else None. What makes it plain is what
    ``read_text_csv``'s own fast path accepts, checked before its frame is taken: the two reads
    then see the same rows, field for field."""
    skip = first_line  # the lines before the part (polars' skip_lines counts line feeds only)
    if not isinstance(data, bytes) or columns is not None:  # a FileView, or a choice of columns
        data, start, stop, skip = data[start:stop], 0, stop - start, 0  # (see below): the part only
    width = header.count(b",") + 1
    if width < 2 or b'"' in header or data.find(b'"', start, stop) >= 0:
        return None
    csvhead.refuse_duplicates(csvhead.split_names(header.decode("utf-8", errors="replace").rstrip("\r\n")),
                              file, first_line)  # as read_text_csv does, before reading
    physical = count_byte(data, ord("\n"), start, stop) + (0 if data[stop - 1:stop] == b"\n" else 1)
    try:
        names = pl.read_csv(header, infer_schema=False, encoding="utf8").columns
        if len(names) != width:
            return None
        # Bytes: the part's lines read where they lie (skipped to, then as many rows as the part
        # has lines), no copy of the part. Should polars not make one row of each of the part's
        # lines (a blank or short one), the separator count below refuses the read; a long one
        # makes polars raise, unless columns are chosen (hence the copy then).
        frame = pl.read_csv(data, has_header=False, schema={n: pl.String for n in names}, encoding="utf8",
                            truncate_ragged_lines=False, skip_lines=skip, n_rows=physical,
                            columns=None if columns is None else [names.index(c) for c in columns])
    except Exception:  # noqa: BLE001 - read the usual way, which raises what it always raised
        return None
    # every line has at most the header's fields (a longer one is refused above, or read the usual
    # way when columns are chosen) and all of them add up to exactly that many on every line
    if physical != frame.height or count_byte(data, ord(","), start, stop) != (width - 1) * physical:
        return None
    if b"`" in header or data.find(b"`", start, stop) >= 0:  # as read_text_csv: WeChat Pay's padding
        frame = frame.with_columns(pl.all().str.strip_chars_start("`"))
    return frame.with_columns(
        pl.int_range(first_line + 1, first_line + 1 + frame.height, dtype=pl.Int64).alias("file_line"))
