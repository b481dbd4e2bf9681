"""Stage planning, table-driven: rollback targets, compare-and-set, promotability."""
import pytest

from registry.domain.errors import Conflict, NoRollbackTarget, StageConflict, StaleVersion
from registry.domain.stages import Holding, check_expected, check_promotable, plan_rollback


def h(version, status="ready", stage="archived", rolled_back=False):
    return Holding(version=version, status=status, stage=stage, rolled_back=rolled_back)


CURRENT = h(5, stage="production")
ROLLBACKS = [
    ("newest earlier holder", [h(5), h(4), h(2)], set(), 4),
    ("skips rolled back", [h(4, rolled_back=True), h(2)], set(), 2),
    ("skips missing files", [h(4), h(2)], {4}, 2),
    ("skips the current holder", [CURRENT, h(3)], set(), 3),
    ("skips pending", [h(4, status="pending"), h(1)], set(), 1),
]


@pytest.mark.parametrize("holders, broken, expected", [c[1:] for c in ROLLBACKS],
                         ids=[c[0] for c in ROLLBACKS])
def test_rollback_targets(holders, broken, expected):
    target = plan_rollback("production", CURRENT, holders,
                           files_intact=lambda number: number not in broken)
    assert target.version == expected


def test_no_target_explains_what_was_skipped():
    with pytest.raises(NoRollbackTarget) as caught:
        plan_rollback("production", CURRENT, [h(4, rolled_back=True), h(3)],
                      files_intact=lambda number: number != 3)
    assert "4 (rolled back from), 3 (files missing or truncated)" in caught.value.detail


def test_nothing_to_roll_back_from():
    with pytest.raises(NoRollbackTarget, match="nothing to roll back from"):
        plan_rollback("staging", None, [h(1)], files_intact=lambda _: True)


@pytest.mark.parametrize("target, held, intact, phrase", [
    (h(5), True, True, "already holds"),
    (h(3), False, True, "never held"),
    (h(3, status="pending"), True, True, "pending"),
    (h(3), True, False, "files missing"),
])
def test_explicit_targets_that_cannot_be_used(target, held, intact, phrase):
    with pytest.raises(Conflict, match=phrase):
        plan_rollback("production", CURRENT, [], files_intact=lambda _: intact,
                      to_version=target, to_version_held=held)


def test_an_explicit_target_may_have_been_rolled_back_from():
    target = h(3, rolled_back=True)
    assert plan_rollback("production", CURRENT, [], files_intact=lambda _: True,
                         to_version=target, to_version_held=True) == target


@pytest.mark.parametrize("current, kwargs, stale", [
    (3, {"expect_given": True, "expected": 3}, False),
    (3, {"expect_given": True, "expected": 2}, True),
    (None, {"expect_given": True, "expected": None}, False),
    (3, {"expect_given": True, "expected": None}, True),
    (3, {"expected": None}, False),  # not given: no precondition
    (3, {"if_match": ['"e1"'], "current_etag": '"e1"'}, False),
    (3, {"if_match": ['"e0"'], "current_etag": '"e1"'}, True),
    (3, {"if_match": ["*"], "current_etag": '"e1"'}, False),
    (None, {"if_match": ["*"], "current_etag": None}, True),
    (3, {"expect_given": True, "expected": 3, "if_match": ['"e0"'], "current_etag": '"e1"'}, True),
])
def test_compare_and_set(current, kwargs, stale):
    if stale:
        with pytest.raises(StaleVersion) as caught:
            check_expected("production", current, **kwargs)
        assert caught.value.extensions["current_version"] == current
    else:
        check_expected("production", current, **kwargs)


@pytest.mark.parametrize("target, phrase", [(h(2, status="pending"), "finalize"),
                                            (h(2, stage="production"), "already holds")])
def test_versions_that_cannot_be_promoted(target, phrase):
    with pytest.raises(StageConflict, match=phrase):
        check_promotable(target, "production")


def test_a_rollback_names_what_it_passes_over():
    from registry.domain.stages import rollback_skips
    holders = [CURRENT, h(4, rolled_back=True), h(3), h(2)]
    broken = {3}
    target = plan_rollback("production", CURRENT, holders, files_intact=lambda n: n not in broken)
    assert target.version == 2
    assert rollback_skips(CURRENT, holders, target.version, lambda n: n not in broken) == [
        "4 (rolled back from)", "3 (files missing or truncated)"]
