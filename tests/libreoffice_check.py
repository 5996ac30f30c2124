"""`make check-libreoffice`: the workbook through a real LibreOffice, headless (Python-UNO).

Run with the system Python that has LibreOffice's ``uno`` module (Debian: python3-uno), not the
project's virtualenv::

    /usr/bin/python3 tests/libreoffice_check.py BOOK.xlsx OUT_DIR

1. every sheet alone to PDF (its own print settings: orientation, pages wide, header and footer),
   the first page of each to PNG with pdftoppm when it is installed;
2. the Breaks sheet sorted by ``difference``, descending, as an accountant would (Data > Sort):
   LibreOffice refuses or ignores a sort on protected locked cells, so this fails if the sheet
   is locked again; every row must come back whole (same rows as before, in a new order);
3. the first sorted row annotated (status explained, a comment) and the workbook saved as xlsx
   to OUT_DIR/sorted.xlsx, for ``recon annotations import``.

Prints one line per step; exits 1 on the first failure.
"""
from __future__ import annotations

import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import uno  # noqa: E402  (LibreOffice's Python bridge)
from com.sun.star.beans import PropertyValue  # noqa: E402
from com.sun.star.connection import NoConnectException  # noqa: E402
from com.sun.star.table import TableSortField  # noqa: E402

BREAKS = ("Breaks", "差异明细")
DIFFERENCE = ("difference", "差额")
EDIT = {("status", "状态"): ("explained", "已说明"),
        ("comment", "备注"): ("checked in LibreOffice", "在 LibreOffice 中核对")}


def prop(name: str, value) -> PropertyValue:
    p = PropertyValue()
    p.Name, p.Value = name, value
    return p


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(profile: Path) -> tuple[subprocess.Popen, object]:
    port = free_port()
    proc = subprocess.Popen(
        ["soffice", "--headless", "--invisible", "--norestore", "--nologo",
         f"-env:UserInstallation={profile.as_uri()}",
         f"--accept=socket,host=127.0.0.1,port={port};urp;"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    local = uno.getComponentContext()
    resolver = local.ServiceManager.createInstanceWithContext(
        "com.sun.star.bridge.UnoUrlResolver", local)
    for _ in range(600):
        try:
            ctx = resolver.resolve(
                f"uno:socket,host=127.0.0.1,port={port};urp;StarOffice.ComponentContext")
            return proc, ctx.ServiceManager.createInstanceWithContext("com.sun.star.frame.Desktop",
                                                                     ctx)
        except NoConnectException:
            if proc.poll() is not None:
                raise SystemExit(f"soffice exited with {proc.returncode} before accepting")
            time.sleep(0.2)
    raise SystemExit("soffice did not accept a connection within 120 s")


def load(desktop, path: Path):
    return desktop.loadComponentFromURL(uno.systemPathToFileUrl(str(path.resolve())), "_blank",
                                        0, (prop("Hidden", True),))


def used(sheet):
    cur = sheet.createCursor()
    cur.gotoEndOfUsedArea(False)
    a = cur.getRangeAddress()
    return sheet.getCellRangeByPosition(0, 0, a.EndColumn, a.EndRow)


def render_sheets(desktop, book: Path, out: Path) -> list[str]:
    doc = load(desktop, book)
    names = list(doc.Sheets.ElementNames)
    doc.close(True)
    done = []
    for i, name in enumerate(names):
        doc = load(desktop, book)
        for other in names:
            if other != name:
                doc.Sheets.removeByName(other)
        pdf = out / f"{i + 1}-{name}.pdf"
        doc.storeToURL(uno.systemPathToFileUrl(str(pdf.resolve())),
                       (prop("FilterName", "calc_pdf_Export"),))
        doc.close(True)
        if not pdf.exists() or pdf.stat().st_size == 0:
            raise SystemExit(f"{book}: sheet {name!r} rendered no PDF")
        if shutil.which("pdftoppm"):
            subprocess.run(["pdftoppm", "-png", "-r", "70", "-f", "1", "-l", "1", str(pdf),
                            str(out / f"{i + 1}-{name}")], check=True)
            png = sorted(out.glob(f"{i + 1}-{name}*.png"))
            if not png:
                raise SystemExit(f"{pdf}: pdftoppm wrote no PNG")
            done.append(str(png[0]))
        else:
            done.append(str(pdf))
    return done


def sort_breaks(desktop, book: Path, out: Path) -> tuple[int, Path]:
    doc = load(desktop, book)
    try:
        name = next(n for n in BREAKS if doc.Sheets.hasByName(n))
        sheet = doc.Sheets.getByName(name)
        if sheet.isProtected():
            raise SystemExit(f"{book}: the {name} sheet is protected: sorting is refused")
        rng = used(sheet)
        before = rng.getDataArray()
        header = list(before[0])
        col = next(header.index(h) for h in DIFFERENCE if h in header)
        field = TableSortField()
        field.Field, field.IsAscending = col, False
        desc = (prop("SortFields", uno.Any("[]com.sun.star.table.TableSortField", (field,))),
                prop("ContainsHeader", True))
        uno.invoke(rng, "sort", (desc,))
        after = rng.getDataArray()
        rows, sorted_rows = before[1:], after[1:]
        if list(after[0]) != header:
            raise SystemExit(f"{book}: the header row moved in the sort")
        if sorted(map(repr, rows)) != sorted(map(repr, sorted_rows)):
            raise SystemExit(f"{book}: rows did not come back whole after the sort")
        values = [r[col] for r in sorted_rows if isinstance(r[col], float)]
        if values != sorted(values, reverse=True):
            raise SystemExit(f"{book}: {name} is not sorted by {header[col]} after the sort")
        if len(set(values)) > 1 and sorted_rows == rows:
            raise SystemExit(f"{book}: the sort changed nothing")
        zh = name != BREAKS[0]
        for names, texts in EDIT.items():
            col = next(header.index(h) for h in names if h in header)
            sheet.getCellByPosition(col, 1).setString(texts[zh])
        target = out / "sorted.xlsx"
        doc.storeToURL(uno.systemPathToFileUrl(str(target.resolve())),
                       (prop("FilterName", "Calc MS Excel 2007 XML"),))
        return len(rows), target
    finally:
        doc.close(True)


def main(argv: list[str]) -> int:
    book, out = Path(argv[1]).resolve(), Path(argv[2]).resolve()
    out.mkdir(parents=True, exist_ok=True)
    profile = Path(tempfile.mkdtemp(prefix="lo-profile-", dir=out))
    proc, desktop = start(profile)
    try:
        for png in render_sheets(desktop, book, out):
            print(f"rendered {png}")
        n, target = sort_breaks(desktop, book, out)
        print(f"sorted the Breaks sheet's {n} rows by difference (descending), annotated the "
              f"first: {target}")
    finally:
        try:
            desktop.terminate()
        except Exception:  # the bridge goes away with the process
            pass
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(profile, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
