"""A prepared run's plan: what the prepare step found and decided, for the steps that deliver
and finish the run, typed. It is kept in the run's ``infos`` (so that any process resuming
the run reads the same plan, and people see it on the run's page), but only this module
reads or writes those keys."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from syncwright.sdk.changes import Column


@dataclass(frozen=True, kw_only=True)
class RunPlan:
    """The change set prepared for a run and what its delivery needs to know."""

    #: Change set records (one batch each) and the changes they hold.
    batches: int
    total: int
    #: The model's columns, and their DuckDB types (None when a column's type varied
    #: between the source's batches: payloads are then decoded one by one).
    columns: tuple[Column, ...] = ()
    row_types: Mapping[str, str] | None = field(default=None, hash=False)
    #: The newest cursor value read (a cursor sync saves it once the run ends).
    cursor_candidate: Any = None
    #: The snapshot was empty: what the run delivers becomes the snapshot's base.
    first_load: bool = False
    #: The model's rows as counted, when the count showed that none was removed.
    rows_counted: int | None = None
    #: When delivery began (seconds since the epoch), for the run's timings.
    delivering_since: float | None = None

    @classmethod
    def of(cls, infos: Mapping[str, Any]) -> RunPlan | None:
        """The plan a run's infos hold, or None for a run not prepared yet."""
        if "batches" not in infos:
            return None
        since = infos.get("delivering_since")
        return cls(
            batches=int(infos["batches"]),
            total=int(infos.get("progress", {}).get("total", 0)),
            columns=tuple(Column(**c) for c in infos.get("columns", [])),
            row_types=infos.get("row_types"),
            cursor_candidate=infos.get("cursor_candidate"),
            first_load=bool(infos.get("first_load")),
            rows_counted=infos.get("rows_counted"),
            delivering_since=None if since is None else float(since),
        )

    def infos(self) -> dict[str, Any]:
        """The plan as the run's infos keep it (the inverse of ``of``)."""
        kept: dict[str, Any] = {
            "batches": self.batches,
            "progress": {"done": 0, "total": self.total},
            "columns": [{"name": c.name, "type": c.type} for c in self.columns],
            "row_types": None if self.row_types is None else dict(self.row_types),
            "cursor_candidate": self.cursor_candidate,
            "first_load": self.first_load,
        }
        if self.rows_counted is not None:
            kept["rows_counted"] = self.rows_counted
        if self.delivering_since is not None:
            kept["delivering_since"] = self.delivering_since
        return kept


def planned_batches(infos: Mapping[str, Any]) -> int:
    """How many batches the run's plan holds (0 before it is prepared)."""
    plan = RunPlan.of(infos)
    return plan.batches if plan else 0
