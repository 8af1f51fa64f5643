"""The stages of a run as plain functions: prepare (read + diff), deliver one batch, finish.

Each stage is idempotent so the durable engine may replay it after a crash: prepare replaces
the run's pending entries; deliver only touches entries still pending and records outcomes,
snapshot and counters in one transaction; finish recounts from the entries.
"""

from __future__ import annotations

import contextvars
import dataclasses
import functools
import json
import logging
import time
from concurrent.futures import Future
from typing import Any

from syncwright.domain.clock import utcnow
from syncwright.domain.counters import Counters
from syncwright.domain.errors import (
    ConfigError,
    DestinationError,
    GuardTripped,
    IllegalTransition,
)
from syncwright.domain.run import Run
from syncwright.domain.statuses import (
    ChangeDetection,
    EntryStatus,
    RunMode,
    RunStatus,
)
from syncwright.domain.sync import SyncSpec
from syncwright.engine import changes, settlement, snapshot_cache
from syncwright.engine.batches import batch_for, pending
from syncwright.engine.plan import RunPlan, planned_batches
from syncwright.engine.runtime import Runtime
from syncwright.engine.scheduler import Scheduler
from syncwright.engine.staging import MEMORY_LIMIT
from syncwright.sdk.changes import BatchResult, ItemResult
from syncwright.sdk.destination import Destination, Publication, RunInfo
from syncwright.storage.entry_rows import PendingItems, PreparedEntries
from syncwright.storage.snapshots_repo import part

logger = logging.getLogger("syncwright.engine")


def _timing(run: Run, stage: str, seconds: float) -> dict[str, Any]:
    return {"timings": {**run.infos.get("timings", {}), stage: round(seconds, 3)}}


def prepare(rt: Runtime, run_id: str) -> RunPlan:
    run = rt.store.runs.get(run_id)
    if run.status.is_final:
        return RunPlan(batches=0, total=0)
    planned = RunPlan.of(run.infos)
    if planned is not None:
        # Prepared already: the process stopped after the change set was saved (with the
        # run's move to in_progress, in one transaction) and before the engine recorded it.
        return planned
    sync = rt.store.config.sync(run.sync_id)
    scope = changes.scope_of(rt.store, rt.connectors, sync, run.mode)

    started = time.monotonic()
    if run.status in (RunStatus.QUEUED, RunStatus.QUERYING):
        run = rt.store.runs.transition(run_id, RunStatus.QUERYING, runner=rt.runner, started=True)
    # else preparing: a process stopped while preparing this run; nothing of it was saved,
    # and it is prepared again from the model's rows.
    staging = changes.staging_for(rt.work_dir / f"{run_id}.duckdb", scope)
    try:
        snapshot = changes.read_model(
            rt.store,
            rt.connectors,
            staging,
            scope,
            copy=snapshot_cache.cache_path(rt.work_dir, sync.id),
        )
        queried = time.monotonic()
        run = rt.store.runs.transition(
            run_id, RunStatus.PREPARING, infos=_timing(run, "querying", queried - started)
        )
        diff, reason = changes.find(rt.store, staging, scope, run_id=run_id)
        if reason and not run.infos.get("approves"):
            # Recorded apart from the error, so an operator can approve it and go on.
            rt.store.ledger.note(run_id, {"guard": reason})
            raise GuardTripped(reason)
        kept, forgotten = staging.skipped()
        # The change set, the snapshot's skipped items and the move to in_progress commit
        # together: a process stopping at any point leaves the run either prepared or not
        # at all (then it is prepared again, as above).
        stored = rt.store.ledger.commit_change_set(
            run_id,
            sync.id,
            staging.deliverable_batches(),
            sync.batch_size,
            fold=staging.snapshot_batches() if snapshot.worth_folding else None,
            folds_through=snapshot.last_part,
            skipped=part(
                [k for k, _, _ in kept] + forgotten,
                [r for _, r, _ in kept] + [""] * len(forgotten),
                [h for _, _, h in kept] + [""] * len(forgotten),
                [False] * len(kept) + [True] * len(forgotten),
            ),
            counters=lambda total: diff.counters(pending=total),
            infos=lambda total, records: {
                **_timing(run, "preparing", time.monotonic() - queried),
                "snapshot": staging.snapshot_read,
                **RunPlan(
                    batches=records,
                    total=total,
                    columns=staging.model_columns(),
                    row_types=staging.sql_types,
                    cursor_candidate=staging.max_cursor,
                    first_load=snapshot.empty,
                    rows_counted=staging.rows_counted,
                    delivering_since=time.time(),
                ).infos(),
            },
        )
        if stored.folded is not None:
            staging.folded(stored.folded)
    finally:
        staging.close()
    if stored.cancelled:  # meanwhile: its items are recorded as not sent
        rt.store.ledger.leave_pending(run_id)
        return RunPlan(batches=0, total=0)
    return RunPlan(batches=stored.batches, total=stored.total)


def deliver(rt: Runtime, run_id: str, index: int) -> dict[str, Any]:
    """Deliver batch ``index``; its outcomes are recorded while the next batch is delivered
    (the store's writes off the delivery's critical path), and the step delivering the next
    batch waits for that recording before it ends. A process that stopped meanwhile left the
    recording undone: the step that comes next in another process (or after an error) first
    delivers the previous batch again, its items with no entry only, as after a crash in the
    middle of a batch."""
    last = rt.recording.get(run_id)
    if index > 0 and (last is None or last[0] < index - 1):
        caught = _deliver(rt, run_id, index - 1, in_background=False)
        if caught.get("retry_in") is not None:
            rt.recording.pop(run_id, None)  # the previous batch is caught up again next time
            return caught
    return _deliver(rt, run_id, index, in_background=True)


def settle(rt: Runtime, run_id: str) -> None:
    """Wait for the run's recording in the background, if any (before the run's counters or
    entries are read, or the run ends). One that failed is forgotten (its batch stays in
    doubt), so the next step delivers that batch again first."""
    last = rt.recording.get(run_id)
    if last is None:
        return
    try:
        last[1].result()
    except Exception:
        rt.recording.pop(run_id, None)
        raise


def _catch_up(rt: Runtime, run_id: str, batches: int) -> None:
    """Before the run goes past its batches: the last one recorded (see ``deliver``)."""
    last = rt.recording.get(run_id)
    if batches > 0 and (last is None or last[0] < batches - 1):
        _deliver(rt, run_id, batches - 1, in_background=False)


def _forget(rt: Runtime, run_id: str) -> None:
    rt.recording.pop(run_id, None)
    rt.in_doubt.pop(run_id, None)


def _deliver(rt: Runtime, run_id: str, index: int, *, in_background: bool) -> dict[str, Any]:
    run = rt.store.runs.get(run_id)
    if run.status.is_final:
        return {}
    plan = rt.delivery(run)
    sync, spec = plan.sync, plan.destination
    # A batch caught up (``in_background`` off) may be at the destination already.
    if _timed_out(rt, run, sync, index, sent=not in_background):
        return {}
    table = rt.store.ledger.batch(run_id, index)
    if table is None:
        return {}
    found = pending(rt, run_id, table)
    if found is None:
        _recorded_up_to(rt, run_id, index)
        return {}
    items, unchanged = found
    batch = batch_for(plan, items.table, unchanged, run_id, index)
    failure: Exception | None = None
    destination: Destination | None = None
    rt.in_doubt.setdefault(run_id, set()).add(index)
    try:
        destination = rt.destination(run_id, spec)
        answer: list[ItemResult] | BatchResult = destination.write(batch)
        if len(answer) != len(items):
            answer = [
                ItemResult.failed(
                    f"destination {spec.name} answered {len(answer)} results for {len(items)} changes"
                )
            ] * len(items)
    except Exception as exc:
        rt.release(run_id)
        if isinstance(exc, ConfigError) or (
            isinstance(exc, DestinationError) and not exc.retryable
        ):
            # Waiting mends nothing (a missing table, a permission refused): the run fails.
            raise DestinationError(f"destination {spec.name}: {exc}", retryable=False) from exc
        failure = exc
        answer = [ItemResult.failed(f"destination {spec.name}: {exc}", retryable=True)] * len(items)
    settled = settlement.settle(sync.retry, items.attempts, answer)
    retry_in = settled.retry_in
    whole = unchanged is not None or (destination is not None and _whole_model(destination))
    background = in_background and failure is None and retry_in is None and not whole
    # Laid out here, while the recorder may still write the previous batch, so that the
    # recorder has less to do under Python's lock (items an earlier attempt left pending
    # have entries to update instead: those are laid out by the recording).
    prepared = (
        rt.store.ledger.prepare_entries(
            run_id, items, settled.results, base=_base(sync, spec.name, index)
        )
        if background and not any(items.attempts)
        else None
    )
    # The previous batch's outcomes are in the store before this batch's are written (and
    # before this step ends): a recording that failed fails the step, which is done again.
    previous = rt.recording.pop(run_id, None)
    if previous is not None:
        previous[1].result()

    def record() -> None:
        _record(
            rt,
            run_id,
            sync,
            spec.name,
            index,
            items,
            settled.results,
            prepared,
            first_load=plan.first_load,
        )

    if background:
        # The next step waits for it (above); a failed run's does too (``fail``).
        future = rt.recorder.submit(contextvars.copy_context().run, record)
        future.add_done_callback(functools.partial(_log_failure, run_id, index))
    else:
        record()
        future = Future()
        future.set_result(None)
    rt.recording[run_id] = (index, future)
    if failure is not None and retry_in is None and whole:
        # A file of the whole model is published complete or not at all: without this
        # batch it would lack rows, the unchanged ones with no entry to say so. Its items
        # failed (recorded above); the run fails too.
        raise DestinationError(f"destination {spec.name}: {failure}", retryable=False) from failure
    tally: dict[str, Any] = dict(settled.tally)
    if retry_in is not None:
        tally["retry_in"] = retry_in
    return tally


def _log_failure(run_id: str, index: int, future: Future[None]) -> None:
    """A recording that failed is logged, whoever waits for it (or nobody: a cancelled run)."""
    if not future.cancelled() and future.exception() is not None:
        logger.warning("recording batch %d of run %s failed: %s", index, run_id, future.exception())


def _recorded_up_to(rt: Runtime, run_id: str, index: int) -> None:
    """Batch ``index`` needs no recording: once the previous one's is in the store, the next
    step need not catch either up."""
    settle(rt, run_id)
    last = rt.recording.get(run_id)
    done: Future[None] = Future()
    done.set_result(None)
    rt.recording[run_id] = (max(index, last[0]) if last else index, done)


def _base(sync: SyncSpec, system: str, index: int) -> dict[str, Any]:
    """The columns every entry of a batch of the sync's run shares (``batch``: the change set
    record that keeps the items as sent)."""
    return {
        "sync_id": sync.id,
        "workspace_id": sync.workspace_id,
        "system": system,
        "batch": index,
    }


def _record(
    rt: Runtime,
    run_id: str,
    sync: SyncSpec,
    system: str,
    index: int,
    items: PendingItems,
    results: list[ItemResult],
    prepared: PreparedEntries | None = None,
    *,
    first_load: bool = False,
) -> None:
    """Record a delivered batch: entries, snapshot and counters in one transaction (a batch
    recorded already is not recorded again), then the run's progress."""
    tally = rt.store.ledger.record(
        run_id,
        sync.id,
        items,
        results,
        base=_base(sync, system, index),
        retry_failed=sync.retry.next_run,
        prepared=prepared,
        snapshot_base=first_load,
    )
    rt.in_doubt.get(run_id, set()).discard(index)
    if not any(tally.values()):
        return  # recorded already (a late or repeated recording): nothing more to count
    rt.store.ledger.progress(run_id, index + 1, sum(1 for a in items.attempts if a))


def publish(rt: Runtime, run_id: str) -> float | None:
    """Let the destination publish the run's file (feeds, uploads) and record it as the run's
    artifact. Sent items become ok when the endpoint needs no confirmation, or failed when the
    publication fails. Returns how long to wait before asking for a confirmation, if needed."""
    run = rt.store.runs.get(run_id)
    if run.status.is_final:
        return None
    settle(rt, run_id)
    _catch_up(rt, run_id, planned_batches(run.infos))
    run = rt.store.runs.get(run_id)
    if run.status.is_final:
        return None
    plan = rt.delivery(run)
    sync, spec = plan.sync, plan.destination
    if _timed_out(rt, run, sync, planned_batches(run.infos)):
        return None
    info = RunInfo(
        run_id=run_id,
        sync_name=sync.name,
        started_at=run.started_at or run.created_at,
        columns=plan.columns,
    )
    destination = rt.destination(run_id, spec)
    try:
        publication = destination.publish(info)
    except Exception as exc:
        rt.release(run_id)
        error = f"destination {spec.name}: {exc}"
        rt.store.ledger.settle_sent(run_id, sync.id, error=error, retry_failed=sync.retry.next_run)
        _fail_whole_model(destination, error)
        return None
    if publication is None:
        # Sent by a destination that confirms nothing: delivered is all it will ever say.
        if not destination.supports.confirmation:
            rt.store.ledger.settle_sent(run_id, sync.id)
        return None
    rt.store.artifacts.save(
        run_id=run_id,
        sync_id=sync.id,
        workspace_id=sync.workspace_id,
        location=publication.location,
        latest=publication.latest,
        size=publication.size,
        checksum=publication.checksum,
        rows=publication.rows,
        content_type=publication.content_type,
    )
    if not publication.awaiting_confirmation:
        rt.store.ledger.settle_sent(run_id, sync.id)
        return None
    waiting = {
        "publication": dataclasses.asdict(publication),
        "confirm_deadline": time.time() + publication.confirm_timeout,
    }
    rt.store.ledger.note(run_id, waiting)
    return publication.confirm_interval


def confirm(rt: Runtime, run_id: str) -> float | None:
    """Ask the destination whether it confirmed the run's publication; sent items become ok,
    or failed once the confirmation timeout has passed. Returns when to ask again, if ever."""
    run = rt.store.runs.get(run_id)
    if run.status.is_final or "publication" not in run.infos:
        return None
    plan = rt.delivery(run)
    sync, spec = plan.sync, plan.destination
    if _timed_out(rt, run, sync, planned_batches(run.infos)):
        return None
    publication = Publication(**run.infos["publication"])
    try:
        confirmed = rt.destination(run_id, spec).confirm(publication)
        problem = ""
    except Exception as exc:  # an endpoint that cannot be asked now may answer later
        rt.release(run_id)
        confirmed, problem = False, f"; last check failed: {exc}"
    if confirmed:
        rt.store.ledger.settle_sent(run_id, sync.id)
        return None
    if time.time() >= float(run.infos["confirm_deadline"]):
        error = (
            f"{spec.name} did not confirm {publication.location} within"
            f" {publication.confirm_timeout:g} s{problem}"
        )
        rt.store.ledger.settle_sent(run_id, sync.id, error=error, retry_failed=sync.retry.next_run)
        _fail_whole_model(rt.destination(run_id, spec), error)
        return None
    return publication.confirm_interval


def _whole_model(destination: Destination) -> bool:
    return bool(type(destination).wants_full_model(destination.config))


def _fail_whole_model(destination: Destination, error: str) -> None:
    """A file of the whole model that was not published (or not confirmed) fails the run: its
    unchanged rows have no entry to fail, so a run with few changes, or none, would end
    succeeded with nothing delivered."""
    if _whole_model(destination):
        raise DestinationError(error, retryable=False)


def finish(rt: Runtime, run_id: str) -> str:
    settle(rt, run_id)
    _forget(rt, run_id)
    rt.release(run_id)
    rt.store.ledger.leave_pending(run_id)
    run = rt.store.runs.get(run_id)
    if run.status.is_final:
        rt.store.ledger.settled(run_id)  # cancelled meanwhile: nothing more lands
        return run.status.value
    sync = rt.store.config.sync(run.sync_id)
    counts = rt.store.ledger.count_by_status(run_id)
    if sum(counts.values()) or run.counters.skipped:
        # What the run added to the snapshot (its delivered items, and those its write mode
        # skips) goes into the worker's copy now, so the sync's next run reads none of it.
        snapshot_cache.refresh(
            snapshot_cache.cache_path(rt.work_dir, sync.id),
            rt.store.snapshots,
            sync.id,
            memory_limit=MEMORY_LIMIT,
        )
    counters = Counters(
        **{
            **run.counters.as_dict(),
            **{s.value: counts.get(s.value, 0) for s in EntryStatus},
        }
    )
    entries_total = sum(counts.values())
    infos: dict[str, Any] = {
        "progress": {"done": entries_total - counters.pending, "total": entries_total}
    }
    plan = RunPlan.of(run.infos)
    if plan is not None and plan.delivering_since is not None:
        infos.update(_timing(run, "delivering", time.time() - plan.delivering_since))
    if counters.pending:
        status = RunStatus.INCOMPLETE
    elif (
        entries_total and counters.failed == entries_total and rt.store.ledger.new_failures(run_id)
    ):
        # Every item failed, and not only items already failing before this run (those make
        # a run that succeeded with failures: the sync is `warning`, not `failed`).
        status = RunStatus.FAILED
        first = rt.store.ledger.first_error(run_id)
        infos["error"] = f"all {entries_total} items failed; first error: {first}"
    else:
        status = RunStatus.SUCCEEDED
    if sync.detection is ChangeDetection.CURSOR and run.mode is not RunMode.RESYNC:
        _advance_cursor(rt, run, counters)
    infos.update(_turn_off_if_failing(rt, run, status, infos.get("error")))
    # The process that finishes the run is its runner (a resumed run names the one that
    # resumed it; the one that started it is in infos when it was taken over).
    rt.store.runs.transition(
        run_id, status, counters=counters, infos=infos, ended=True, runner=rt.runner
    )
    ended(rt, run_id)
    return status.value


def _advance_cursor(rt: Runtime, run: Run, counters: Counters) -> None:
    """Move the cursor past what was read, but never past an item that failed."""
    sync = rt.store.config.sync(run.sync_id)
    model = rt.store.config.model(sync.model_id)
    plan = RunPlan.of(run.infos)
    value = plan.cursor_candidate if plan is not None else None
    if counters.failed and model.cursor and sync.retry.next_run:
        failed = [json.loads(p).get(model.cursor) for p in rt.store.ledger.failed_payloads(run.id)]
        failed = [v for v in failed if v is not None]
        if failed:
            value = min(failed)
    if value is None:
        return
    rt.store.ledger.save_cursor(sync.id, value)


def fail(rt: Runtime, run_id: str, message: str, in_flight: int | None = None) -> str:
    """End the run as failed. ``in_flight``: the batch being delivered when it failed, which
    the destination may have taken without the store recording it. Done again until it
    succeeds (the store may refuse writes for a while): what it needs stays known until then."""
    try:
        settle(rt, run_id)
    except Exception:  # its batch stays in doubt
        logger.warning("recording a batch of run %s failed", run_id, exc_info=True)
    rt.release(run_id)
    run = rt.store.runs.get(run_id)
    if not run.status.is_final:
        at = in_flight if in_flight is not None else planned_batches(run.infos)
        _keep_in_doubt(rt, run, at, sent=in_flight is not None)
    rt.store.ledger.leave_pending(run_id)
    run = rt.store.runs.get(run_id)
    if run.status.is_final:
        rt.store.ledger.settled(run_id)
        _forget(rt, run_id)
        return run.status.value
    infos = {"error": message, **_turn_off_if_failing(rt, run, RunStatus.FAILED, message)}
    rt.store.runs.transition(run_id, RunStatus.FAILED, infos=infos, ended=True, runner=rt.runner)
    _forget(rt, run_id)
    ended(rt, run_id)
    return RunStatus.FAILED.value


def _keep_in_doubt(rt: Runtime, run: Run, at: int, *, sent: bool) -> None:
    """Before a run ends early while at batch ``at`` (its number of batches once past them):
    the batches the destination may hold that the store did not record stay in doubt (see
    ``EntryRepository.keep_in_doubt``). They are the ones this process delivered without
    recording them, and the one before ``at`` (and ``at`` itself when it may have been
    ``sent``) unless this process knows them recorded: another process may have delivered
    them and stopped before recording. Keeping a batch that was recorded after all changes
    nothing: its items have entries."""
    batches = planned_batches(run.infos)
    last = rt.recording.get(run.id)
    recorded = -1
    if last is not None:
        settled = last[1].done() and last[1].exception() is None
        recorded = last[0] if settled else last[0] - 1
    candidates = set(rt.in_doubt.get(run.id, ())) | {at - 1} | ({at} if sent else set())
    for index in sorted(b for b in candidates if recorded < b < batches):
        rt.store.ledger.keep_in_doubt(run.id, run.sync_id, index)


def _timed_out(rt: Runtime, run: Run, sync: SyncSpec, at: int, *, sent: bool = False) -> bool:
    """Abort the run when it has gone on longer than the sync's timeout (``at`` and ``sent``:
    the batch the step is at, as for ``_keep_in_doubt``)."""
    limit = sync.triggers.timeout
    if not limit or run.started_at is None:
        return False
    if (utcnow() - run.started_at).total_seconds() <= limit:
        return False
    try:
        settle(rt, run.id)
    except Exception:  # its batch stays in doubt
        logger.warning("recording a batch of run %s failed", run.id, exc_info=True)
    rt.release(run.id)
    try:
        rt.store.runs.transition(
            run.id,
            RunStatus.ABORTED,
            infos={"error": f"timed out: still running after {limit:g} s (the sync's timeout)"},
            ended=True,
        )
    except IllegalTransition:
        return True
    _keep_in_doubt(rt, run, at, sent=sent)
    rt.store.ledger.leave_pending(run.id)
    ended(rt, run.id)
    return True


def ended(rt: Runtime, run_id: str) -> None:
    """Plan the syncs that run after this one's run ended as it did. Idempotent."""
    planned = Scheduler(rt.store).plan_after(rt.store.runs.get(run_id))
    if planned:
        rt.store.ledger.note(run_id, {"planned_after": [r.id for r in planned]})


def _turn_off_if_failing(
    rt: Runtime, run: Run, status: RunStatus, error: str | None = None
) -> dict[str, Any]:
    """Before a run ends: when it is the sync's Nth failed run in a row and the sync says to
    stop after N, turn the sync off and say why (in the sync and in this run)."""
    sync = rt.store.config.sync(run.sync_id)
    limit = sync.triggers.disable_after_failures
    if not (limit and status is RunStatus.FAILED and sync.enabled):
        return {}
    before = rt.store.runs.recent_outcomes(sync.id, limit - 1)
    if len(before) < limit - 1 or any(s is not RunStatus.FAILED for s in before):
        return {}
    last = error or run.error or "see the run"
    reason = f"turned off after {limit} failed runs in a row; the last: {last}"
    rt.store.config.set_enabled(sync.id, False, reason=reason)
    rt.store.audit.record(
        sync.workspace_id,
        "sync.disabled",
        "sync",
        object_id=sync.id,
        object_name=sync.name,
        detail={"reason": reason, "run_id": run.id},
    )
    return {"disabled_sync": reason}
