"""Finding a sync's changes: read its model into a staging area and compare it with the
snapshot of what was delivered. A run's prepare stage records them and delivers them; a dry
run only shows them."""

from __future__ import annotations

import contextvars
import dataclasses
import logging
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

import pyarrow as pa

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.counters import Counters
from syncwright.domain.errors import ModelError, SourceError, SyncwrightError
from syncwright.domain.statuses import ChangeDetection, Operation, RunMode, WriteMode
from syncwright.domain.sync import ConnectionSpec, ModelSpec, SyncSpec
from syncwright.engine import snapshot_cache
from syncwright.engine.staging import Diff, Staging
from syncwright.sdk.source import ReadAgain, ReadRequest, Source
from syncwright.storage.snapshots_repo import SnapshotLog
from syncwright.storage.store import Store

logger = logging.getLogger("syncwright.engine")

DICT_BATCH = 10_000
#: Keys are read in batches this large: each batch costs a few milliseconds of staging
#: whatever its size (10k-row batches made reading 1M keys 0.6 s, one batch 0.25 s), and a
#: key column holds far less than a row.
KEY_BATCH = 500_000


@dataclass(frozen=True, kw_only=True)
class Scope:
    """What finding a sync's changes covers now."""

    sync: SyncSpec
    model: ModelSpec
    source: ConnectionSpec
    resync: bool
    #: A full resync: every row goes again, as a change.
    full: bool
    #: The destination takes the whole model each run (a full file feed): every row is read,
    #: the unchanged ones travel along with the changes without becoming entries, and
    #: what the destination holds mirrors the model whatever the sync's write mode.
    whole_model: bool
    by_cursor: bool

    @property
    def write_mode(self) -> WriteMode:
        """The write mode the changes are found for."""
        return WriteMode.MIRROR if self.whole_model else self.sync.write_mode


def scope_of(store: Store, connectors: ConnectorRegistry, sync: SyncSpec, mode: RunMode) -> Scope:
    config = store.config
    model = config.model(sync.model_id)
    destination = config.destination(sync.destination_id)
    destination_class = connectors.destination_class(destination.type)
    resync = mode is RunMode.RESYNC
    full = mode is RunMode.FULL
    whole_model = destination_class.wants_full_model(
        destination_class.config_class.parse(destination.config)
    )
    return Scope(
        sync=sync,
        model=model,
        source=config.source(model.source_id),
        resync=resync,
        full=full,
        whole_model=whole_model,
        by_cursor=sync.detection is ChangeDetection.CURSOR and not (full or whole_model or resync),
    )


def staging_for(path: Path, scope: Scope) -> Staging:
    model = scope.model
    return Staging(
        path,
        primary_key=model.primary_key,
        reference=model.reference,
        cursor=model.cursor if scope.sync.detection is ChangeDetection.CURSOR else None,
    )


def _arrow(items: Iterator[pa.RecordBatch | dict[str, Any]]) -> Iterator[pa.RecordBatch]:
    """Pass Arrow batches through; gather dict rows into Arrow batches."""
    rows: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, pa.RecordBatch):
            if rows:
                yield pa.RecordBatch.from_pylist(rows)
                rows = []
            yield item
        elif isinstance(item, pa.Table):
            yield from item.to_batches()
        else:
            rows.append(item)
            if len(rows) >= DICT_BATCH:
                yield pa.RecordBatch.from_pylist(rows)
                rows = []
    if rows:
        yield pa.RecordBatch.from_pylist(rows)


def _read(
    source: Source,
    request: ReadRequest,
    add: Callable[[pa.RecordBatch], None],
    forget: Callable[[], None],
) -> None:
    """Stream the source's batches into staging; once, start over when the source asks."""
    try:
        for batch in _arrow(source.read(request)):
            add(batch)
    except ReadAgain:
        forget()
        for batch in _arrow(source.read(request)):
            add(batch)


def read_model(
    store: Store,
    connectors: ConnectorRegistry,
    staging: Staging,
    scope: Scope,
    *,
    copy: Path | None = None,
) -> SnapshotLog:
    """The model's rows (from the saved cursor on, for a cursor sync) into staging, with the
    snapshot they are compared with (returned; the worker's copy at ``copy`` when the sync
    has one or its log is large enough, and it is usable; else the store's log, loaded);
    errors name the source or the model."""
    sync, model, source_spec = scope.sync, scope.model, scope.source
    on_copy = None
    if copy is not None:
        want, described = snapshot_cache.wanted(copy, store.snapshots, sync.id)
        if want:
            on_copy = staging.use_copy(copy, store.snapshots, sync.id, described=described)
    if on_copy is not None:
        snapshot, read = on_copy
    else:
        snapshot = store.snapshots.read(sync.id)
        staging.load_snapshot(snapshot)
        read = len(snapshot.parts)
    staging.snapshot_read = {"copy": on_copy is not None, "parts_read": read}
    if not scope.resync:
        # The sync's open failures: the changes link to them, and the items they name are
        # part of the model although the snapshot may lack them (see ``none_removed``).
        for link in store.entries.links(sync_id=sync.id):
            staging.add_links(link)
    request = ReadRequest(
        query=model.query,
        primary_key=model.primary_key,
        cursor_column=model.cursor if scope.by_cursor else None,
        cursor_value=store.snapshots.cursor(sync.id) if scope.by_cursor else None,
    )
    source = connectors.source(
        source_spec.type, source_spec.config, where=f"sources.{source_spec.name}"
    )
    removals_by_keys = (
        request.cursor_value is not None
        and source.supports.keys
        and sync.write_mode.delivers(Operation.REMOVE)
    )
    counting: Future[int | None] | None = None
    try:
        # Counted while the rows are read, on another thread (the source scans its rows
        # for each, on a core each). Rows added or removed meanwhile make the count differ,
        # and the keys are read; when an addition the read missed makes up for a removal
        # it saw, the removal is found by the next run (as for a row removed just after the
        # read), never lost: the count then misses the row the next run reads.
        if removals_by_keys:
            counting = _counting(source, request)
        _read(source, request, staging.add_rows, staging.forget_rows)
        counted = counting.result() if counting is not None else None
        if removals_by_keys and not (counted is not None and staging.none_removed(counted)):
            # The cursor finds changed rows; the keys of all rows show removed ones.
            keys = dataclasses.replace(request, keys_only=True, batch_size=KEY_BATCH)
            _read(source, keys, staging.add_keys, staging.forget_keys)
    except SyncwrightError as exc:
        raise type(exc)(f"source {source_spec.name}: {exc}") from exc
    except Exception as exc:
        raise SourceError(f"source {source_spec.name}: {type(exc).__name__}: {exc}") from exc
    finally:
        if counting is not None and not counting.done():
            # The read failed while the count runs: the failure is not held up by it, and
            # the source is closed once the count is over.
            counting.add_done_callback(lambda _: source.close())
        else:
            source.close()
    try:
        staging.check_keys()
    except ModelError as exc:
        raise ModelError(f"model {model.name}: {exc}") from exc
    return snapshot


def _counting(source: Source, request: ReadRequest) -> Future[int | None]:
    """``_count`` started on a thread of its own (in the run's logging context)."""
    counted: Future[int | None] = Future()
    context = contextvars.copy_context()

    def count() -> None:
        try:
            value = context.run(_count, source, request)
        except BaseException:  # the read waits for an answer: give it one whatever happens
            value = None
        counted.set_result(value)

    threading.Thread(target=count, name="syncwright-count", daemon=True).start()
    return counted


def _count(source: Source, request: ReadRequest) -> int | None:
    """The model's rows as the source counts them; None when it cannot tell, or when
    counting failed (the keys are read then, which says what is wrong if anything is)."""
    try:
        return source.count(request)
    except Exception as exc:
        logger.info("counting the model's rows failed, reading its keys: %s", exc)
        return None


def find(
    store: Store, staging: Staging, scope: Scope, *, run_id: str | None = None
) -> tuple[Diff, str | None]:
    """Compare the staged model with the snapshot (both read by ``read_model``): the diff,
    and why the sync's guard would stop the run (None when it would not)."""
    sync = scope.sync
    if scope.resync:  # the entries the operator chose (a run's other links: ``read_model``)
        for link in store.entries.links(run_id=run_id):
            staging.add_links(link)
    write_mode = scope.write_mode
    if scope.resync:
        # The operator chose these items, removals included: no guard second-guesses it.
        return staging.diff_selected(write_mode=write_mode), None
    diff = staging.diff(
        full=scope.full,
        see_removals=not scope.by_cursor,
        write_mode=write_mode,
        carry_unchanged=scope.whole_model and not scope.full,
    )
    removals = diff.removed if write_mode is WriteMode.MIRROR else 0
    reason = sync.guard.check(
        rows_read=staging.keys_count() if staging.keys_read else diff.read,
        delivered_before=diff.delivered_before,
        removals=removals,
        whole_model=not scope.by_cursor or staging.keys_read,
        changes=(diff.changed if write_mode.delivers(Operation.CHANGE) else 0) + removals,
    )
    return diff, reason


@dataclass(frozen=True, kw_only=True)
class DryRun:
    """What a run would deliver now, found without writing anything."""

    counters: Counters
    deliverable: int
    guard: str | None
    samples: list[dict[str, Any]]


def dry_run(
    store: Store,
    connectors: ConnectorRegistry,
    work_dir: Path,
    sync: SyncSpec,
    *,
    full: bool = False,
    sample: int = 5,
) -> DryRun:
    """Read the model and compare it with what was delivered, as a run would, then show the
    counts, what the guard would say, and up to ``sample`` items of each operation. Nothing
    is recorded: no run, no entry, no snapshot; the staging area is removed."""
    scope = scope_of(store, connectors, sync, RunMode.FULL if full else RunMode.INCREMENTAL)
    staging = staging_for(work_dir / f"dry-run-{uuid.uuid4()}.duckdb", scope)
    try:
        read_model(store, connectors, staging, scope)
        diff, reason = find(store, staging, scope)
        return DryRun(
            counters=diff.counters(),
            deliverable=diff.deliverable,
            guard=reason,
            samples=staging.sample(sample),
        )
    finally:
        staging.close()
