"""Planning stage moves: preconditions of a promotion, the target of a rollback, stage ETags.

Pure: the service hands in plain facts read under the model's lock and applies the plan.
"""
from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Callable, Iterable

from registry.domain.errors import (Conflict, Forbidden, InvalidInput, NoRollbackTarget,
                                    StageConflict, StaleVersion, StageExists)

STAGES = ("none", "staging", "production", "archived")  # a version's `stage` label
HELD_STAGES = ("staging", "production")  # the built-in stages every model has
EXIT_STAGES = ("none", "archived")  # set through the stage route, in any status
STAGE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")
RESERVED_NAMES = frozenset(STAGES)


@dataclass(frozen=True)
class Holding:
    """A version as stage planning sees it: its label, and the stages it holds."""
    version: int
    status: str
    stage: str
    rolled_back: bool = False
    holds: frozenset[str] = frozenset()


@dataclass(frozen=True)
class StageRule:
    """Who may move a stage, and what the scheduler does when its holder degrades."""
    name: str
    requires_admin: bool
    on_degraded: str


def check_new_stage_name(name: str, declared: Iterable[str]) -> None:
    """Raises InvalidInput for a malformed or reserved name, StageExists for one declared."""
    if not STAGE_NAME.match(name):
        raise InvalidInput(f"stage name {name!r} must match {STAGE_NAME.pattern}",
                           errors={"name": [f"must match {STAGE_NAME.pattern}"]})
    if name in RESERVED_NAMES:
        raise InvalidInput(f"'{name}' is reserved", errors={"name": ["reserved name"]})
    if name in declared:
        raise StageExists(f"stage '{name}' is already declared")


def check_stage_access(model: str, rule: StageRule, *, is_admin: bool) -> None:
    """Raises Forbidden when the caller may not move the stage: a stage that requires the admin
    role (for production, the model's production_requires_admin setting) without it."""
    if rule.requires_admin and not is_admin:
        setting = ("production_requires_admin setting" if rule.name == "production"
                   else f"{rule.name} stage's requires_admin")
        raise Forbidden(f"{rule.name} moves of '{model}' need the admin role (the model's "
                        f"{setting})", required_role="admin")


def stage_etag(revision: int, version: int, since: dt.datetime) -> str:
    """A strong ETag for a stage's holder: changes whenever the holder changes."""
    since_us = int(since.timestamp() * 1_000_000)
    return f'"{revision}.{version}.{since_us}"'


def check_expected(stage: str, current: int | None, *, expected: int | None = None,
                   expect_given: bool = False, if_match: list[str] | None = None,
                   current_etag: str | None = None) -> None:
    """A compare-and-set precondition: `expected_current_version` (None = an empty stage) and/or
    `If-Match` with the stage ETag (or `*` for any holder). Raises StaleVersion naming the
    current holder."""
    stale = expect_given and expected != current
    if if_match is not None:
        matches = current_etag is not None and ("*" in if_match or current_etag in if_match)
        stale = stale or not matches
    if stale:
        holder = f"version {current}" if current is not None else "no version"
        raise StaleVersion(f"{stage} is held by {holder} now; read it again and retry",
                           current_version=current)


def check_promotable(target: Holding, stage: str) -> None:
    """Raises StageConflict when the version cannot enter `stage` as it is."""
    if target.status != "ready":
        raise StageConflict(f"version {target.version} is {target.status}; finalize it before "
                            f"promoting it to {stage}")
    if target.stage == stage or stage in target.holds:
        raise StageConflict(f"version {target.version} already holds {stage}",
                            current_version=target.version)


def plan_rollback(stage: str, current: Holding | None, earlier_holders: Iterable[Holding], *,
                  files_intact: Callable[[int], bool], to_version: Holding | None = None,
                  to_version_held: bool = False) -> Holding:
    """The version a rollback of `stage` returns to.

    Without `to_version`: the newest earlier holder (`earlier_holders` newest first) that is
    ready, was never rolled back from, and whose files are all present. With it: that version,
    which must have held the stage before. Raises NoRollbackTarget / Conflict with a sentence
    an on-call engineer can act on.
    """
    if current is None:
        raise NoRollbackTarget(f"no version holds {stage}, so there is nothing to roll back from")
    if to_version is not None:
        return _explicit_target(stage, current, to_version, to_version_held, files_intact)
    skipped = []
    for holder in earlier_holders:
        if holder.version == current.version:
            continue
        why_not = _skip_reason(holder, files_intact)
        if why_not is None:
            return holder
        skipped.append(f"{holder.version} ({why_not})")
    why = f"; skipped {', '.join(skipped)}" if skipped else ""
    raise NoRollbackTarget(f"no earlier {stage} version of this model qualifies as a rollback "
                           f"target{why}. Promote a version explicitly instead.",
                           current_version=current.version)


def _skip_reason(holder: Holding, files_intact: Callable[[int], bool]) -> str | None:
    """Why an earlier holder is not a rollback target, or None when it is one."""
    if holder.rolled_back:
        return "rolled back from"
    if holder.status != "ready":
        return holder.status
    if not files_intact(holder.version):
        return "files missing or truncated"
    return None


def rollback_skips(current: Holding, earlier_holders: Iterable[Holding], target: int,
                   files_intact: Callable[[int], bool]) -> list[str]:
    """The earlier holders a rollback to `target` passes over, newest first, each with why
    (`6 (rolled back from)`): what a person confirming the rollback wants to read."""
    skipped = []
    for holder in earlier_holders:
        if holder.version == target:
            break
        if holder.version != current.version:
            skipped.append(f"{holder.version} ({_skip_reason(holder, files_intact)})")
    return skipped


def _explicit_target(stage: str, current: Holding, target: Holding, held: bool,
                     files_intact: Callable[[int], bool]) -> Holding:
    if target.version == current.version:
        raise Conflict(f"version {target.version} already holds {stage}",
                       current_version=current.version)
    if not held:
        raise Conflict(f"version {target.version} never held {stage}; promote it instead")
    if target.status != "ready":
        raise Conflict(f"version {target.version} is {target.status}")
    if not files_intact(target.version):
        raise Conflict(f"version {target.version} has files missing from the artifact store or "
                       "with a different size; run `modelyard artifacts verify` for details")
    return target
