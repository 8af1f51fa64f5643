import pytest

from syncwright.domain.guard import WipeGuard


def test_an_empty_model_over_a_filled_destination_is_refused():
    reason = WipeGuard().check(rows_read=0, delivered_before=100, removals=100)
    assert reason and "no rows" in reason


def test_an_empty_model_may_be_allowed_explicitly():
    guard = WipeGuard(allow_empty=True, max_delete_share=1.0)
    assert guard.check(rows_read=0, delivered_before=100, removals=100) is None


def test_a_cursor_run_reading_nothing_is_normal():
    assert (
        WipeGuard().check(rows_read=0, delivered_before=100, removals=0, whole_model=False) is None
    )


def test_deleting_more_than_the_share_is_refused():
    reason = WipeGuard(max_delete_share=0.5).check(rows_read=40, delivered_before=100, removals=60)
    assert reason and "60 of 100" in reason and "60%" in reason
    assert (
        WipeGuard(max_delete_share=0.5).check(rows_read=60, delivered_before=100, removals=40)
        is None
    )


def test_a_first_run_is_never_guarded():
    assert WipeGuard().check(rows_read=0, delivered_before=0, removals=0) is None


def test_share_must_be_a_fraction():
    with pytest.raises(ValueError):
        WipeGuard(max_delete_share=1.5)
