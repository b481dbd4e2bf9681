"""Artifact file paths: relative, normalised, portable. Anything else is refused, never repaired."""
from __future__ import annotations

import re
import unicodedata

from registry.domain.errors import InvalidInput

MAX_PATH = 1024
MAX_SEGMENT = 255
_DRIVE = re.compile(r"^[A-Za-z]:")
_PERCENT_ESCAPE = re.compile(r"%[0-9A-Fa-f]{2}")


def _bad(path: str, why: str) -> InvalidInput:
    shown = path if len(path) <= 80 else path[:77] + "..."
    return InvalidInput(f"file path {shown!r} is not allowed: {why}", errors={"path": [why]})


def validate_file_path(path: str) -> str:
    """The path unchanged when it is a clean relative path (`model/weights.bin`).

    Raises InvalidInput for: empty, too long, absolute, drive letters, backslashes, control
    characters or NUL, `.` or `..` segments, empty segments (`a//b`, trailing `/`), percent-escapes
    (a second decoding must not reveal `..`), and non-NFC Unicode.
    """
    if not path:
        raise _bad(path, "empty path")
    if len(path) > MAX_PATH:
        raise _bad(path, f"longer than {MAX_PATH} characters")
    if any(ord(char) < 32 or ord(char) == 127 for char in path):
        raise _bad(path, "control characters")
    if "\\" in path:
        raise _bad(path, "backslashes")
    if path.startswith("/") or _DRIVE.match(path):
        raise _bad(path, "absolute path")
    if _PERCENT_ESCAPE.search(path):
        raise _bad(path, "percent-escapes")
    if unicodedata.normalize("NFC", path) != path:
        raise _bad(path, "not in Unicode NFC form")
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            raise _bad(path, "empty, '.' or '..' segment")
        if len(segment) > MAX_SEGMENT:
            raise _bad(path, f"a segment longer than {MAX_SEGMENT} characters")
    return path
