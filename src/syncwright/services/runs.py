"""Starting runs, following them and listing them."""

from __future__ import annotations

import secrets
import tempfile
import time
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, IllegalTransition, NotFound, SyncwrightError
from syncwright.domain.report import EntryFilter
from syncwright.domain.run import Run, RunFilter
from syncwright.domain.statuses import RunMode, RunStatus, Trigger
from syncwright.domain.sync import SyncSpec
from syncwright.domain.triggers import WhenBusy
from syncwright.engine import changes
from syncwright.engine.changes import DryRun
from syncwright.engine.scheduler import Scheduler
from syncwright.services.ports import RunSubmitter
from syncwright.storage.store import Store

#: The type of runs that send selected entries again.
RESYNC_RUN_TYPE = "resync"


class RunService:
    def __init__(
        self,
        store: Store,
        connectors: ConnectorRegistry,
        workspace_id: str,
        submitter: RunSubmitter | None,
        work_dir: Path | None = None,
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.workspace_id = workspace_id
        self.submitter = submitter
        #: Where a dry run stages the model (removed when it ends).
        self.work_dir = work_dir or Path(tempfile.gettempdir())

    def dry_run(self, sync_name: str, *, full: bool = False, sample: int = 5) -> DryRun:
        """What a run of the sync would deliver now, found as a run would (the guard
        included), with up to ``sample`` items of each operation. Nothing is written: no run,
        no entry, no snapshot."""
        sync = self.store.config.sync_by_name(self.workspace_id, sync_name)
        return changes.dry_run(
            self.store, self.connectors, self.work_dir, sync, full=full, sample=sample
        )

    def trigger(
        self,
        sync_name: str,
        *,
        full: bool = False,
        trigger: Trigger = Trigger.MANUAL,
        user_id: str | None = None,
        approves: str | None = None,
    ) -> Run:
        """Queue a run of a sync. It starts when no other run of that sync is live.
        ``approves``: the run the sync's guard stopped, which this one goes on from (its
        guard does not stop it)."""
        if self.submitter is None:
            raise SyncwrightError("this process cannot start runs (no engine was configured)")
        sync = self.store.config.sync_by_name(self.workspace_id, sync_name)
        if not sync.enabled:
            why = f" ({sync.disabled_reason})" if sync.disabled_reason else ""
            raise ConfigError(
                f"sync {sync_name!r} is disabled{why}; `syncwright enable {sync_name}` turns it on",
                field="enabled",
            )
        if full:
            model = self.store.config.model(sync.model_id)
            source = self.store.config.source(model.source_id)
            destination = self.store.config.destination(sync.destination_id)
            for kind, spec, cls in (
                ("source", source, self.connectors.source_class(source.type)),
                ("destination", destination, self.connectors.destination_class(destination.type)),
            ):
                if not cls.supports.full:
                    raise ConfigError(
                        f"{kind} {spec.name!r} ({spec.type}) does not support a full resync"
                    )
        busy = sync.triggers.when_busy is WhenBusy.SKIP and self.store.runs.live(sync.id)
        run = self.store.runs.create(
            workspace_id=self.workspace_id,
            sync_id=sync.id,
            type=sync.type,
            trigger=trigger,
            mode=RunMode.FULL if full else RunMode.INCREMENTAL,
            created_by_user_id=user_id,
            status=RunStatus.SKIPPED if busy else RunStatus.QUEUED,
            infos={"reason": "another run of the sync was live"}
            if busy
            else ({"approves": approves} if approves else None),
        )
        if not busy:
            self.submitter.submit(run)
        if trigger is Trigger.MANUAL:
            self.store.audit.record(
                self.workspace_id,
                "run.started",
                "sync",
                object_id=sync.id,
                object_name=sync.name,
                user_id=user_id,
                detail={"run_id": run.id, "full": full, "status": run.status.value},
            )
        return run

    def approve(self, run_id: str, *, user_id: str | None = None) -> Run:
        """Approve a run its sync's guard stopped, and go on: a new run of the sync, which
        the guard does not stop, finds the change set as it is now and delivers it. Both runs
        and the audit log record who approved."""
        run = self.get(run_id)
        if run.status is not RunStatus.FAILED or not run.infos.get("guard"):
            raise ConfigError(
                f"run {run_id} was not stopped by its sync's guard: nothing to approve",
                field="run",
            )
        if run.infos.get("approved"):
            raise ConfigError(
                f"run {run_id} was already approved (run {run.infos['approved']['run_id']})",
                field="run",
            )
        sync = self.store.config.sync(run.sync_id)
        new = self.trigger(
            sync.name, full=run.mode is RunMode.FULL, user_id=user_id, approves=run.id
        )
        approval = {"run_id": new.id, "by": user_id, "at": utcnow().isoformat()}
        with self.store.engine.begin() as conn:
            self.store.runs.update_infos(conn, run.id, {"approved": approval})
            self.store.audit.record(
                self.workspace_id,
                "run.approved",
                "sync",
                object_id=sync.id,
                object_name=sync.name,
                user_id=user_id,
                detail={"run_id": run.id, "approving_run_id": new.id, "guard": run.infos["guard"]},
                conn=conn,
            )
        return new

    def cancel(self, run_id: str, *, user_id: str | None = None) -> Run:
        """Abort a planned, queued or running run. A batch in flight finishes and is
        recorded (its items get their outcome, and the run's counters follow); items never
        sent are ``not_sent`` in the report."""
        run = self.get(run_id)
        if run.status.is_final:
            raise ConfigError(f"run {run_id} already ended ({run.status.value})", field="run")
        who = self.store.accounts.emails([user_id]).get(user_id, user_id) if user_id else None
        reason = "cancelled" + (f" by {who}" if who else "")
        try:
            cancelled = self.store.runs.transition(
                run_id,
                RunStatus.ABORTED,
                # A run delivering may have a batch out: its outcomes land after this.
                infos={
                    "error": reason,
                    "cancelled_by": user_id,
                    "settling": run.status is RunStatus.IN_PROGRESS,
                },
                ended=True,
            )
        except IllegalTransition:
            raise ConfigError(
                f"run {run_id} ended while being cancelled ({self.get(run_id).status.value})",
                field="run",
            ) from None
        if run.status is RunStatus.SCHEDULED:
            # Cancelling a planned tick skips that tick; the schedule goes on from the next.
            sync = self.store.config.sync(run.sync_id)
            schedule = sync.triggers.schedule
            if run.trigger is Trigger.SCHEDULE and schedule and sync.enabled and run.scheduled_for:
                Scheduler(self.store).plan(
                    sync, Trigger.SCHEDULE, schedule.next_after(run.scheduled_for, sync.id)
                )
        elif self.submitter is not None and run.admitted_at is not None:
            self.submitter.cancel(run_id)
        self.store.entries.leave_pending(run_id, self.store.changesets)
        self.store.audit.record(
            self.workspace_id,
            "run.cancelled",
            "run",
            object_id=run_id,
            object_name=run.sync_name,
            user_id=user_id,
            detail={"was": run.status.value},
        )
        return cancelled

    def set_enabled(self, sync_name: str, enabled: bool, *, user_id: str | None = None) -> SyncSpec:
        """Turn a sync on or off. Off, it has no scheduled runs and refuses manual ones."""
        sync = self.store.config.sync_by_name(self.workspace_id, sync_name)
        self.store.config.set_enabled(sync.id, enabled)
        self.store.audit.record(
            self.workspace_id,
            "sync.enabled" if enabled else "sync.disabled",
            "sync",
            object_id=sync.id,
            object_name=sync.name,
            user_id=user_id,
        )
        Scheduler(self.store).plan_schedules(utcnow())
        return self.store.config.sync(sync.id)

    def webhook(
        self, sync_name: str, *, rotate: bool = False
    ) -> tuple[str | None, datetime | None]:
        """The sync's webhook secret: a new one (returned once) when it has none or when
        rotating, else (None, when the current one was made). The API serves it at
        ``/api/v1/hooks/SECRET``."""
        sync = self.store.config.sync_by_name(self.workspace_id, sync_name)
        if not sync.triggers.webhook:
            raise ConfigError(
                f"sync {sync_name!r} has no webhook trigger; set webhook: true", field="webhook"
            )
        existing = self.store.webhooks.created_at(sync.id)
        if existing is not None and not rotate:
            return None, existing
        token = secrets.token_urlsafe(32)
        self.store.webhooks.set(sync.id, token)
        return token, self.store.webhooks.created_at(sync.id)

    def trigger_webhook(self, token: str) -> Run:
        """Start a run for the sync whose webhook secret this is. An unknown secret, or one of
        a sync whose webhook was turned off, is not found (nothing tells them apart)."""
        sync_id = self.store.webhooks.sync_of(token)
        sync = self.store.config.sync(sync_id) if sync_id else None
        if sync is None or not sync.triggers.webhook or sync.workspace_id != self.workspace_id:
            raise NotFound("no such webhook")
        return self.trigger(sync.name, trigger=Trigger.WEBHOOK)

    def upcoming(self) -> list[Run]:
        """Planned runs of the workspace, soonest first."""
        return self.store.runs.upcoming(self.workspace_id)

    def resync(self, selection: EntryFilter, *, user_id: str | None = None) -> list[Run]:
        """Send the selected entries' items again: one run of type ``resync`` per sync they
        belong to, each entry of which links back to the entry it resyncs."""
        if self.submitter is None:
            raise SyncwrightError("this process cannot start runs (no engine was configured)")
        sync_ids = self.store.report.syncs_selected(selection)
        if not sync_ids:
            raise NotFound("no entries match the selection; nothing to resync")
        chosen = [self.store.config.sync(i) for i in sync_ids]
        for sync in chosen:
            if not sync.enabled:
                raise ConfigError(f"sync {sync.name!r} is disabled", field="enabled")
            spec = self.store.config.destination(sync.destination_id)
            cls = self.connectors.destination_class(spec.type)
            if cls.wants_full_model(cls.config_class.parse(spec.config)):
                raise ConfigError(
                    f"destination {spec.name!r} of sync {sync.name!r} publishes the whole model"
                    " each run; start a full resync of the sync instead",
                    field="sync",
                )
        started = []
        for sync in chosen:
            run = self.store.runs.create(
                workspace_id=self.workspace_id,
                sync_id=sync.id,
                type=RESYNC_RUN_TYPE,
                trigger=Trigger.RESYNC,
                mode=RunMode.RESYNC,
                created_by_user_id=user_id,
            )
            with self.store.engine.begin() as conn:
                count = self.store.report.select_for_resync(conn, run.id, sync.id, selection)
                self.store.runs.update_infos(conn, run.id, {"resync_items": count})
                self.store.audit.record(
                    self.workspace_id,
                    "entries.resynced",
                    "sync",
                    object_id=sync.id,
                    object_name=sync.name,
                    user_id=user_id,
                    detail={"run_id": run.id, "items": count},
                    conn=conn,
                )
            self.submitter.submit(run)
            started.append(self.store.runs.get(run.id))
        return started

    def get(self, run_id: str) -> Run:
        run = self.store.runs.get(run_id)
        if run.workspace_id != self.workspace_id:
            raise NotFound(f"no run with id {run_id}")
        return run

    def list(
        self,
        f: RunFilter = RunFilter(),
        *,
        sync_name: str | None = None,
        before: tuple[datetime, str] | None = None,
        limit: int = 50,
        sort: str = "ran_at",
        descending: bool = True,
        offset: int = 0,
    ) -> list[Run]:
        """The workspace's runs, the last to run first unless sorted otherwise, filtered (a
        sync by name, or in ``f`` by id)."""
        if sync_name:
            f = replace(f, sync_id=self.store.config.sync_by_name(self.workspace_id, sync_name).id)
        return self.store.runs.list(
            self.workspace_id,
            f,
            before=before,
            limit=limit,
            sort=sort,
            descending=descending,
            offset=offset,
        )

    def wait(
        self,
        run_id: str,
        *,
        poll: float = 0.2,
        timeout: float | None = None,
        on_update: Callable[[Run], None] | None = None,
    ) -> Run:
        """Follow a run until it ends, calling ``on_update`` on each change."""
        deadline = None if timeout is None else time.monotonic() + timeout
        seen = None
        while True:
            run = self.get(run_id)
            if on_update and run.updated_at != seen:
                seen = run.updated_at
                on_update(run)
            if run.status.is_final:
                return run
            if deadline is not None and time.monotonic() > deadline:
                raise SyncwrightError(f"run {run_id} did not end within {timeout} s")
            time.sleep(poll)
