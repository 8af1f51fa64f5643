"""The DuckDB diff, on its own: keys, hashes, and what counts as added, changed, removed."""

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from syncwright.domain.errors import ModelError
from syncwright.domain.statuses import WriteMode
from syncwright.engine.staging import Staging
from syncwright.storage.snapshots_repo import BASE_PART, FOLD_PARTS, SnapshotLog, part


def stage(tmp_path, rows, prev=None, **kw):
    staging = Staging(tmp_path / "s.duckdb", primary_key=kw.pop("pk", ("id",)), **kw)
    if rows:
        staging.add_rows(pa.RecordBatch.from_pylist(rows))
        staging.flush()
    staging.load_snapshot(SnapshotLog([] if prev is None else [(1, prev)], folded=True))
    return staging


def snapshot_of(tmp_path, rows):
    staging = stage(tmp_path, rows)
    table = staging.db.sql(
        "SELECT item_key, reference, row_hash, false AS removed FROM cur"
    ).to_arrow_table()
    staging.close()
    return table if table.num_rows else None


def test_rows_are_keyed_and_hashed_stably(tmp_path):
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]
    first = snapshot_of(tmp_path, rows).to_pylist()
    again = snapshot_of(tmp_path, list(reversed(rows))).to_pylist()
    assert sorted(first, key=str) == sorted(again, key=str)
    assert {r["item_key"] for r in first} == {'{"id":1}', '{"id":2}'}


def test_composite_keys_and_references(tmp_path):
    staging = stage(tmp_path, [{"a": 1, "b": "x", "sku": "S1"}], pk=("a", "b"), reference="sku")
    assert staging.db.execute("SELECT item_key, source_id, reference FROM cur").fetchall() == [
        ('{"a":1,"b":"x"}', "1/x", "S1")
    ]
    staging.close()


def test_empty_and_repeated_keys_are_refused(tmp_path):
    staging = stage(tmp_path, [{"id": None, "v": 1}])
    with pytest.raises(ModelError, match="empty primary key"):
        staging.check_keys()
    staging.close()
    staging = stage(tmp_path, [{"id": 7, "v": 1}, {"id": 7, "v": 2}])
    with pytest.raises(ModelError, match=r"repeated, e.g. 7 \(2 rows\)"):
        staging.check_keys()
    staging.close()


def test_a_missing_key_column_is_named(tmp_path):
    staging = Staging(tmp_path / "s.duckdb", primary_key=("code",))
    with pytest.raises(ModelError, match="no column 'code'"):
        staging.add_rows(pa.RecordBatch.from_pylist([{"id": 1}]))
    staging.close()


rows_strategy = st.dictionaries(st.integers(0, 30), st.integers(0, 3), max_size=25)


@settings(max_examples=60, deadline=None)
@given(before=rows_strategy, after=rows_strategy, mode=st.sampled_from(list(WriteMode)))
def test_diff_matches_a_plain_python_diff(tmp_path_factory, before, after, mode):
    tmp_path = tmp_path_factory.mktemp("diff")
    prev = snapshot_of(tmp_path, [{"id": k, "v": v} for k, v in before.items()])
    staging = stage(tmp_path, [{"id": k, "v": v} for k, v in after.items()], prev=prev)
    diff = staging.diff(full=False, see_removals=True, write_mode=mode)
    added = after.keys() - before.keys()
    removed = before.keys() - after.keys()
    changed = {k for k in after.keys() & before.keys() if after[k] != before[k]}
    assert (diff.added, diff.changed, diff.removed) == (len(added), len(changed), len(removed))
    assert diff.read == diff.unchanged + diff.added + diff.changed
    expected = len(added) + (0 if mode is WriteMode.INSERT else len(changed))
    expected += len(removed) if mode is WriteMode.MIRROR else 0
    delivered = [row for chunk in staging.deliverable() for row in chunk]
    assert diff.deliverable == expected == len(delivered)
    assert [r["seq"] for r in delivered] == list(range(len(delivered)))
    assert diff.skipped == diff.added + diff.changed + diff.removed - expected
    staging.close()


def test_full_resync_sends_everything_and_sees_removals(tmp_path):
    prev = snapshot_of(tmp_path, [{"id": 1, "v": 1}, {"id": 2, "v": 1}])
    staging = stage(tmp_path, [{"id": 1, "v": 1}, {"id": 3, "v": 1}], prev=prev)
    diff = staging.diff(full=True, see_removals=True, write_mode=WriteMode.MIRROR)
    assert (diff.added, diff.changed, diff.removed, diff.unchanged) == (1, 1, 1, 0)
    staging.close()


def test_cursor_reads_do_not_see_removals(tmp_path):
    prev = snapshot_of(tmp_path, [{"id": 1, "v": 1}, {"id": 2, "v": 1}])
    staging = stage(tmp_path, [{"id": 2, "v": 2}], prev=prev)
    diff = staging.diff(full=False, see_removals=False, write_mode=WriteMode.MIRROR)
    assert (diff.changed, diff.removed) == (1, 0)
    staging.close()


def _links(rows):
    return pa.RecordBatch.from_pylist(
        rows,
        schema=pa.schema(
            [("item_key", pa.string()), ("reference", pa.string()), ("entry_id", pa.int64())]
        ),
    )


def _changes(staging):
    return {r["item_key"]: r for chunk in staging.deliverable() for r in chunk}


def test_changes_link_to_the_open_failures_of_their_items(tmp_path):
    before = snapshot_of(tmp_path, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}])
    staging = stage(
        tmp_path, [{"id": 1, "v": "a"}, {"id": 2, "v": "B"}, {"id": 3, "v": "c"}], before
    )
    staging.add_links(_links([{"item_key": '{"id":2}', "reference": "2", "entry_id": 41}]))
    diff = staging.diff(full=False, see_removals=True, write_mode=WriteMode.MIRROR)
    changes = _changes(staging)
    assert (diff.added, diff.changed, diff.unchanged) == (1, 1, 1)
    assert changes['{"id":2}']["retry_of"] == 41 and changes['{"id":3}']["retry_of"] is None
    staging.close()


def test_a_resync_sends_the_selected_items_as_the_model_has_them_now(tmp_path):
    before = snapshot_of(tmp_path, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 9, "v": "z"}])
    staging = stage(
        tmp_path, [{"id": 1, "v": "a"}, {"id": 2, "v": "b"}, {"id": 3, "v": "c"}], before
    )
    staging.add_links(
        _links(
            [
                {"item_key": '{"id":1}', "reference": "1", "entry_id": 10},  # unchanged: sent
                {"item_key": '{"id":3}', "reference": "3", "entry_id": 30},  # never delivered
                {"item_key": '{"id":9}', "reference": "9", "entry_id": 90},  # gone: removed
            ]
        )
    )
    diff = staging.diff_selected(write_mode=WriteMode.MIRROR)
    changes = _changes(staging)
    assert {k: (c["operation"], c["retry_of"]) for k, c in changes.items()} == {
        '{"id":1}': ("change", 10),
        '{"id":3}': ("add", 30),
        '{"id":9}': ("remove", 90),
    }
    assert changes['{"id":9}']["source_id"] == "9"
    assert (diff.read, diff.unchanged, diff.added, diff.changed, diff.removed) == (2, 0, 1, 1, 1)
    staging.close()
    # A write mode that never removes skips the removal.
    staging = stage(tmp_path, [{"id": 1, "v": "a"}], before)
    staging.add_links(_links([{"item_key": '{"id":9}', "reference": "9", "entry_id": 90}]))
    diff = staging.diff_selected(write_mode=WriteMode.UPSERT)
    assert (diff.removed, diff.deliverable, diff.skipped) == (1, 0, 1)
    staging.close()


def test_the_newest_part_of_the_snapshot_log_says_what_was_delivered(tmp_path):
    def delta(*items):
        return part(
            [k for k, _ in items],
            ["ref"] * len(items),
            [h for _, h in items],
            [h is None for _, h in items],
        )

    log = SnapshotLog(
        [
            (1, delta(('{"id":1}', "a"), ('{"id":2}', "b"))),
            (5, delta(('{"id":1}', None))),  # removed
            (7, delta(('{"id":2}', "c"), ('{"id":3}', "d"))),
        ],
        folded=False,
    )
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",))
    staging.load_snapshot(log)
    assert sorted(staging.db.execute("SELECT item_key, row_hash FROM prev").fetchall()) == [
        ('{"id":2}', "c"),
        ('{"id":3}', "d"),
    ]
    folded = [r for b in staging.snapshot_batches() for r in b.to_pylist()]
    assert sorted(r["item_key"] for r in folded) == ['{"id":2}', '{"id":3}']
    staging.close()


def test_the_log_is_folded_once_its_new_parts_hold_a_fifth_of_the_base():
    def log(base, *deltas):
        tables = [part(["k"] * n, ["r"] * n, ["h"] * n, [False] * n) for n in (base, *deltas)]
        return SnapshotLog(
            list(enumerate(tables, 1)), folded=not deltas, base_items=base, base_parts=1
        )

    assert not log(100).worth_folding  # one base
    assert not log(100, 10, 10).worth_folding  # 20%: not yet
    assert log(100, 10, 11).worth_folding
    assert log(0, 5).worth_folding  # parts without a base (a first run's batches)
    assert log(10_000, *[1] * 201).worth_folding  # many small parts
    # A base of many small parts (a first load in small batches) is folded once into full
    # parts; a base of full parts never is, however many.
    small = [(n, pa.table({"k": pa.nulls(10)})) for n in range(FOLD_PARTS + 1)]
    assert SnapshotLog(small, folded=True).worth_folding
    full = [(n, pa.table({"k": pa.nulls(BASE_PART)})) for n in range(FOLD_PARTS + 40)]
    assert not SnapshotLog(full, folded=True).worth_folding


@settings(max_examples=60, deadline=None)
@given(
    base=st.lists(st.integers(0, 30), unique=True, max_size=25),
    split=st.integers(1, 4),
    newer=st.lists(st.lists(st.tuples(st.integers(0, 40), st.booleans()), max_size=8), max_size=4),
)
def test_a_base_of_several_parts_then_newer_parts_read_as_the_newest_of_each(
    tmp_path_factory, base, split, newer
):
    """The base (items once each, in one or more parts: a fold's, or a first load's batches)
    is taken as it is, but for the items a newer part names again or removes."""
    expected = {i: f"b{i}" for i in base}
    parts = []
    for n in range(split):
        chosen = base[n::split]
        parts.append(
            part(
                [f"[{i}]" for i in chosen],
                ["r"] * len(chosen),
                [f"b{i}" for i in chosen],
                [False] * len(chosen),
            )
        )
    for number, items in enumerate(newer):
        latest = {}
        for i, removed in items:
            latest[i] = removed
        for i, removed in latest.items():
            if removed:
                expected.pop(i, None)
            else:
                expected[i] = f"n{number}-{i}"
        parts.append(
            part(
                [f"[{i}]" for i in latest],
                ["r"] * len(latest),
                [None if r else f"n{number}-{i}" for i, r in latest.items()],
                list(latest.values()),
            )
        )
    log = SnapshotLog(
        list(enumerate(parts, 1)),
        folded=not newer,
        base_items=len(base),
        base_parts=split,
    )
    staging = Staging(tmp_path_factory.mktemp("s") / "s.duckdb", primary_key=("id",))
    try:
        staging.load_snapshot(log)
        found = dict(staging.db.execute("SELECT item_key, row_hash FROM prev").fetchall())
    finally:
        staging.close()
    assert found == {f"[{i}]": h for i, h in expected.items()}


def test_a_whole_model_diff_carries_unchanged_rows_after_the_changes(tmp_path):
    before = snapshot_of(tmp_path, [{"id": i, "v": "a"} for i in range(1, 6)])
    after = [{"id": 1, "v": "B"}, *({"id": i, "v": "a"} for i in range(2, 5)), {"id": 9, "v": "n"}]
    staging = stage(tmp_path, after, before)
    diff = staging.diff(
        full=False, see_removals=True, write_mode=WriteMode.MIRROR, carry_unchanged=True
    )
    assert (diff.added, diff.changed, diff.removed, diff.unchanged) == (1, 1, 1, 3)
    assert diff.deliverable == 3  # the items: the carried rows are not
    rows = [row for chunk in staging.deliverable(size=2) for row in chunk]
    assert [(r["operation"], r["item_key"]) for r in rows[:3]] == [
        ("add", '{"id":9}'),
        ("change", '{"id":1}'),
        ("remove", '{"id":5}'),
    ]
    assert sorted(r["item_key"] for r in rows[3:]) == ['{"id":2}', '{"id":3}', '{"id":4}']
    assert {r["operation"] for r in rows[3:]} == {"unchanged"}
    assert [r["seq"] for r in rows] == list(range(6))
    assert {s["operation"] for s in staging.sample(5)} == {"add", "change", "remove"}
    staging.close()


def test_rows_held_in_groups_are_all_staged_whatever_their_batches(tmp_path, monkeypatch):
    import syncwright.engine.staging as staging_module

    monkeypatch.setattr(staging_module, "STAGE_ROWS", 25)
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",), cursor="seq")
    for start in range(0, 70, 10):
        rows = [{"id": i, "seq": i} for i in range(start, start + 10)]
        if start == 30:  # another schema in the middle: what is held is staged first
            rows = [{**r, "seq": float(r["seq"])} for r in rows]
        staging.add_rows(pa.RecordBatch.from_pylist(rows))
    assert staging.max_cursor == 69
    assert staging.sql_types is None  # seq was a whole number, then not
    staging.load_snapshot(SnapshotLog([], folded=True))
    diff = staging.diff(full=False, see_removals=True, write_mode=WriteMode.UPSERT)
    assert (diff.read, diff.added) == (70, 70)
    staging.close()


def test_rows_held_when_the_source_starts_over_are_forgotten_too(tmp_path):
    staging = Staging(tmp_path / "s.duckdb", primary_key=("id",), cursor="seq")
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": i, "seq": i} for i in range(5)]))
    staging.forget_rows()  # the source raised ReadAgain: it reads everything again
    staging.add_rows(pa.RecordBatch.from_pylist([{"id": i, "seq": 10 + i} for i in range(3)]))
    staging.load_snapshot(SnapshotLog([], folded=True))
    diff = staging.diff(full=False, see_removals=True, write_mode=WriteMode.UPSERT)
    assert (diff.read, diff.added, staging.max_cursor) == (3, 3, 12)
    staging.close()
