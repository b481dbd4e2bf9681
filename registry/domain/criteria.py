"""Acceptance criteria: validating rules and evaluating a version against them.

Pure: a version arrives as a `Subject` of plain values and the result is a plain `Evaluation`
whose every rule result carries the observed value, the expected value and a sentence a manager
can read. registry/services/evaluations.py loads subjects and stores evaluations.

Rule kinds (a rule is a JSON object; its keys decide the kind):
- threshold  `{metric, op, threshold}`; with `source: "live"` (and optional `max_age_s`) it reads
  the newest live value instead of the newest training/evaluation value.
- compare    `{metric, compare_to: "<stage>", higher_is_better, max_regression, relative}`:
  compares with the holder of any stage of the model (built-in or declared); passes when no
  other version holds it or it has no value for the metric.
- require    `{require: ["run.dataset.digest", ...]}`: metadata fields must be set.
"""
from __future__ import annotations

import datetime as dt
import math
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Collection, Mapping

from registry.domain.errors import InvalidInput
from registry.domain.stages import HELD_STAGES

CRITERIA_STAGES = HELD_STAGES  # every model's stages; a model may declare more
OPERATORS: dict[str, tuple[Callable[[float, float], bool], str]] = {
    ">=": (operator.ge, "at least"), ">": (operator.gt, "more than"),
    "<=": (operator.le, "at most"), "<": (operator.lt, "less than"), "==": (operator.eq, "exactly"),
}
METADATA_FIELDS = frozenset({
    "description", "source_uri", "run.id", "run.experiment", "run.uri", "run.started_at",
    "run.ended_at", "run.dataset.name", "run.dataset.version", "run.dataset.digest",
    "run.code.repo", "run.code.commit", "run.code.branch", "run.environment.python",
    "run.environment.requirements",
})
METADATA_FAMILIES = re.compile(r"^(run\.params|tags)\.[A-Za-z0-9_.:/-]{1,128}$")
METRIC_NAME = re.compile(r"^[A-Za-z0-9_.:/-]{1,128}$")
MAX_RULES = 100
KIND_KEYS = {
    "threshold": {"metric", "op", "threshold", "source", "max_age_s"},
    "compare": {"metric", "compare_to", "higher_is_better", "max_regression", "relative"},
    "require": {"require"},
}
TOLERANCE = 1e-9  # a value exactly at a bound passes despite binary floating point


@dataclass(frozen=True)
class Subject:
    """A version as the rules see it."""
    version: int
    metrics: Mapping[str, float] = field(default_factory=dict)  # newest training/evaluation
    live: Mapping[str, tuple[float, dt.datetime]] = field(default_factory=dict)
    metadata: Mapping[str, Any] = field(default_factory=dict)  # "run.code.commit" -> value


@dataclass(frozen=True)
class RuleResult:
    rule: dict
    observed: Any
    expected: Any
    passed: bool
    message: str
    margin: float | None = None  # how far inside the bound (negative: outside); numeric rules


@dataclass(frozen=True)
class Evaluation:
    stage: str
    passed: bool
    results: list[RuleResult]
    baseline_version: int | None


# ---- validation ---------------------------------------------------------------------------

def _finite(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value) and abs(value) <= 1e300)


def rule_kind(rule: Mapping) -> str | None:
    if "require" in rule:
        return "require"
    if "compare_to" in rule:
        return "compare"
    if "op" in rule or "threshold" in rule:
        return "threshold"
    return None


def _metric_errors(rule: Mapping) -> dict[str, str]:
    metric = rule.get("metric")
    if metric is None:
        return {"metric": "a metric name is required"}
    if not isinstance(metric, str) or not METRIC_NAME.match(metric):
        return {"metric": "must be a metric name: letters, digits and _ . : / -"}
    return {}


def _threshold_errors(rule: Mapping) -> dict[str, str]:
    errors = _metric_errors(rule)
    if rule.get("op") not in OPERATORS:
        errors["op"] = f"unknown operator {rule.get('op')!r}; use one of {', '.join(OPERATORS)}"
    if not _finite(rule.get("threshold")):
        errors["threshold"] = "must be a finite number"
    if rule.get("source", "live") != "live":
        errors["source"] = "only 'live' may be given; leave it out for the newest evaluation value"
    if "max_age_s" in rule:
        age = rule["max_age_s"]
        if "source" not in rule:
            errors["max_age_s"] = "applies only with source 'live'"
        elif not _finite(age) or age <= 0:
            errors["max_age_s"] = "must be a positive number of seconds"
    return errors


def _compare_errors(rule: Mapping, stages: Collection[str]) -> dict[str, str]:
    errors = _metric_errors(rule)
    if rule.get("compare_to") not in stages:
        errors["compare_to"] = f"must name a stage of this model: {', '.join(stages)}"
    for flag in ("higher_is_better", "relative"):
        if flag in rule and not isinstance(rule[flag], bool):
            errors[flag] = "must be true or false"
    regression = rule.get("max_regression", 0)
    if not _finite(regression) or regression < 0:
        errors["max_regression"] = "must be a finite number, zero or more"
    return errors


def _require_errors(rule: Mapping) -> dict[str, str]:
    fields = rule.get("require")
    if not isinstance(fields, list) or not fields or len(fields) > 50:
        return {"require": "must be a list of 1 to 50 metadata field names"}
    unknown = [f for f in fields if not isinstance(f, str)
               or not (f in METADATA_FIELDS or METADATA_FAMILIES.match(f))]
    if unknown:
        return {"require": f"unknown metadata field(s) {unknown!r}; use e.g. run.dataset.digest, "
                           "run.code.commit, run.params.<key>, tags.<key>"}
    return {}


CHECKS = {"threshold": _threshold_errors, "require": _require_errors}
DEFAULTS = {"compare": {"higher_is_better": True, "max_regression": 0, "relative": False}}


def validate_rules(rules: Any, where: str, stages: Collection[str] = CRITERIA_STAGES) -> list[dict]:
    """The rules of one stage, normalised (defaults filled in); compare rules may name any of
    `stages`.

    Raises InvalidInput whose `errors` map `<where>[<index>].<key>` to a message, so a client
    sees which rule and which key is wrong.
    """
    if not isinstance(rules, list) or len(rules) > MAX_RULES:
        raise InvalidInput(f"{where} must be a list of at most {MAX_RULES} rules",
                           errors={where: ["must be a list of rules"]})
    errors: dict[str, list[str]] = {}
    normalised = []
    for index, rule in enumerate(rules):
        name = f"{where}[{index}]"
        kind = rule_kind(rule) if isinstance(rule, dict) else None
        if kind is None:
            errors[name] = ["a rule needs op and threshold, compare_to, or require"]
            continue
        problems = _compare_errors(rule, stages) if kind == "compare" else CHECKS[kind](rule)
        problems.update({key: f"not a key of a {kind} rule"
                         for key in set(rule) - KIND_KEYS[kind]})
        errors.update({f"{name}.{key}": [message] for key, message in problems.items()})
        normalised.append({**rule, **{key: value for key, value in DEFAULTS.get(kind, {}).items()
                                      if key not in rule}})
    if errors:
        first = next(iter(errors))
        raise InvalidInput(f"invalid criteria rule at {first}: {errors[first][0]}", errors=errors)
    return normalised


def validate_criteria(stages: Any, where: str = "stages",
                      known: Collection[str] = CRITERIA_STAGES) -> dict[str, list[dict]]:
    """`{stage: [rule, ...]}` for any of the `known` stages (the model's, built-in and
    declared), normalised; raises InvalidInput."""
    if not isinstance(stages, dict):
        raise InvalidInput(f"{where} must be an object of stage -> rules",
                           errors={where: ["must be an object"]})
    unknown = set(stages) - set(known)
    if unknown:
        raise InvalidInput(f"criteria apply to this model's stages ({', '.join(known)}), not "
                           f"{sorted(unknown)}",
                           errors={f"{where}.{name}": ["not a stage of this model"]
                                   for name in unknown})
    return {stage: validate_rules(rules, f"{where}.{stage}", known)
            for stage, rules in stages.items()}


# ---- evaluation ---------------------------------------------------------------------------

def _num(value: float) -> str:
    return f"{value:.6g}"


def _age(seconds: float) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = seconds / size
            return f"{count:.3g} {unit}{'' if count == 1 else 's'}"
    return f"{seconds:.3g} seconds"


def _clean(number: float) -> float:
    """Twelve significant digits: 0.8 - 0.9 is -0.1 to a reader, not -0.09999999999999998."""
    return float(f"{number:.12g}")


def _threshold_margin(op: str, value: float, threshold: float) -> float:
    if op == "==":
        return _clean(-abs(value - threshold))
    return _clean(value - threshold if op in (">=", ">") else threshold - value)


def _threshold(rule: dict, subject: Subject, now: dt.datetime) -> RuleResult:
    metric, op, threshold = rule["metric"], rule["op"], rule["threshold"]
    compare, phrase = OPERATORS[op]
    expected = f"{op} {_num(threshold)}"
    live = rule.get("source") == "live"
    label = f"live {metric}" if live else metric
    if live:
        value, recorded_at = subject.live.get(metric, (None, None))
    else:
        value, recorded_at = subject.metrics.get(metric), None
    if value is None:
        return RuleResult(rule, None, expected, False, f"Version {subject.version} has no "
                          f"{label} value, so it cannot show {metric} is {phrase} {_num(threshold)}.")
    margin = _threshold_margin(op, value, threshold)
    if live and "max_age_s" in rule:
        age = (now - recorded_at).total_seconds()
        if age > rule["max_age_s"]:
            return RuleResult(rule, value, expected, False, f"The newest {label} value is "
                              f"{_age(age)} old; it must be at most {_age(rule['max_age_s'])} old.",
                              margin)
    ok = compare(value, threshold) or (op in (">=", "<=", "==") and math.isclose(
        value, threshold, rel_tol=TOLERANCE, abs_tol=TOLERANCE))
    verdict = f"{phrase} {_num(threshold)} as required" if ok else \
        f"it must be {phrase} {_num(threshold)}"
    return RuleResult(rule, value, expected, ok,
                      f"{label} is {_num(value)}{', ' if ok else ' but '}{verdict}.",
                      margin)


def _regression(rule: dict, value: float, base: float) -> float:
    """How much worse `value` is than `base` (negative when better); relative to |base|."""
    worse_by = base - value if rule["higher_is_better"] else value - base
    if not rule["relative"]:
        return worse_by
    if base == 0:
        return 0.0 if worse_by <= 0 else math.inf
    return worse_by / abs(base)


def _bound(rule: dict, base: float) -> float:
    """The worst value that still passes."""
    slack = rule["max_regression"] * (abs(base) if rule["relative"] else 1)
    return base - slack if rule["higher_is_better"] else base + slack


def _amount(rule: dict, amount: float) -> str:
    return f"{amount * 100:.4g}%" if rule["relative"] else _num(amount)


def _compare(rule: dict, subject: Subject, baseline: Subject | None) -> RuleResult:
    metric, stage = rule["metric"], rule["compare_to"]
    value = subject.metrics.get(metric)
    if baseline is None or baseline.metrics.get(metric) is None:
        why = f"no other version is in {stage}" if baseline is None else \
            f"{stage} version {baseline.version} has no {metric} value"
        return RuleResult(rule, value, None, True, f"Nothing to compare {metric} with: {why}.")
    base = baseline.metrics[metric]
    bound = _bound(rule, base)
    expected = f"{'>=' if rule['higher_is_better'] else '<='} {_num(bound)}"
    if value is None:
        return RuleResult(rule, None, expected, False, f"Version {subject.version} has no {metric} "
                          f"value to compare with {stage} version {baseline.version}'s "
                          f"{_num(base)}.")
    regression, allowed = _regression(rule, value, base), rule["max_regression"]
    ok = regression <= allowed or math.isclose(regression, allowed, rel_tol=TOLERANCE,
                                               abs_tol=TOLERANCE)
    head = f"{metric} is {_num(value)} against {_num(base)} for {stage} version " \
           f"{baseline.version}"
    if regression <= 0:
        tail = "no regression"
    else:
        tail = f"a regression of {_amount(rule, regression)}, " + \
            (f"within the allowed {_amount(rule, allowed)}" if ok else
             f"more than the allowed {_amount(rule, allowed)}")
    margin = _clean(value - bound if rule["higher_is_better"] else bound - value)
    return RuleResult(rule, value, expected, ok, f"{head}: {tail}.", margin)


def _present(value: Any) -> bool:
    return value is not None and value != "" and value != []


def _require(rule: dict, subject: Subject) -> RuleResult:
    fields = rule["require"]
    missing = [name for name in fields if not _present(subject.metadata.get(name))]
    observed = [name for name in fields if name not in missing]
    if missing:
        return RuleResult(rule, observed, fields, False,
                          f"Version {subject.version} is missing {', '.join(missing)}.")
    return RuleResult(rule, observed, fields, True, f"{', '.join(fields)} "
                      f"{'is' if len(fields) == 1 else 'are'} recorded.")


def evaluate(subject: Subject, rules: list[dict], *, stage: str, baseline: Subject | None,
             now: dt.datetime,
             baselines: Mapping[str, Subject | None] | None = None) -> Evaluation:
    """Every rule's result; the evaluation passes when all rules pass (an empty list passes).

    `baseline` is the production holder and `baselines` the holders of the other stages compare
    rules name (None, or left out, when there is none); a baseline that is the subject itself
    is ignored. `baseline_version` is the first compare rule's baseline, or production's when
    there is no compare rule. `rules` must come from validate_rules.
    """
    holders = {**(baselines or {}), "production": baseline}
    holders = {name: None if held is not None and held.version == subject.version else held
               for name, held in holders.items()}
    results, compared = [], []
    for rule in rules:
        kind = rule_kind(rule)
        if kind == "threshold":
            results.append(_threshold(rule, subject, now))
        elif kind == "compare":
            compared.append(holders.get(rule["compare_to"]))
            results.append(_compare(rule, subject, compared[-1]))
        else:
            results.append(_require(rule, subject))
    first = compared[0] if compared else holders["production"]
    return Evaluation(stage=stage, passed=all(r.passed for r in results), results=results,
                      baseline_version=first.version if first else None)
