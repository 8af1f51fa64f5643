"""Runs as DBOS workflows whose steps are batches.

DBOS keeps one global object; it lives behind this module only. Bootstrap builds a
``DbosEngine`` (which launches DBOS in this process and executes runs) or a ``DbosSubmitter``
(which only enqueues, for a process that talks to an engine running elsewhere). Runs go through
one queue partitioned by sync, so a sync never has two live runs, on one worker or many.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import math
import threading
import time
from concurrent import futures
from datetime import datetime, timedelta
from typing import Any, Callable, TypeVar

import sqlalchemy as sa
from dbos import DBOS, DBOSClient, DBOSConfig, SetEnqueueOptions, SetWorkflowID, WorkflowStatus

from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, IllegalTransition
from syncwright.domain.run import Run
from syncwright.domain.statuses import LIVE_RUN_STATUSES, RunStatus
from syncwright.engine import pipeline
from syncwright.engine.admission import Admission
from syncwright.engine.alerting import Alerting
from syncwright.engine.runtime import Runtime
from syncwright.engine.scheduler import Scheduler
from syncwright.storage.database import is_transient

QUEUE = "syncwright-runs"
WORKFLOW = "syncwright.run"
PURGE_SCHEDULE = "syncwright-retention"
_ADOPT_LOCK = 0x5359_4E44  # serialises adopting runs of other versions across processes
#: How often each engine re-plans schedules (catching edits made by other processes).
REPLAN_SECONDS = 15.0
#: How long a step waits out an unreachable store before the run fails.
STORE_OUTAGE = 300.0
logger = logging.getLogger("syncwright.engine")

_runtime: Runtime | None = None
T = TypeVar("T")


def _rt() -> Runtime:
    if _runtime is None:
        raise RuntimeError("the syncwright engine is not launched in this process")
    return _runtime


def _run_step(body: Callable[..., T]) -> Callable[..., T]:
    """A step of a run (its id first): its log lines name the run and its sync, and it is
    done again while the store is unreachable for a moment (PostgreSQL restarting, a
    fail-over), for up to ``STORE_OUTAGE`` seconds. Each body can be done again (as after a
    crash), so the run goes on instead of failing. Other errors go through."""

    @functools.wraps(body)
    def run_step(run_id: str, *args: Any) -> T:
        deadline = time.monotonic() + STORE_OUTAGE
        wait = 0.5
        while True:
            try:
                with _rt().about(run_id):
                    return body(run_id, *args)
            except Exception as exc:
                if not is_transient(exc) or time.monotonic() + wait > deadline:
                    raise
                logger.warning(
                    "store unreachable (%s); trying again in %.1f s", failure_reason(exc), wait
                )
                time.sleep(wait)
                wait = min(wait * 2, 15.0)

    return run_step


@DBOS.step(name="syncwright.prepare")
@_run_step
def _prepare(run_id: str) -> dict[str, int]:
    plan = pipeline.prepare(_rt(), run_id)
    logger.info("run prepared: %d changes in %d batches", plan.total, plan.batches)
    return {"batches": plan.batches, "total": plan.total}


@DBOS.step(name="syncwright.deliver")
@_run_step
def _deliver(run_id: str, index: int) -> dict[str, int]:
    with _rt().step(run_id):
        return pipeline.deliver(_rt(), run_id, index)


@DBOS.step(name="syncwright.publish")
@_run_step
def _publish(run_id: str) -> float | None:
    with _rt().step(run_id):
        return pipeline.publish(_rt(), run_id)


@DBOS.step(name="syncwright.confirm")
@_run_step
def _confirm(run_id: str) -> float | None:
    with _rt().step(run_id):
        return pipeline.confirm(_rt(), run_id)


@DBOS.step(name="syncwright.finish")
@_run_step
def _finish(run_id: str) -> str:
    status = pipeline.finish(_rt(), run_id)
    logger.info("run ended: %s", status, extra={"status": status})
    _rt().run_ended.set()
    return status


@DBOS.step(name="syncwright.fail")
def _fail(run_id: str, message: str, in_flight: int | None) -> str:
    with _rt().about(run_id):
        status = pipeline.fail(_rt(), run_id, message, in_flight)
        logger.warning("run ended: %s (%s)", status, message, extra={"status": status})
        _rt().run_ended.set()
        return status


@DBOS.workflow(name=WORKFLOW)
def run_workflow(run_id: str) -> str:
    """Prepare the change set, deliver it batch by batch (one checkpointed step each, tried
    again after a durable sleep while the retry policy allows), publish, wait for the
    endpoint's confirmation if it gives one, finish. A restart resumes after the last
    completed step, with the attempts already made."""
    active = _rt().active
    active.add(run_id)
    in_flight: int | None = None  # the batch being delivered
    try:
        plan = _prepare(run_id)
        for index in range(plan["batches"]):
            while True:
                in_flight = index
                outcome = _deliver(run_id, index)
                in_flight = None
                if outcome.get("retry_in") is None:
                    break
                DBOS.sleep(outcome["retry_in"])
        wait = _publish(run_id)
        while wait is not None:
            DBOS.sleep(wait)
            wait = _confirm(run_id)
        return _finish(run_id)
    except Exception as exc:
        reason = failure_reason(exc)
        wait = 1.0
        while True:
            try:
                return _fail(run_id, reason, in_flight)
            except Exception as refused:
                # The store refuses writes (disk full, read-only, unreachable): the run stays
                # live and records its failure once the store takes writes again.
                logger.warning(
                    "run %s failed (%s); recording it failed: %s",
                    run_id,
                    reason,
                    failure_reason(refused),
                )
                DBOS.sleep(wait)
                wait = min(wait * 2, 60.0)
    finally:
        active.discard(run_id)


def failure_reason(exc: BaseException) -> str:
    """Why a run failed, in one line: a store error by its driver's message (the statement and
    its parameters stay out of the run's record)."""
    if isinstance(exc, sa.exc.DBAPIError) and exc.orig is not None:
        first = (str(exc.orig).strip().splitlines() or [type(exc.orig).__name__])[0]
        return f"the store failed: {first}"
    return str(exc) or type(exc).__name__


@DBOS.step(name="syncwright.purge_step")
def _purge() -> dict[str, int]:
    rt = _rt()
    return dataclasses.asdict(rt.store.retention.purge(rt.retention, utcnow()))


@DBOS.workflow(name="syncwright.purge")
def purge_workflow(scheduled_time: datetime, context: Any) -> None:
    """The retention job: once per tick of its schedule, whichever worker takes it."""
    _purge()


class DbosEngine:
    """Executes runs in this process on DBOS (SQLite or PostgreSQL system database)."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        system_database_url: str,
        application_version: str,
        executor_id: str | None = None,
        worker_concurrency: int = 4,
        polling_interval: float = 0.1,
        purge_schedule: str = "*/30 * * * *",
        takeover_after: float = 60.0,
        max_runs: int | None = None,
        shutdown_grace: float = 30.0,
        alerting: Alerting | None = None,
        one_off: bool = False,
    ) -> None:
        self.runtime = runtime
        #: A one-off process (a CLI command): it runs the runs it starts and nothing else. No
        #: schedules, no queue of other runs, no take-over; it beats, so that an engine takes
        #: over what it leaves in flight.
        self.one_off = one_off
        #: The runs this process started (what a one-off process admits).
        self.owned: set[str] = set()
        self.alerting = alerting
        self.version = application_version
        self.config: DBOSConfig = {
            "name": "syncwright",
            "system_database_url": system_database_url,
            "application_version": application_version,
            "notification_listener_polling_interval_sec": polling_interval,
            "scheduler_polling_interval_sec": max(polling_interval, 1.0),
            "log_level": "WARNING",
        }
        if executor_id:
            self.config["executor_id"] = executor_id
        self.worker_concurrency = worker_concurrency
        self.polling_interval = polling_interval
        self.purge_schedule = purge_schedule
        self.takeover_after = takeover_after
        self.shutdown_grace = shutdown_grace
        self._draining = threading.Event()
        #: Since when this engine's beats succeed without a break (None: not now).
        self._beating_since: float | None = None
        #: The embedded store has one engine process (the home's engine lock).
        self._alone = runtime.store.engine.dialect.name == "sqlite"
        self.admission = Admission(
            runtime.store,
            self._start_here if one_off else self._enqueue,
            max_runs=max_runs,
            only=self.owned if one_off else None,
        )
        self.executor_id = executor_id or "local"
        self._launched = False
        self._stop = threading.Event()
        self._ticker: threading.Thread | None = None

    def launch(self) -> None:
        global _runtime
        _runtime = self.runtime
        logging.getLogger("dbos").setLevel(logging.WARNING)
        DBOS(config=self.config)
        DBOS.launch()
        if self.one_off:
            # The queue of runs is not registered here: this process never dequeues a run
            # another one admitted, and the runs it starts run here (see _start_here).
            self._launched = True
            self._start_ticker()
            return
        self.queue = DBOS.register_queue(
            QUEUE,
            partition_concurrency=1,
            worker_concurrency=self.worker_concurrency,
            polling_interval_sec=self.polling_interval,
            on_conflict="always_update",
        )
        self._launched = True
        try:
            DBOS.apply_schedules(
                [
                    {
                        "schedule_name": PURGE_SCHEDULE,
                        "workflow_fn": purge_workflow,
                        "schedule": self.purge_schedule,
                    }
                ]
            )
        except Exception as exc:
            self.shutdown()
            raise ConfigError(
                f"not a cron schedule: {self.purge_schedule!r} ({exc})",
                field="SYNCWRIGHT_PURGE_SCHEDULE",
            ) from None
        self.resubmit_orphans()
        Scheduler(self.runtime.store, self.submit).plan_schedules(utcnow())
        self._start_ticker()

    def _start_ticker(self) -> None:
        self._stop.clear()
        self._ticker = threading.Thread(
            target=self._tick_loop, name="syncwright-ticks", daemon=True
        )
        self._ticker.start()
        if self.alerting is not None:
            self.alerting.start()

    @property
    def running(self) -> bool:
        """Launched, and its ticker (schedules, take-over, admission) alive."""
        return self._launched and self._ticker is not None and self._ticker.is_alive()

    def resubmit_orphans(self) -> None:
        """Hand to the queue any admitted run whose workflow was never enqueued (a crash
        between admission and enqueue), then admit what can start."""
        for run in self.runtime.store.runs.with_status(frozenset({RunStatus.QUEUED})):
            if run.admitted_at is not None and DBOS.get_workflow_status(run.id) is None:
                self._enqueue(run)
        self.admission.admit()

    def submit(self, run: Run) -> None:
        """A run is waiting: admit what the capacity allows now (this one, if it can)."""
        self.owned.add(run.id)
        self.admission.admit()

    def _start_here(self, run: Run) -> None:
        """A one-off process runs its admitted run itself, outside the queue (a run of the
        same sync cannot be live elsewhere: admission holds one per sync)."""
        with SetWorkflowID(run.id):
            DBOS.start_workflow(run_workflow, run.id)

    def settle(self, run_id: str, timeout: float = 60.0) -> None:
        """Wait until the run's workflow here has returned (after its end planned what runs
        after it). Nothing to wait for when it does not run in this process."""
        if run_id not in self.owned:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            status = DBOS.get_workflow_status(run_id)
            if status is None or status.status not in ("PENDING", "ENQUEUED"):
                return
            time.sleep(0.05)

    def start_planned(self, run: Run) -> Run | None:
        """Queue a planned run now and run it here (None: another process took it)."""
        try:
            queued = self.runtime.store.runs.transition(
                run.id,
                RunStatus.QUEUED,
                infos={"planned_for": run.scheduled_for.isoformat() if run.scheduled_for else None},
                expected=RunStatus.SCHEDULED,
            )
        except IllegalTransition:
            return None
        self.submit(queued)
        return queued

    def _enqueue(self, run: Run) -> None:
        with (
            SetWorkflowID(run.id),
            SetEnqueueOptions(queue_partition_key=run.sync_id, priority=run.priority),
        ):
            self.queue.enqueue(run_workflow, run.id)

    def cancel(self, run_id: str) -> None:
        DBOS.cancel_workflow(run_id)

    def _tick_loop(self) -> None:
        """Queue planned runs when due, in every engine process (one wins each run)."""
        scheduler = Scheduler(self.runtime.store, self.submit)
        planned_at = time.monotonic()
        beat_every = max(0.5, min(5.0, self.takeover_after / 4))
        beaten_at = 0.0
        while not self._stop.wait(self.polling_interval):
            if self.one_off:
                try:
                    if time.monotonic() - beaten_at > beat_every:
                        self.runtime.store.workers.beat(
                            self.executor_id, self.runtime.runner, utcnow(), self.version
                        )
                        beaten_at = time.monotonic()
                    if not self._draining.is_set():
                        self.admission.admit()  # its own runs that waited for capacity
                    self._release_ended()
                except Exception:  # a store hiccup must not stop the beats
                    logger.exception("syncwright heartbeat failed")
                continue
            if self._draining.is_set():
                # Shutting down: take no new work, but keep beating so that no other engine
                # takes over the runs finishing here.
                if time.monotonic() - beaten_at > beat_every:
                    try:
                        self.runtime.store.workers.beat(
                            self.executor_id, self.runtime.runner, utcnow(), self.version
                        )
                        beaten_at = time.monotonic()
                    except Exception:  # a store hiccup must not stop the beats
                        logger.exception("syncwright heartbeat failed")
                continue
            try:
                if time.monotonic() - beaten_at > beat_every:
                    self._watch(utcnow())
                    beaten_at = time.monotonic()
                if time.monotonic() - planned_at > REPLAN_SECONDS:
                    scheduler.plan_schedules(utcnow())
                    self.resubmit_orphans()
                    planned_at = time.monotonic()
                scheduler.tick(utcnow())
                self.admission.admit()
                self._release_ended()
            except Exception:  # a store hiccup must not stop the ticks
                self._beating_since = None
                logger.exception("syncwright scheduler tick failed")

    def _watch(self, now: datetime) -> None:
        """Beat, and take over the runs of any worker silent for ``takeover_after`` seconds:
        its workflows go back to their queue (partition kept) and a live worker resumes
        them from their last completed step. Of several live workers, one claims each."""
        store = self.runtime.store
        store.workers.beat(self.executor_id, self.runtime.runner, now, self.version)
        if self._beating_since is None:
            self._beating_since = time.monotonic()
        # Judge others only after beating steadily for as long as they are allowed to be
        # silent: after a store outage every process is behind with its beats.
        steady = self._alone or time.monotonic() - self._beating_since >= self.takeover_after
        silent = (
            store.workers.silent_since(now - timedelta(seconds=self.takeover_after))
            if steady
            else []
        )
        for worker in silent:
            if worker.executor_id == self.executor_id or not store.workers.claim(worker):
                continue
            DBOS._recover_pending_workflows([worker.executor_id])
            for run in store.runs.with_status(LIVE_RUN_STATUSES):
                if run.runner == worker.runner:
                    store.runs.taken_over(run.id, self.runtime.runner, worker.runner, now)
            logger.warning(
                "took over the runs of %s (silent since %s)", worker.runner, worker.heartbeat_at
            )
        self._adopt(now, judge_others=steady)

    def _adopt(self, now: datetime, *, judge_others: bool) -> None:
        """Move to this version the runs of another application version that no live process
        can go on with: in flight on a process that is gone (or on this one's executor id,
        before an upgrade), or waiting in the queue for a version no live process runs. The
        engine only resumes a workflow on its own version; an upgrade would strand them.
        Each keeps its id and its completed steps, and goes back to the queue (partition
        kept) to resume after the last one. One process adopts each (serialised)."""
        live = self.runtime.store.workers.live(now - timedelta(seconds=self.takeover_after))
        versions = {*live.values(), self.version}

        def stranded(w: WorkflowStatus) -> bool:
            if w.app_version == self.version:
                return False
            if w.status == "PENDING" and w.executor_id == self.executor_id:
                return True  # this executor before an upgrade
            if not judge_others:
                return False
            if w.status == "PENDING":
                return w.executor_id not in live
            return w.status == "ENQUEUED" and w.app_version not in versions

        found = DBOS.list_workflows(
            status=["PENDING", "ENQUEUED"], name=WORKFLOW, load_input=False, load_output=False
        )
        if not any(stranded(w) for w in found):
            return
        store = self.runtime.store
        with store.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _ADOPT_LOCK})
            for w in DBOS.list_workflows(
                workflow_ids=[w.workflow_id for w in found if stranded(w)],
                load_input=False,
                load_output=False,
            ):
                if not stranded(w):
                    continue  # adopted meanwhile by another process
                steps = DBOS.list_workflow_steps(w.workflow_id, load_output=False)
                resume_at = max((step["function_id"] for step in steps), default=0) + 1
                run = store.runs.get(w.workflow_id)
                DBOS.cancel_workflow(w.workflow_id)  # only an ended workflow can be rewound
                DBOS.rewind_workflow(
                    w.workflow_id,
                    start_step=resume_at,
                    application_version=self.version,
                    queue_name=QUEUE,
                    queue_partition_key=run.sync_id,
                )
                if w.status == "PENDING" and run.runner not in (None, self.runtime.runner):
                    store.runs.taken_over(run.id, self.runtime.runner, run.runner, now)
                logger.warning(
                    "adopted run %s of version %s (%s) into %s",
                    run.id,
                    w.app_version,
                    w.status.lower(),
                    self.version,
                )

    def _release_ended(self) -> None:
        """Close destinations of runs that ended elsewhere (cancelled) and have no step
        executing here (a batch in flight finishes with its connection)."""
        for run_id in list(self.runtime.open_destinations):
            if run_id in self.runtime.stepping:
                continue
            if self.runtime.store.runs.get(run_id).status.is_final:
                self.runtime.release(run_id)
        for run_id in list(self.runtime.recording):
            here = run_id in self.runtime.stepping or run_id in self.runtime.active
            if not here and self.runtime.store.runs.get(run_id).status.is_final:
                self.runtime.recording.pop(run_id, None)
                self.runtime.in_doubt.pop(run_id, None)

    def shutdown(self) -> None:
        """Stop taking work, let the runs in flight here finish for up to ``shutdown_grace``
        seconds (beating meanwhile), then leave: whatever is still running is taken over by
        a live engine from its last completed batch (or by the next one to start)."""
        global _runtime
        self._draining.set()
        # A command that leaves no workflow of its own unfinished leaves no worker row either
        # (in a setup run from cron alone, they would only pile up); any other process leaves
        # a silent row, so that a live engine takes its workflows over.
        forget = False
        if self._launched and self.one_off and not self.runtime.active:
            forget = not DBOS.list_workflows(
                status=["PENDING", "ENQUEUED"],
                executor_id=self.executor_id,
                load_input=False,
                load_output=False,
            )
        if self._launched:
            # The engine waits in whole seconds, and at least one: only when runs are here.
            grace = math.ceil(self.shutdown_grace) if self.runtime.active else 0
            DBOS.destroy(workflow_completion_timeout_sec=grace)
            self._launched = False
        # Batches delivered by runs that did not finish here are recorded before the store
        # closes (else the engine taking them over delivers them again).
        futures.wait([f for _, f in list(self.runtime.recording.values())], timeout=60)
        if self.alerting is not None:
            self.alerting.stop()  # after the runs ending here: they are judged too
        self._stop.set()
        if self._ticker is not None:
            self._ticker.join(timeout=10)
            self._ticker = None
            if forget:
                self.runtime.store.workers.forget(self.executor_id)
            else:
                self.runtime.store.workers.leave(self.executor_id)
        self._draining.clear()
        _runtime = None


class DbosSubmitter:
    """For a process that talks to engines running elsewhere: runs it creates wait as
    ``queued`` until an engine admits them; it can cancel workflows."""

    def __init__(self, *, system_database_url: str, application_version: str) -> None:
        self.client = DBOSClient(system_database_url=system_database_url)
        self.application_version = application_version

    def submit(self, run: Run) -> None:
        """Nothing to do here: the engines' admission picks waiting runs up."""

    def cancel(self, run_id: str) -> None:
        self.client.cancel_workflow(run_id)

    def shutdown(self) -> None:
        self.client.destroy()
