import datetime as dt

import pytest

from registry.domain.errors import BadFilter
from registry.domain.filters import Condition, Field, parse_filter, parse_order_by

UTC = dt.timezone.utc


@pytest.mark.parametrize("text, expected", [
    ("", []),
    ("metrics.accuracy >= 0.9",
     [Condition(Field("metrics", "accuracy", "number"), ">=", 0.9)]),
    ("params.optimizer = 'adam'", [Condition(Field("params", "optimizer", "scalar"), "=", "adam")]),
    ('params.lr < 1e-3', [Condition(Field("params", "lr", "scalar"), "<", 0.001)]),
    ("tags.team != \"nlp\"", [Condition(Field("tags", "team", "text"), "!=", "nlp")]),
    ("version > 3 AND stage = 'production'",
     [Condition(Field("plain", "version", "int"), ">", 3),
      Condition(Field("plain", "stage", "stage"), "=", "production")]),
    ("run.dataset.digest = 'sha256:ab'",
     [Condition(Field("run", "run.dataset.digest", "text"), "=", "sha256:ab")]),
    ("created_at >= '2026-01-02T03:04:05Z'",
     [Condition(Field("plain", "created_at", "time"), ">=",
                dt.datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC))]),
    ("metrics.loss<-1.5", [Condition(Field("metrics", "loss", "number"), "<", -1.5)]),
    ("tags.note = 'it\\'s'", [Condition(Field("tags", "note", "text"), "=", "it's")]),
    ("metrics.val.f1 > .5", [Condition(Field("metrics", "val.f1", "number"), ">", 0.5)]),
])
def test_parses(text, expected):
    assert parse_filter(text) == expected


@pytest.mark.parametrize("text, position", [
    ("metrics.acc >", 13),                       # missing value
    ("metrics.acc 0.9", 12),                     # missing operator
    ("bogus = 1", 0),                            # unknown field
    ("metrics.acc >= 'high'", 15),               # metrics take numbers
    ("version = 1.5", 10),                       # versions are whole numbers
    ("version = 99999999999", 10),               # bounded ints
    ("stage = 'prod'", 8),                       # unknown stage
    ("tags.team = nlp", 12),                     # unquoted string
    ("metrics.acc > 1 or version = 2", 16),      # only `and`
    ("metrics.acc > 1 and", 19),                 # dangling and
    ("tags.team = 'nlp", 12),                    # unterminated string
    ("metrics.acc > 1 # x", 16),                 # stray character
    ("created_at > 'yesterday'", 13),            # not a time
    ("metrics.acc > 1e999", 14),                 # not finite
    ("metrics. > 1", 0),                         # family without key
])
def test_errors_carry_position(text, position):
    with pytest.raises(BadFilter) as caught:
        parse_filter(text)
    assert caught.value.extensions["position"] == position
    assert f"position {position}" in caught.value.detail


def test_too_many_conditions():
    with pytest.raises(BadFilter):
        parse_filter(" and ".join(["version > 1"] * 40))


@pytest.mark.parametrize("text, field, descending", [
    ("metrics.accuracy desc", Field("metrics", "accuracy", "number"), True),
    ("version", Field("plain", "version", "int"), False),
    ("created_at ASC", Field("plain", "created_at", "time"), False),
])
def test_order_by(text, field, descending):
    order = parse_order_by(text)
    assert (order.field, order.descending) == (field, descending)


@pytest.mark.parametrize("text", ["", "metrics.acc sideways", "version desc extra", "nope asc"])
def test_order_by_errors(text):
    with pytest.raises(BadFilter):
        parse_order_by(text)
