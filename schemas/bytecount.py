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



def always_followed(data, first: int, second: int, start: int = 0) -> bool:
    """Whether every byte ``first`` in ``data[start:]`` is directly followed by byte ``second``
    (``data.count(first) == data.count(first + second)`` for bytes that differ), in place and
    vectorised a block at a time: one pass, where the two ``bytes.count`` are two slow ones."""
    view = memoryview(data)[start:]
    for at in range(0, len(view), _COUNT_BLOCK):
        block = np.frombuffer(view[at:at + _COUNT_BLOCK + 1], dtype=np.uint8)  # +1: a pair across blocks
        where = np.flatnonzero(block[:_COUNT_BLOCK] == first) + 1
        if where.size and (where[-1] >= block.size or not (block[where] == second).all()):
            return False  # (a ``first`` as the very last byte has nothing after it)
    return True
