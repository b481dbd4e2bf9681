"""Settings of a serving process, applied once its app is built (gunicorn via registry.wsgi, or
`modelyard serve`)."""
from __future__ import annotations

import ctypes
import ctypes.util
import gc

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3
# Buffers of a large upload (a few MiB at most) come from the heap and are reused; by default
# glibc maps and unmaps each one, and the page faults that follow cost more system time than the
# copy itself: measured, uploads ran at about 260 MB/s with 7 s of system time per 2 GiB against
# about 440 MB/s and 3.5 s with these thresholds.
MMAP_THRESHOLD = 4 << 20
TRIM_THRESHOLD = 32 << 20


def _tune_allocator() -> None:
    name = ctypes.util.find_library("c")
    libc = ctypes.CDLL(name) if name else None
    if libc is not None and hasattr(libc, "mallopt"):  # glibc; other C libraries keep defaults
        libc.mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
        libc.mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)


def prepare_serving_process() -> None:
    """Tune the allocator for streamed uploads, and move the app's long-lived objects (routes,
    schemas, the OpenAPI spec) out of the garbage collector's view so full collections do not
    pause requests."""
    _tune_allocator()
    gc.collect()
    gc.freeze()
