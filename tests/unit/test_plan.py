"""A prepared run's plan: what the run's infos keep is read back as the same plan, and a
run prepared by an earlier version (the same keys, fewer of them) reads too."""

from __future__ import annotations

from syncwright.engine.plan import RunPlan, planned_batches
from syncwright.sdk.changes import Column


def test_a_plan_reads_back_from_the_infos_it_writes():
    plan = RunPlan(
        batches=3,
        total=25_000,
        columns=(Column(name="id", type="int64"), Column(name="name", type="string")),
        row_types={"id": "BIGINT", "name": "VARCHAR"},
        cursor_candidate="2026-06-01 00:00:00",
        first_load=True,
        rows_counted=1_000_000,
        delivering_since=1_765_000_000.5,
    )
    infos = {"timings": {"querying": 1.2}, **plan.infos()}
    assert RunPlan.of(infos) == plan
    assert infos["progress"] == {"done": 0, "total": 25_000}
    assert planned_batches(infos) == 3


def test_a_run_not_prepared_has_no_plan():
    assert RunPlan.of({"timings": {"querying": 0.5}}) is None
    assert planned_batches({}) == 0


def test_a_plan_written_before_rows_were_counted_reads_with_defaults():
    infos = {
        "batches": 1,
        "progress": {"done": 4, "total": 10},
        "columns": [{"name": "id", "type": "int64"}],
        "row_types": None,
        "cursor_candidate": None,
        "first_load": False,
    }
    plan = RunPlan.of(infos)
    assert plan is not None
    assert (plan.batches, plan.total, plan.row_types, plan.rows_counted) == (1, 10, None, None)
    assert plan.delivering_since is None and plan.columns == (Column(name="id", type="int64"),)
