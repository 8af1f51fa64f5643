"""The sync report: entries of runs, searched, filtered, sorted, paged, exported and grouped."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import operator
import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Iterable, Iterator, Sequence, TextIO

from syncwright.domain.clock import utcnow
from syncwright.domain.entry import Entry
from syncwright.domain.errors import ConfigError, NotFound
from syncwright.domain.report import (
    CSV_COLUMNS,
    DEFAULT_DAYS,
    LATEST_COLUMNS,
    EntryFilter,
    ErrorGroup,
    Page,
    ReportQuery,
)
from syncwright.domain.retention import Retention
from syncwright.domain.statuses import EntryStatus, Operation
from syncwright.storage.store import Store


@dataclass(frozen=True, kw_only=True)
class Search:
    """What a person asks the report for, by names; ``ReportService.filter`` resolves it."""

    sync: str | None = None
    run_id: str | None = None
    statuses: tuple[EntryStatus, ...] = ()
    operations: tuple[Operation, ...] = ()
    system: str | None = None
    destination: str | None = None
    reference: str | None = None
    prefix: bool = False
    error_group: str | None = None
    entry_ids: tuple[int, ...] = ()
    since: datetime | None = None
    until: datetime | None = None
    #: Only entries that are their item's newest.
    latest_only: bool = False
    #: The window when ``since`` is not given: the last ``days`` days (default 5). A run or
    #: entry ids look back over the whole retention instead.
    days: float | None = None


@dataclass(frozen=True, kw_only=True)
class EntryDetail:
    """One entry as its page shows it: what was sent and what came back (when the
    destination said), and what changed since the item's previous version."""

    entry: Entry
    #: ``{"request": {"method", "url", "body"}, "response": {"status", "body"}}``, or None.
    exchange: dict[str, Any] | None
    #: The item's entry before this one that carried its fields (None: the first known).
    previous: Entry | None
    #: (field, before, now) for each field that differs from the previous version.
    changes: list[tuple[str, Any, Any]]


def _fields(payload: str | None) -> dict[str, Any] | None:
    if not payload:
        return None
    try:
        found = json.loads(payload)
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


class ReportService:
    def __init__(self, store: Store, workspace_id: str, retention: Retention | None = None) -> None:
        self.store = store
        self.workspace_id = workspace_id
        self.retention = retention or Retention()

    # -- filters ------------------------------------------------------------------------------
    def _sync_id(self, name_or_id: str) -> str:
        try:
            return self.store.config.sync_by_name(self.workspace_id, name_or_id).id
        except NotFound:
            for sync in self.store.config.list_syncs(self.workspace_id):
                if sync.id == name_or_id:
                    return sync.id
            raise

    def _destination_syncs(self, name: str) -> tuple[str, ...]:
        row = self.store.config.find("destination", self.workspace_id, name)
        if row is None:
            known = ", ".join(self.store.config.names("destination", self.workspace_id)) or "none"
            raise NotFound(f"no destination named {name!r} (known: {known})")
        return tuple(
            s.id
            for s in self.store.config.list_syncs(self.workspace_id)
            if s.destination_id == row["id"]
        )

    def filter(self, search: Search | None = None, **fields: Any) -> EntryFilter:
        """Resolve names to ids and apply the time window, refusing one wider than what the
        retention keeps."""
        s = search or Search(**fields)
        if s.run_id:
            s = dataclasses.replace(s, run_id=self._run_id(s.run_id))
        now = utcnow()
        oldest = self.retention.entries_before(now)
        if s.days is not None and not 0 < s.days <= self.retention.entry_days:
            raise ConfigError(
                f"the report keeps {self.retention.entry_days:g} days; ask for 1 to"
                f" {self.retention.entry_days:g}",
                field="days",
            )
        since = s.since
        if since is not None and since < oldest - timedelta(minutes=1):
            raise ConfigError(
                f"the report keeps {self.retention.entry_days:g} days, since {oldest:%Y-%m-%d %H:%M}"
                " UTC",
                field="since",
            )
        if since is None:
            wide = s.run_id is not None or bool(s.entry_ids)
            since = (
                oldest if wide and s.days is None else now - timedelta(days=s.days or DEFAULT_DAYS)
            )
        sync_ids: tuple[str, ...] = ()
        if s.sync:
            sync_ids = (self._sync_id(s.sync),)
        if s.destination:
            of_destination = self._destination_syncs(s.destination)
            sync_ids = (
                tuple(i for i in sync_ids if i in of_destination) if sync_ids else of_destination
            ) or ("-",)  # a destination no sync uses matches nothing
        statuses = s.statuses
        if s.error_group and not statuses:
            statuses = (EntryStatus.FAILED,)  # a group is one of failed entries
        return EntryFilter(
            workspace_id=self.workspace_id,
            sync_ids=sync_ids,
            run_id=s.run_id,
            statuses=statuses,
            operations=s.operations,
            system=s.system,
            reference=s.reference or None,
            prefix=s.prefix,
            error_group=s.error_group,
            entry_ids=s.entry_ids,
            since=since,
            until=s.until,
            latest_only=s.latest_only,
        )

    def _run_id(self, given: str) -> str:
        """A run's id, from the whole id or its first characters (8 as the pages show)."""
        given = given.strip().lower()
        if len(given) >= 36:
            return given
        if len(given) < 4 or not re.fullmatch(r"[0-9a-f-]+", given):
            raise ConfigError(
                "a run's id, or at least its first 4 characters (0-9, a-f)", field="run"
            )
        found = self.store.runs.ids_starting(self.workspace_id, given)
        if not found:
            raise ConfigError(f"no run's id starts with {given!r}", field="run")
        if len(found) > 1:
            raise ConfigError(
                f"several runs' ids start with {given!r}: give more characters", field="run"
            )
        return found[0]

    def status_counts(self, search: Search | None = None, cap: int = 10_000) -> dict[str, int]:
        """How many entries the search matches in each status (each counted up to ``cap``):
        OK, Sent, Pending, Failed, then Not sent."""
        found = self.store.report.count_by_status(self.filter(search), cap=cap)
        order = [
            EntryStatus.OK,
            EntryStatus.SENT,
            EntryStatus.PENDING,
            EntryStatus.FAILED,
            EntryStatus.NOT_SENT,
        ]
        return {s.value: found[s] for s in order if s in found}

    # -- reading ------------------------------------------------------------------------------
    def page(
        self,
        search: Search | None = None,
        *,
        sort: str = "id",
        descending: bool = True,
        after: str | None = None,
        limit: int = 100,
        latest: bool = False,
        **fields: Any,
    ) -> Page:
        return self.store.report.page(
            ReportQuery(
                filter=self.filter(search, **fields),
                sort=sort,
                descending=descending,
                after=after,
                limit=limit,
                latest=latest,
            )
        )

    def entries(
        self,
        *,
        sync_name: str | None = None,
        status: EntryStatus | None = None,
        limit: int = 100,
        **fields: Any,
    ) -> list[Entry]:
        """The first page, newest first (a shortcut for one status and a sync's name)."""
        if status is not None:
            fields["statuses"] = (status,)
        return self.page(sync=sync_name, limit=limit, **fields).entries

    def history(self, reference: str, *, sync: str | None = None, limit: int = 1000) -> list[Entry]:
        """Every entry of one reference across runs (and syncs, unless one is named), newest
        first, over the whole retention."""
        return self.page(
            reference=reference,
            sync=sync,
            days=self.retention.entry_days,
            limit=limit,
            latest=True,
        ).entries

    def entry(self, entry_id: int) -> EntryDetail:
        """One entry of the workspace (another workspace's is not found), with what went to
        the destination and back, and the difference from the item's previous version."""
        found = self.page(Search(entry_ids=(entry_id,)), limit=1).entries
        if not found:
            raise NotFound(f"no entry with id {entry_id}")
        entry = found[0]
        previous = self.store.report.previous_of(entry.id)
        now, before = _fields(entry.payload), _fields(previous.payload if previous else None)
        changes: list[tuple[str, Any, Any]] = []
        if now is not None and before is not None:
            changes = [
                (name, before.get(name), now.get(name))
                for name in sorted(set(now) | set(before))
                if before.get(name) != now.get(name)
            ]
        return EntryDetail(
            entry=entry,
            exchange=self.store.exchanges.of(entry.id),
            previous=previous,
            changes=changes,
        )

    def group_counts(self, search: Search | None = None, **fields: Any) -> list[tuple[str, int]]:
        """The biggest error groups of what the search matches (with any group it names
        left out), with their counts: to pick one from."""
        return self.store.report.group_counts(self.filter(search, **fields))

    def error_groups(self, search: Search | None = None, **fields: Any) -> list[ErrorGroup]:
        return self.store.report.error_groups(self.filter(search, **fields))

    def export_csv(
        self,
        out: TextIO,
        search: Search | None = None,
        *,
        sort: str = "id",
        descending: bool = True,
        latest: bool = False,
        **fields: Any,
    ) -> int:
        """Write exactly the entries the filter matches as CSV (header first, fixed columns),
        streamed from the store. Returns how many rows were written."""
        writer = csv.writer(out)
        written = -1  # the header
        for record in self._csv_records(search, sort, descending, latest, fields):
            writer.writerow(record)  # None is written as an empty cell
            written += 1
        return written

    def csv_chunks(
        self,
        search: Search | None = None,
        *,
        sort: str = "id",
        descending: bool = True,
        latest: bool = False,
        rows_per_chunk: int = 1000,
        **fields: Any,
    ) -> Iterator[str]:
        """The same CSV as ``export_csv``, as text chunks for a streamed answer. The filter is
        checked now (a bad one raises here), the entries are read as the chunks are taken."""
        records = self._csv_records(search, sort, descending, latest, fields)
        header = next(records)

        def chunks() -> Iterator[str]:
            buffer = io.StringIO()
            writer = csv.writer(buffer)
            writer.writerow(header)
            for i, record in enumerate(records, 1):
                writer.writerow(record)
                if i % rows_per_chunk == 0:
                    yield buffer.getvalue()
                    buffer.seek(0)
                    buffer.truncate()
            yield buffer.getvalue()

        return chunks()

    def _csv_records(
        self,
        search: Search | None,
        sort: str,
        descending: bool,
        latest: bool,
        fields: dict[str, Any],
    ) -> Iterator[Sequence[Any]]:
        """The header, then each matching entry's cells; the filter is resolved up front."""
        chosen = ReportQuery(filter=self.filter(search, **fields), sort=sort).filter
        columns = CSV_COLUMNS + (LATEST_COLUMNS if latest else ())

        def records() -> Iterator[Sequence[Any]]:
            yield columns
            for names, rows in self.store.report.stream(
                chosen, sort=sort, descending=descending, latest=latest
            ):
                yield from _cells(columns, names, rows)

        return records()


def _cells(
    columns: tuple[str, ...], names: list[str], rows: Iterable[Sequence[Any]]
) -> Iterator[list[Any]]:
    renamed = ["sync" if n == "sync_name" else n for n in names]
    pick = operator.itemgetter(*(renamed.index(c) for c in columns))
    times = [i for i, c in enumerate(columns) if c in ("created_at", "updated_at", "latest_at")]
    for row in rows:
        out = list(pick(row))
        for i in times:
            out[i] = _iso(out[i])
        yield out


def _iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.isoformat() if value.tzinfo else value.isoformat() + "+00:00"
