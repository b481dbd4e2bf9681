"""Actors as people read them: the audit trail records `token:alice` or `scheduler`; pages and
the command line say "alice" and "the scheduler"."""
from __future__ import annotations

PEOPLE = {"scheduler": "the scheduler", "cli": "the command line", "bootstrap": "start-up",
          "anonymous": "an anonymous caller (auth off)", "report": "the report"}


def person(actor: str | None) -> str:
    """Who did it, as a reader would say it: `token:alice` is alice, `scheduler` the scheduler."""
    if not actor:
        return "unknown"
    if actor.startswith("token:"):
        return actor[len("token:"):]
    if actor.startswith("alert:"):
        return f"the alert {actor[len('alert:'):]}"
    return PEOPLE.get(actor, actor)
