"""Keep the server's resident memory flat under load: freed heap memory goes back to the system.

What grew (measured with `python -m bench.soak`, shipped model, torch, 2026-12-06): 517 MB when ready,
1,197 MB after 10,000 single-paragraph requests from 32 clients, and it stayed there when idle. The model's
activations are large blocks whose size changes with every micro-batch (paragraphs x padded length). glibc
serves blocks over its mmap threshold with mmap and unmaps them on free, but it raises that threshold to the
size of each such block freed (up to 32 MiB), after which blocks of those sizes come from the heap, where
blocks of ever new sizes fragment it and freed memory is kept. In an in-process comparison (the Labeler
alone on the same random micro-batches of 1-16 paragraphs, nine minutes each) RSS went from 576 to 727 MB
and was still rising with glibc's defaults, and stayed at 607 MB with `malloc_trim(0)` after each batch.

Fixing the mmap threshold instead (128 KiB) kept memory as flat (603 MB) but made every activation an mmap,
and the server ran 4x slower under load. `malloc_trim` costs one pass over the heap per model call.
"""

import ctypes
import ctypes.util
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's `malloc_trim`, or None where the C library has none (musl, macOS)."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        trim: Callable[[int], int] = libc.malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


def returning_memory(predict: Callable[[Sequence[str]], T]) -> Callable[[Sequence[str]], T]:
    """`predict`, handing the heap memory it freed back to the system after each call (glibc only)."""
    trim = _malloc_trim()
    if trim is None:
        return predict

    def run(texts: Sequence[str]) -> T:
        try:
            return predict(texts)
        finally:
            trim(0)

    return run
