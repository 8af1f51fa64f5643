import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncwright.domain.errors import IllegalTransition
from syncwright.domain.statuses import (
    FINAL_RUN_STATUSES,
    LIVE_RUN_STATUSES,
    Operation,
    RunStatus,
    WriteMode,
    can_transition,
    check_transition,
)

HAPPY_PATH = [
    RunStatus.QUEUED,
    RunStatus.QUERYING,
    RunStatus.PREPARING,
    RunStatus.IN_PROGRESS,
    RunStatus.SUCCEEDED,
]


def test_the_happy_path_is_legal():
    for current, new in zip(HAPPY_PATH, HAPPY_PATH[1:], strict=False):
        check_transition(current, new)


def test_a_final_run_never_moves_again():
    for final in FINAL_RUN_STATUSES:
        for other in RunStatus:
            if other is not final:
                assert not can_transition(final, other)
        with pytest.raises(IllegalTransition, match="cannot go from"):
            check_transition(final, RunStatus.QUERYING)


def test_a_run_cannot_skip_back_to_queued():
    assert not can_transition(RunStatus.IN_PROGRESS, RunStatus.QUEUED)
    assert not can_transition(RunStatus.PREPARING, RunStatus.QUERYING)


@given(st.lists(st.sampled_from(list(RunStatus)), max_size=12))
def test_any_legal_walk_from_queued_stays_live_until_final(walk):
    current = RunStatus.QUEUED
    for new in walk:
        if can_transition(current, new):
            current = new
    assert current in LIVE_RUN_STATUSES or current in FINAL_RUN_STATUSES


def test_write_modes_deliver_what_they_promise():
    assert WriteMode.INSERT.delivers(Operation.ADD)
    assert not WriteMode.INSERT.delivers(Operation.CHANGE)
    assert not WriteMode.UPSERT.delivers(Operation.REMOVE)
    assert WriteMode.UPDATE.delivers(Operation.CHANGE)
    assert all(WriteMode.MIRROR.delivers(op) for op in Operation)
