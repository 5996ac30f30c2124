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




def count_pair(data, first: int, second: int, start: int = 0) -> int:
    """``data.count(bytes([first, second]), start)`` for two different bytes, vectorised a block at
    a time without copying: each two bytes read as one little-endian uint16, once from an even and
    once from an odd offset, so every position is compared once (the two-byte ``bytes.count`` is
    several times slower)."""
    view, pair = memoryview(data)[start:], first | second << 8
    total = 0
    for at in range(0, len(view), _COUNT_BLOCK):
        block = view[at:at + _COUNT_BLOCK + 1]  # one byte more: a pair across the block's end
        for offset in (0, 1):
            size = (len(block) - offset) // 2 * 2
            total += int(np.count_nonzero(np.frombuffer(block[offset:offset + size], dtype="<u2") == pair))
    return total
