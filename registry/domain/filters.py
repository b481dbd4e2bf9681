"""The search language: `metrics.accuracy >= 0.9 and tags.team = 'nlp'`, and `order_by`.

Parsing is pure; registry/services/search.py compiles the result to SQL. Every error carries the
0-based position of the offending token.
"""
from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass
from typing import Union

from registry.domain.errors import BadFilter
from registry.domain.stages import STAGES

MAX_LENGTH = 4000
MAX_CONDITIONS = 32
OPERATORS = ("=", "!=", "<", "<=", ">", ">=")
STATUSES = ("pending", "ready")

# Field name -> value kind. Prefixed families take a key after the dot.
PLAIN_FIELDS = {
    "version": "int", "stage": "stage", "status": "status", "created_at": "time", "model": "text",
}
RUN_FIELDS = {
    "run.id": "text", "run.experiment": "text", "run.uri": "text",
    "run.started_at": "time", "run.ended_at": "time",
    "run.dataset.name": "text", "run.dataset.version": "text", "run.dataset.digest": "text",
    "run.code.repo": "text", "run.code.commit": "text", "run.code.branch": "text",
    "run.environment.python": "text", "source_uri": "text",
}
FAMILIES = {"metrics": "number", "params": "scalar", "tags": "text"}

Literal = Union[str, float, int, dt.datetime]

_TOKEN = re.compile(r"""
    (?P<ws>\s+)
  | (?P<op>!=|<=|>=|=|<|>)
  | (?P<number>-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
  | (?P<word>[A-Za-z_][A-Za-z0-9_.:/-]*)
""", re.VERBOSE)


@dataclass(frozen=True)
class Field:
    family: str  # "plain", "run", "metrics", "params" or "tags"
    name: str    # column name for plain/run, the key for a family
    kind: str    # value kind: int, number, scalar, text, time, stage, status


@dataclass(frozen=True)
class Condition:
    field: Field
    op: str
    value: Literal


@dataclass(frozen=True)
class OrderBy:
    field: Field
    descending: bool


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str
    position: int


def _tokens(text: str) -> list[_Token]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match:
            quote = text[position] in "'\""
            problem = "unterminated string" if quote else f"unexpected character {text[position]!r}"
            raise BadFilter(f"{problem} at position {position}", position=position)
        if match.lastgroup != "ws":
            tokens.append(_Token(match.lastgroup, match.group(), position))
        position = match.end()
    return tokens


def resolve_field(name: str, position: int = 0) -> Field:
    """The field a name denotes, or BadFilter naming it."""
    if name in PLAIN_FIELDS:
        return Field("plain", name, PLAIN_FIELDS[name])
    if name in RUN_FIELDS:
        return Field("run", name, RUN_FIELDS[name])
    family, _, key = name.partition(".")
    if family in FAMILIES and key:
        return Field(family, key, FAMILIES[family])
    known = ", ".join([*PLAIN_FIELDS, *RUN_FIELDS, "metrics.<key>", "params.<key>", "tags.<key>"])
    raise BadFilter(f"unknown field {name!r} at position {position}; known fields: {known}",
                    position=position)


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def _parse_time(text: str, position: int) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise BadFilter(f"expected an RFC 3339 time at position {position}, got {text!r}",
                        position=position) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)


def _literal(field: Field, token: _Token) -> Literal:
    where = f"at position {token.position}"
    if token.kind == "number":
        number = float(token.text)
        if not math.isfinite(number) or abs(number) > 1e300:
            raise BadFilter(f"number out of range {where}", position=token.position)
        if field.kind == "int":
            if not number.is_integer() or abs(number) > 2**31:
                raise BadFilter(f"{field.name} needs a whole number {where}", position=token.position)
            return int(number)
        if field.kind in ("number", "scalar"):
            return number
    elif token.kind == "string":
        text = _unquote(token.text)
        if field.kind in ("text", "scalar"):
            return text
        if field.kind == "time":
            return _parse_time(text, token.position)
        if field.kind in ("stage", "status"):
            allowed = STAGES if field.kind == "stage" else STATUSES
            if text not in allowed:
                raise BadFilter(f"{field.kind} must be one of {', '.join(allowed)} {where}",
                                position=token.position)
            return text
    else:
        raise BadFilter(f"expected a number or a quoted string {where}", position=token.position)
    wanted = "a number" if field.kind in ("int", "number") else "a quoted string"
    raise BadFilter(f"{field.family}.{field.name} takes {wanted} {where}"
                    if field.family in FAMILIES else f"{field.name} takes {wanted} {where}",
                    position=token.position)


def _expect(tokens: list[_Token], index: int, kind: str, text: str, what: str) -> _Token:
    if index >= len(tokens):
        raise BadFilter(f"expected {what} at position {len(text)} (end of input)", position=len(text))
    token = tokens[index]
    if token.kind != kind:
        raise BadFilter(f"expected {what} at position {token.position}, got {token.text!r}",
                        position=token.position)
    return token


def parse_filter(text: str) -> list[Condition]:
    """Parse `field op literal [and field op literal ...]` into conditions (all must hold)."""
    if len(text) > MAX_LENGTH:
        raise BadFilter(f"filter longer than {MAX_LENGTH} characters", position=MAX_LENGTH)
    tokens = _tokens(text)
    if not tokens:
        return []
    conditions, index = [], 0
    while True:
        name = _expect(tokens, index, "word", text, "a field name")
        field = resolve_field(name.text, name.position)
        op = _expect(tokens, index + 1, "op", text, "an operator (= != < <= > >=)")
        if index + 2 >= len(tokens):
            raise BadFilter(f"expected a value at position {len(text)} (end of input)",
                            position=len(text))
        conditions.append(Condition(field, op.text, _literal(field, tokens[index + 2])))
        index += 3
        if index == len(tokens):
            break
        joiner = tokens[index]
        if joiner.kind != "word" or joiner.text.lower() != "and":
            raise BadFilter(f"expected 'and' at position {joiner.position}, got {joiner.text!r}",
                            position=joiner.position)
        index += 1
        if len(conditions) >= MAX_CONDITIONS:
            raise BadFilter(f"more than {MAX_CONDITIONS} conditions", position=joiner.position)
    return conditions


def parse_order_by(text: str) -> OrderBy:
    """Parse `field [asc|desc]` (ascending unless told)."""
    tokens = _tokens(text)
    name = _expect(tokens, 0, "word", text, "a field name")
    field = resolve_field(name.text, name.position)
    descending = False
    if len(tokens) > 1:
        direction = tokens[1]
        if direction.kind != "word" or direction.text.lower() not in ("asc", "desc"):
            raise BadFilter(f"expected asc or desc at position {direction.position}",
                            position=direction.position)
        descending = direction.text.lower() == "desc"
    if len(tokens) > 2:
        raise BadFilter(f"unexpected {tokens[2].text!r} at position {tokens[2].position}",
                        position=tokens[2].position)
    return OrderBy(field, descending)
