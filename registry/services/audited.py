"""Mutations owned by webhooks/ (which cannot import registry) get their event and audit record
here, in the same transaction as the change."""
from __future__ import annotations

from typing import Callable

from registry.db import write_transaction
from registry.services.events import append_event

SECRET_FIELDS = ("secret",)


def run_audited(action: str, change: Callable[[], dict | None], *, actor: str,
                target: dict) -> dict | None:
    """Run `change` (which opens its own, now nested, transaction) and append the event
    `action` with `target` and the change's answer, secrets removed, in one transaction."""
    with write_transaction():
        answer = change()
        shown = {key: value for key, value in (answer or {}).items() if key not in SECRET_FIELDS}
        append_event(action, actor=actor, data={**target, "after": shown})
    return answer
