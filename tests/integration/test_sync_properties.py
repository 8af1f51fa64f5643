"""For any sequence of edits to the model, after a successful run the destination equals the
model and the run's entries account for every change. Real engine, real databases."""

from __future__ import annotations

import itertools

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from syncwright.domain.statuses import Operation, RunStatus
from tests.support.catalogue import Catalogue, configure, run_sync, table_rows

_ids = itertools.count()

ids = st.integers(1, 40)
edit = st.one_of(
    st.tuples(st.just("put"), ids, st.floats(0, 100, allow_nan=False).map(lambda p: round(p, 2))),
    st.tuples(st.just("remove"), ids, st.just(0.0)),
)
edit_rounds = st.lists(st.lists(edit, max_size=12), min_size=1, max_size=3)


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    initial=st.dictionaries(ids, st.floats(0, 100, allow_nan=False), min_size=1, max_size=25),
    rounds=edit_rounds,
)
def test_destination_mirrors_the_model_after_any_edits(app, tmp_path_factory, initial, rounds):
    tmp = tmp_path_factory.mktemp("prop")
    shop = Catalogue(tmp / "shop.db")
    shop.put(*({"id": k, "price": v} for k, v in initial.items()))
    name = f"prop{next(_ids)}"
    dest_url = f"sqlite:///{tmp / 'dest.db'}"
    configure(
        app,
        name,
        source_url=shop.url,
        dest_url=dest_url,
        base_dir=tmp,
        sync=", mode: mirror, batch_size: 4, guard: {allow_empty: true, max_delete_share: 1}",
    )
    before: dict[int, dict] = {}
    for edits in [[], *rounds]:
        for kind, key, price in edits:
            if kind == "put":
                shop.put({"id": key, "price": price})
            else:
                shop.remove(key)
        model = shop.rows()
        run = run_sync(app, name)
        assert run.status is RunStatus.SUCCEEDED, run.error
        assert run.counters.problems() == []
        entries = app.report.entries(run_id=run.id, limit=10_000)
        by_key = {int(e.source_id): e.operation for e in entries}
        assert {
            k for k, op in by_key.items() if op is Operation.ADD
        } == model.keys() - before.keys()
        assert {
            k for k, op in by_key.items() if op is Operation.REMOVE
        } == before.keys() - model.keys()
        assert {k for k, op in by_key.items() if op is Operation.CHANGE} == {
            k for k in model.keys() & before.keys() if model[k] != before[k]
        }
        assert len(entries) == len(by_key)
        dest = table_rows(dest_url)
        assert dest.keys() == model.keys()
        assert all({c: dest[k][c] for c in row} == row for k, row in model.items())
        before = model
