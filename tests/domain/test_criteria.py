"""Criteria rules, table-driven: every kind, missing values, no baseline, equality, boundaries."""
import datetime as dt

import pytest

from registry.domain.criteria import Subject, evaluate, validate_criteria, validate_rules
from registry.domain.errors import InvalidInput

NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.timezone.utc)
CANDIDATE = Subject(version=7, metrics={"accuracy": 0.91, "latency_ms": 40.0, "zero": 0.0},
                    live={"ctr": (0.05, NOW - dt.timedelta(minutes=10))},
                    metadata={"run.dataset.digest": "sha256:ab", "run.code.commit": "",
                              "tags.team": "nlp"})
PRODUCTION = Subject(version=5, metrics={"accuracy": 0.92, "latency_ms": 50.0, "zero": 0.0})


def rule(**kwargs):
    return validate_rules([kwargs], "rules")[0]


CASES = [
    # (id, rule, baseline, passes, observed, phrase in message)
    ("threshold met", rule(metric="accuracy", op=">=", threshold=0.9), None, True, 0.91,
     "accuracy is 0.91, at least 0.9 as required."),
    ("threshold missed", rule(metric="accuracy", op=">=", threshold=0.95), None, False, 0.91,
     "accuracy is 0.91 but it must be at least 0.95."),
    ("threshold equal, inclusive", rule(metric="accuracy", op=">=", threshold=0.91), None, True,
     0.91, "at least 0.91"),
    ("threshold equal, strict", rule(metric="accuracy", op=">", threshold=0.91), None, False,
     0.91, "must be more than 0.91"),
    ("threshold equality", rule(metric="latency_ms", op="==", threshold=40), None, True, 40.0,
     "exactly 40"),
    ("threshold lower is better", rule(metric="latency_ms", op="<", threshold=45), None, True,
     40.0, "less than 45"),
    ("missing metric", rule(metric="f1", op=">=", threshold=0.5), None, False, None,
     "Version 7 has no f1 value"),
    ("live fresh", rule(metric="ctr", op=">=", threshold=0.04, source="live", max_age_s=3600),
     None, True, 0.05, "live ctr is 0.05"),
    ("live stale", rule(metric="ctr", op=">=", threshold=0.04, source="live", max_age_s=60),
     None, False, 0.05, "The newest live ctr value is 10 minutes old; it must be at most "
     "1 minute old."),
    ("live missing", rule(metric="accuracy", op=">=", threshold=0.5, source="live"), None, False,
     None, "has no live accuracy value"),
    ("live below", rule(metric="ctr", op=">=", threshold=0.06, source="live"), None, False, 0.05,
     "must be at least 0.06"),
    ("compare, no production", rule(metric="accuracy", compare_to="production"), None, True,
     0.91, "no other version is in production"),
    ("compare, production lacks metric", rule(metric="f1", compare_to="production"), PRODUCTION,
     True, None, "production version 5 has no f1 value"),
    ("compare, candidate lacks metric", rule(metric="mystery", compare_to="production"),
     Subject(version=5, metrics={"mystery": 1.0}), False, None, "has no mystery value"),
    ("compare, absolute regression too large",
     rule(metric="accuracy", compare_to="production", max_regression=0.005), PRODUCTION, False,
     0.91, "a regression of 0.01, more than the allowed 0.005"),
    ("compare, absolute regression allowed",
     rule(metric="accuracy", compare_to="production", max_regression=0.02), PRODUCTION, True,
     0.91, "within the allowed 0.02"),
    ("compare, equal values", rule(metric="zero", compare_to="production"), PRODUCTION, True, 0.0,
     "no regression"),
    ("compare, lower is better improves",
     rule(metric="latency_ms", compare_to="production", higher_is_better=False), PRODUCTION, True,
     40.0, "no regression"),
    ("compare, lower is better regresses",
     rule(metric="latency_ms", compare_to="production", higher_is_better=False),
     Subject(version=5, metrics={"latency_ms": 30.0}), False, 40.0, "a regression of 10"),
    # 0.80 -> 0.76 is exactly 5% worse; binary floats make it 5.000000000000004%
    ("relative regression at the boundary passes",
     rule(metric="acc", compare_to="production", max_regression=0.05, relative=True),
     Subject(version=5, metrics={"acc": 0.8}), True, 0.76, "a regression of 5%, within the allowed 5%"),
    ("relative regression just past the boundary fails",
     rule(metric="acc", compare_to="production", max_regression=0.05, relative=True),
     Subject(version=5, metrics={"acc": 0.8}), False, 0.7599, "more than the allowed 5%"),
    ("relative against a zero baseline",
     rule(metric="zero", compare_to="production", relative=True, max_regression=0.1),
     Subject(version=5, metrics={"zero": -0.0}), True, 0.0, "no regression"),
    ("relative, zero baseline, no change", rule(metric="zero", compare_to="production",
                                                relative=True), PRODUCTION, True, 0.0, "no regression"),
    ("require present", rule(require=["run.dataset.digest", "tags.team"]), None, True,
     ["run.dataset.digest", "tags.team"], "run.dataset.digest, tags.team are recorded."),
    ("require missing and empty", rule(require=["run.dataset.digest", "run.code.commit",
                                                "run.params.lr"]), None, False,
     ["run.dataset.digest"], "Version 7 is missing run.code.commit, run.params.lr."),
]


@pytest.mark.parametrize("case_rule, baseline, passes, observed, phrase",
                         [case[1:] for case in CASES], ids=[case[0] for case in CASES])
def test_rule_results(case_rule, baseline, passes, observed, phrase):
    subject = CANDIDATE
    if case_rule.get("metric") == "acc":
        subject = Subject(version=7, metrics={"acc": observed})
    result = evaluate(subject, [case_rule], stage="production", baseline=baseline, now=NOW)
    only = result.results[0]
    assert (only.passed, result.passed) == (passes, passes)
    assert only.observed == observed
    assert only.rule == case_rule
    if phrase:
        assert phrase in only.message, only.message


def test_expected_value_of_a_comparison_is_the_worst_value_that_passes():
    result = evaluate(CANDIDATE, [rule(metric="accuracy", compare_to="production",
                                       max_regression=0.1, relative=True)],
                      stage="production", baseline=PRODUCTION, now=NOW)
    assert result.results[0].expected == ">= 0.828"
    assert result.baseline_version == 5


def test_the_production_version_is_not_its_own_baseline():
    result = evaluate(PRODUCTION, [rule(metric="accuracy", compare_to="production")],
                      stage="production", baseline=PRODUCTION, now=NOW)
    assert result.passed and result.baseline_version is None


def test_all_rules_must_pass_and_no_rules_pass():
    rules = validate_rules([{"metric": "accuracy", "op": ">=", "threshold": 0.9},
                            {"metric": "accuracy", "op": ">=", "threshold": 0.99}], "r")
    result = evaluate(CANDIDATE, rules, stage="staging", baseline=None, now=NOW)
    assert [r.passed for r in result.results] == [True, False] and not result.passed
    assert evaluate(CANDIDATE, [], stage="staging", baseline=None, now=NOW).passed


def test_compare_defaults_are_filled_in():
    assert rule(metric="a", compare_to="production") == {
        "metric": "a", "compare_to": "production", "higher_is_better": True,
        "max_regression": 0, "relative": False}


BAD_RULES = [
    ({"metric": "a", "op": "=>", "threshold": 1}, "stages.production[0].op", "unknown operator"),
    ({"op": ">=", "threshold": 1}, "stages.production[0].metric", "metric name is required"),
    ({"metric": "a", "op": ">=", "threshold": float("nan")}, "stages.production[0].threshold",
     "finite"),
    ({"metric": "a", "op": ">=", "threshold": float("inf")}, "stages.production[0].threshold",
     "finite"),
    ({"metric": "a", "op": ">=", "threshold": "0.9"}, "stages.production[0].threshold", "finite"),
    ({"metric": "a", "op": ">=", "threshold": True}, "stages.production[0].threshold", "finite"),
    ({"metric": "a", "op": ">=", "threshold": 1, "max_age_s": 5},
     "stages.production[0].max_age_s", "only with source"),
    ({"metric": "a", "op": ">=", "threshold": 1, "source": "live", "max_age_s": -5},
     "stages.production[0].max_age_s", "positive"),
    ({"metric": "a", "op": ">=", "threshold": 1, "source": "training"},
     "stages.production[0].source", "only 'live'"),
    ({"metric": "a", "compare_to": "canary"}, "stages.production[0].compare_to", "production"),
    ({"metric": "a", "compare_to": "production", "max_regression": -1},
     "stages.production[0].max_regression", "zero or more"),
    ({"metric": "a", "compare_to": "production", "relative": "yes"},
     "stages.production[0].relative", "true or false"),
    ({"require": []}, "stages.production[0].require", "1 to 50"),
    ({"require": ["run.secret"]}, "stages.production[0].require", "unknown metadata"),
    ({"metric": "a", "op": ">=", "threshold": 1, "colour": "red"},
     "stages.production[0].colour", "not a key"),
    ({"metric": "a"}, "stages.production[0]", "needs op and threshold"),
    ("accuracy >= 0.9", "stages.production[0]", "needs op and threshold"),
]


@pytest.mark.parametrize("bad, key, phrase", BAD_RULES, ids=[b[1] + ":" + b[2] for b in BAD_RULES])
def test_invalid_rules_are_refused_naming_the_rule(bad, key, phrase):
    with pytest.raises(InvalidInput) as caught:
        validate_criteria({"production": [bad]})
    errors = caught.value.extensions["errors"]
    assert key in errors and phrase in errors[key][0], errors
    assert key in caught.value.detail


def test_only_staging_and_production_take_criteria():
    with pytest.raises(InvalidInput) as caught:
        validate_criteria({"archived": []})
    assert "stages.archived" in caught.value.extensions["errors"]


def test_margins_carry_no_float_noise():
    from registry.domain.criteria import _threshold_margin

    assert _threshold_margin(">=", 0.8, 0.9) == -0.1
    assert _threshold_margin("<=", 0.3, 0.1) == -0.2
