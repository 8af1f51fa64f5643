"""What the engine's steps need, built once by bootstrap and passed explicitly."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.retention import Retention
from syncwright.domain.run import Run
from syncwright.domain.sync import ConnectionSpec, ModelSpec, SyncSpec
from syncwright.engine.plan import RunPlan
from syncwright.engine.rows import RowDecoder
from syncwright.sdk.changes import Column
from syncwright.sdk.destination import Destination
from syncwright.storage.store import Store

#: The run (and its sync) the current thread works on, for the logs.
current_run: ContextVar[dict[str, str] | None] = ContextVar("current_run", default=None)


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """What every batch of one run needs, read once per process: the configuration as it was
    when the batch first ran, and the model's columns."""

    sync: SyncSpec
    model: ModelSpec
    destination: ConnectionSpec
    columns: tuple[Column, ...]
    rows: RowDecoder
    #: The run began with an empty snapshot (a first load): what it delivers is the base.
    first_load: bool = False


@dataclass
class Runtime:
    store: Store
    connectors: ConnectorRegistry
    work_dir: Path
    runner: str
    retention: Retention = field(default_factory=Retention)
    #: Destinations open for runs in progress in this process, so batches reuse connections.
    open_destinations: dict[str, Destination] = field(default_factory=dict)
    deliveries: dict[str, Delivery] = field(default_factory=dict)
    #: Runs with a step executing in this process now (their destination is in use).
    stepping: set[str] = field(default_factory=set)
    #: Runs whose workflow executes in this process now (a shutdown lets them finish).
    active: set[str] = field(default_factory=set)

    #: Records batches' outcomes while the next batch is delivered (see ``pipeline.deliver``).
    recorder: ThreadPoolExecutor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=4, thread_name_prefix="recorder")
    )
    #: Per run, the last batch handed to the recorder in this process and its recording.
    recording: dict[str, tuple[int, Future[None]]] = field(default_factory=dict)
    #: Per run, the batches the destination may hold that the store has not recorded yet.
    in_doubt: dict[str, set[int]] = field(default_factory=dict)

    #: Set each time a run ends in this process (alerts judge at once).
    run_ended: threading.Event = field(default_factory=threading.Event)

    #: Each run's sync, for the logs (read once per run and process).
    sync_of: dict[str, str] = field(default_factory=dict)

    @contextmanager
    def about(self, run_id: str) -> Iterator[None]:
        """Log lines written meanwhile name the run and its sync."""
        if run_id not in self.sync_of:
            self.sync_of[run_id] = self.store.runs.get(run_id).sync_id
        token = current_run.set({"run_id": run_id, "sync_id": self.sync_of[run_id]})
        try:
            yield
        finally:
            current_run.reset(token)

    @contextmanager
    def step(self, run_id: str) -> Iterator[None]:
        self.stepping.add(run_id)
        try:
            yield
        finally:
            self.stepping.discard(run_id)

    def delivery(self, run: Run) -> Delivery:
        """What every batch of the run needs, read once per process (``release`` lets go)."""
        found = self.deliveries.get(run.id)
        if found is None:
            sync = self.store.config.sync(run.sync_id)
            plan = RunPlan.of(run.infos) or RunPlan(batches=0, total=0)
            found = Delivery(
                sync=sync,
                model=self.store.config.model(sync.model_id),
                destination=self.store.config.destination(sync.destination_id),
                columns=plan.columns,
                rows=RowDecoder(plan.columns, plan.row_types),
                first_load=plan.first_load,
            )
            self.deliveries[run.id] = found
        return found

    def destination(self, run_id: str, spec: ConnectionSpec) -> Destination:
        """The run's destination, opened once per process and reused by its batches (until
        ``release``)."""
        destination = self.open_destinations.get(run_id)
        if destination is None:
            destination = self.connectors.destination(
                spec.type, spec.config, where=f"destinations.{spec.name}"
            )
            self.open_destinations[run_id] = destination
        return destination

    def release(self, run_id: str) -> None:
        delivery = self.deliveries.pop(run_id, None)
        if delivery is not None:
            delivery.rows.close()
        self.sync_of.pop(run_id, None)
        destination = self.open_destinations.pop(run_id, None)
        if destination is not None:
            destination.close()
