"""Pages of a list: the items and the cursor of the next page (the codec lives in
webhooks/pages.py, shared with the delivery log)."""
from __future__ import annotations

from typing import NamedTuple

from webhooks.pages import decode_cursor, encode_cursor, newest_first  # noqa: F401  (re-exported)


class Page(NamedTuple):
    items: list
    next_cursor: str | None

    def as_dict(self) -> dict:
        return {"items": self.items, "next_cursor": self.next_cursor}
