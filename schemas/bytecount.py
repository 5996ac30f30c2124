"""Counting one byte value in bytes or in an archive FileView (the CSV readers' line and
separator counts), vectorised and a block at a time."""
from __future__ import annotations

import numpy as np

_COUNT_BLOCK = 8 << 20


def count_byte(data, byte: int, start: int = 0, end: int | None = None) -> int:
    """``data.count(bytes([byte]), start, end)`` for bytes (or a FileView), vectorised: the CSV
    readers count every line end and separator of every file, and ``bytes.count`` of one byte is
    several times slower than numpy's compare-and-count (a block at a time: bounded memory)."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        return data.count(bytes([byte]), start, end)
    view = memoryview(data)[start:end]
    return sum(int(np.count_nonzero(np.frombuffer(view[at:at + _COUNT_BLOCK], dtype=np.uint8) == byte))
               for at in range(0, len(view), _COUNT_BLOCK))


def count_pair(data, first: int, second: int, start: int = 0, end: int | None = None) -> int:
    """How many times byte ``first`` is directly followed by byte ``second`` in ``data[start:end]``
    (``bytes.count`` of the two-byte sequence when the bytes differ), vectorised a block at a time
    without copying the range: the two-byte ``bytes.count`` is several times slower."""
    view = memoryview(data)[start:end]
    total = 0
    for at in range(0, len(view), _COUNT_BLOCK):
        block = np.frombuffer(view[at:at + _COUNT_BLOCK + 1], dtype=np.uint8)  # +1: a pair across blocks
        total += int(np.count_nonzero((block[:-1] == first) & (block[1:] == second)))
    return total
