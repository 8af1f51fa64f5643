from syncwright.domain.counters import Counters


def test_balanced_counters_have_no_problems():
    c = Counters(read=10, unchanged=6, added=3, changed=1, removed=2, ok=4, failed=1, skipped=1)
    assert c.problems() == []


def test_unbalanced_counters_say_which_identity_breaks():
    c = Counters(read=10, unchanged=6, added=3, changed=0, removed=0, ok=3)
    assert len(c.problems()) == 1 and "read 10" in c.problems()[0]
    c = Counters(read=3, added=3, ok=2)
    assert "added + changed + removed = 3" in c.problems()[0]


def test_from_row_reads_every_counter():
    row = {"read": 5, "unchanged": 1, "added": 4, "ok": 3, "failed": 1, "extra": 9}
    c = Counters.from_row(row)
    assert (c.read, c.added, c.ok, c.failed, c.removed) == (5, 4, 3, 1, 0)
