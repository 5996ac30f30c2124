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
