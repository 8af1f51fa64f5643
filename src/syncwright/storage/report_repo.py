"""Reading the sync report: filtered pages in any order, streams for export, error groups,
and the selections a resync sends again."""

from __future__ import annotations

import dataclasses
from typing import Any, Iterator, Sequence

import sqlalchemy as sa

from syncwright.domain.clock import as_utc
from syncwright.domain.entry import Entry
from syncwright.domain.report import (
    NULLABLE_SORTS,
    EntryFilter,
    ErrorGroup,
    Page,
    ReportQuery,
    decode_cursor,
    encode_cursor,
)
from syncwright.domain.statuses import EntryStatus
from syncwright.storage.changesets_repo import ChangeSetRepository
from syncwright.storage.scopes import RUN, SYNC, WORKSPACE, is_one_of, number
from syncwright.storage.tables import entries, resync_items, scopes, syncs

_STREAM_BATCH = 2000


def _prefix_end(prefix: str) -> str:
    """The smallest string above every string starting with ``prefix`` (binary order)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def conditions(f: EntryFilter) -> list[sa.ColumnElement[bool]]:
    """The filter as SQL conditions; the leading equalities meet the indexes' prefixes."""
    where: list[sa.ColumnElement[bool]] = [
        entries.c.workspace_no == number(WORKSPACE, f.workspace_id)
    ]
    if f.sync_ids:
        where.append(is_one_of(SYNC, f.sync_ids))
    if f.run_id:
        where.append(entries.c.run_no == number(RUN, f.run_id))
    if f.statuses:
        values = [s.value for s in f.statuses]
        where.append(
            entries.c.status == values[0] if len(values) == 1 else entries.c.status.in_(values)
        )
    if f.operations:
        where.append(entries.c.operation.in_([o.value for o in f.operations]))
    if f.system:
        where.append(entries.c.system == f.system)
    if f.reference:
        if f.prefix:
            where.append(entries.c.reference >= f.reference)
            where.append(entries.c.reference < _prefix_end(f.reference))
        else:
            where.append(entries.c.reference == f.reference)
    if f.error_group:
        where.append(entries.c.error_group == f.error_group)
    if f.entry_ids:
        where.append(entries.c.id.in_(f.entry_ids))
    if f.since:
        where.append(entries.c.created_at >= f.since)
    if f.until:
        where.append(entries.c.created_at < f.until)
    if f.latest_only:
        newer = entries.alias("newer")
        where.append(
            ~sa.exists().where(
                newer.c.sync_no == entries.c.sync_no,
                newer.c.item_key == entries.c.item_key,
                newer.c.id > entries.c.id,
            )
        )
    return where


#: The scopes of an entry, read back as their ids.
_RUN_OF, _SYNC_OF, _WORKSPACE_OF = (
    scopes.alias(f"{kind}_scope") for kind in (RUN, SYNC, WORKSPACE)
)
_NUMBERED = {"run_no": _RUN_OF, "sync_no": _SYNC_OF, "workspace_no": _WORKSPACE_OF}
#: Columns that say where an entry's payload is, not what the report shows.
_PLACES = ("batch",)


#: Sorting by a run or a sync is by its number (so by the order of their first entries: runs
#: by when they ran), which the indexes hold; a page cursor still names it by its id.
_SORTED_BY_NUMBER = {"run_id": (RUN, "run_no"), "sync_id": (SYNC, "sync_no")}


def _sort_expression(sort: str) -> sa.ColumnElement[Any]:
    if sort in _SORTED_BY_NUMBER:
        return entries.c[_SORTED_BY_NUMBER[sort][1]]
    column = entries.c[sort]
    return sa.func.coalesce(column, "") if sort in NULLABLE_SORTS else column


def _columns(*, payload: bool, latest: bool) -> list[Any]:
    """An entry's columns as the report shows them: the scopes' ids in place of their
    numbers; with ``payload``, where it is kept too."""
    chosen: list[Any] = []
    for c in entries.c:
        if c.name in _NUMBERED:
            chosen.append(_NUMBERED[c.name].c.uid.label(c.name.replace("_no", "_id")))
        elif c.name in _PLACES or c.name == "payload":
            if payload:
                chosen.append(c)
        else:
            chosen.append(c)
    chosen.append(syncs.c.name.label("sync_name"))
    if latest:
        newest = entries.alias("newest")
        for name, label in (("status", "latest_status"), ("updated_at", "latest_at")):
            chosen.append(
                sa.select(newest.c[name])
                .where(
                    newest.c.sync_no == entries.c.sync_no,
                    newest.c.item_key == entries.c.item_key,
                )
                .order_by(newest.c.id.desc())
                .limit(1)
                .scalar_subquery()
                .label(label)
            )
    return chosen


def _ordered(columns: list[Any], f: EntryFilter, sort: str, descending: bool) -> sa.Select[Any]:
    expr = _sort_expression(sort)
    order = [expr.desc(), entries.c.id.desc()] if descending else [expr.asc(), entries.c.id.asc()]
    if sort == "id":
        order = order[1:]
    return sa.select(*columns).select_from(_joined()).where(*conditions(f)).order_by(*order)


def _joined() -> sa.FromClause:
    """Entries with their scopes' ids and their sync's name."""
    joined = entries
    for column, scope in _NUMBERED.items():
        joined = joined.join(scope, scope.c.id == entries.c[column])
    return joined.outerjoin(syncs, syncs.c.id == _SYNC_OF.c.uid)


class ReportRepository:
    def __init__(self, engine: sa.Engine, changesets: ChangeSetRepository) -> None:
        self.engine = engine
        self.changesets = changesets

    def _with_payloads(self, conn: sa.Connection, rows: Sequence[Any]) -> list[Entry]:
        """Entries of ``rows``, each with its payload from the change set record that keeps
        it (while the retention keeps it), each record read once."""
        wanted: dict[str, list[tuple[int, int]]] = {}
        for r in rows:
            if r["payload"] is None and r["batch"] is not None:
                wanted.setdefault(r["run_id"], []).append((r["batch"], r["seq"]))
        found = {
            run_id: self.changesets.payloads(conn, run_id, places)
            for run_id, places in wanted.items()
        }
        listed = []
        for r in rows:
            entry = Entry.from_row(r)
            if entry.payload is None and r["batch"] is not None:
                kept = found.get(r["run_id"], {}).get((r["batch"], r["seq"]))
                if kept is not None:
                    entry = dataclasses.replace(entry, payload=kept)
            listed.append(entry)
        return listed

    def page(self, q: ReportQuery) -> Page:
        query = _ordered(_columns(payload=True, latest=q.latest), q.filter, q.sort, q.descending)
        if q.after:
            value, last_id = decode_cursor(q.sort, q.after)
            if q.sort == "id":
                query = query.where(
                    entries.c.id < last_id if q.descending else entries.c.id > last_id
                )
            else:
                expr = _sort_expression(q.sort)
                key = sa.tuple_(expr, entries.c.id)
                value_ = (
                    number(_SORTED_BY_NUMBER[q.sort][0], value)
                    if q.sort in _SORTED_BY_NUMBER
                    else sa.literal(value, expr.type)
                )
                bound = sa.tuple_(value_, sa.literal(last_id))
                query = query.where(key < bound if q.descending else key > bound)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(q.limit + 1)).mappings().all()
            found = self._with_payloads(conn, rows[: q.limit])
        more = len(rows) > q.limit
        return Page(found, encode_cursor(q.sort, found[-1]) if more and found else None)

    def stream(
        self, f: EntryFilter, *, sort: str = "id", descending: bool = True, latest: bool = False
    ) -> Iterator[tuple[list[str], Iterator[Sequence[Any]]]]:
        """Every matching entry in order, without payloads, read in batches from a server-side
        cursor: memory stays the same whatever the number of entries. Yields once: the column
        names and the rows."""
        query = _ordered(_columns(payload=False, latest=latest), f, sort, descending)
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True, yield_per=_STREAM_BATCH).execute(
                query
            )
            yield list(result.keys()), (tuple(row) for row in result)

    def count(self, f: EntryFilter) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    sa.select(sa.func.count()).select_from(entries).where(*conditions(f))
                ).scalar_one()
            )

    def _first_id_since(self, conn: sa.Connection, since: Any) -> int | None:
        """The first entry id created at or after ``since``: ids grow with time, so a binary
        search over the ids (a few primary-key reads) bounds a time window by ids."""
        low, high = conn.execute(
            sa.select(sa.func.min(entries.c.id), sa.func.max(entries.c.id))
        ).one()
        if low is None:
            return None
        found = None
        while low <= high:
            middle = (low + high) // 2
            probe = conn.execute(
                sa.select(entries.c.id, entries.c.created_at)
                .where(entries.c.id >= middle)
                .order_by(entries.c.id)
                .limit(1)
            ).first()
            if probe is None:
                break
            if as_utc(probe.created_at) >= since:
                found, high = probe.id, middle - 1
            else:
                low = probe.id + 1
        return found

    def _floor(self, conn: sa.Connection, f: EntryFilter) -> list[sa.ColumnElement[bool]]:
        """The filter's time window as a lower bound on ids too (so a walk of an index on
        status stops at the window's first entry)."""
        if f.since is None or f.run_id or f.entry_ids:
            return []
        first = self._first_id_since(conn, f.since)
        return [entries.c.id >= first if first is not None else sa.false()]

    def _bounded(self, conn: sa.Connection, f: EntryFilter) -> list[sa.ColumnElement[bool]]:
        return [*conditions(f), *self._floor(conn, f)]

    def count_by_status(self, f: EntryFilter, *, cap: int) -> dict[EntryStatus, int]:
        """How many entries the filter matches in each status, each counted up to ``cap``
        (one index range per status, from the window's first id: quick however many there
        are)."""
        wanted = f.statuses or tuple(EntryStatus)
        found: dict[EntryStatus, int] = {}
        with self.engine.connect() as conn:
            bound = self._floor(conn, f)
            for status in wanted:
                one = dataclasses.replace(f, statuses=(status,))
                # Newest first, as ids grow with time: a window of recent days fills the
                # cap without walking older entries.
                limited = (
                    sa.select(entries.c.id)
                    .where(*conditions(one), *bound)
                    .order_by(entries.c.id.desc())
                    .limit(cap)
                    .subquery()
                )
                found[status] = int(
                    conn.execute(sa.select(sa.func.count()).select_from(limited)).scalar_one()
                )
        return found

    def group_counts(self, f: EntryFilter, *, limit: int = 30) -> list[tuple[str, int]]:
        """The biggest error groups of the failed entries the filter matches, with their
        counts, no samples (to pick one from)."""
        failed = dataclasses.replace(f, statuses=(EntryStatus.FAILED,), error_group=None)
        with self.engine.connect() as conn:
            query = (
                sa.select(entries.c.error_group, sa.func.count().label("n"))
                .where(*self._bounded(conn, failed), entries.c.error_group.is_not(None))
                .group_by(entries.c.error_group)
                .order_by(sa.desc("n"), entries.c.error_group)
                .limit(limit)
            )
            return [(g, int(n)) for g, n in conn.execute(query)]

    def previous_of(self, entry_id: int) -> Entry | None:
        """The same item's entry before this one that carries its fields, in its sync."""
        with self.engine.connect() as conn:
            this = conn.execute(
                sa.select(entries.c.sync_no, entries.c.item_key).where(entries.c.id == entry_id)
            ).first()
            if this is None:
                return None
            earlier = (
                conn.execute(
                    sa.select(*_columns(payload=True, latest=False))
                    .select_from(_joined())
                    .where(
                        entries.c.sync_no == this.sync_no,
                        entries.c.item_key == this.item_key,
                        entries.c.id < entry_id,
                    )
                    .order_by(entries.c.id.desc())
                    .limit(20)
                )
                .mappings()
                .all()
            )
            found = [e for e in self._with_payloads(conn, earlier) if e.payload]
        return found[0] if found else None

    def error_groups(self, f: EntryFilter, *, limit: int = 50) -> list[ErrorGroup]:
        """Failed entries grouped by normalised reason, biggest first, with a sample each."""
        failed = EntryFilter(**{**f.__dict__, "statuses": (EntryStatus.FAILED,)})
        query = (
            sa.select(
                entries.c.error_group,
                sa.func.count().label("n"),
                sa.func.max(entries.c.id).label("sample_id"),
            )
            .where(*conditions(failed), entries.c.error_group.is_not(None))
            .group_by(entries.c.error_group)
            .order_by(sa.desc("n"), entries.c.error_group)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            groups = conn.execute(query).all()
            if not groups:
                return []
            sampled = (
                conn.execute(
                    sa.select(*_columns(payload=True, latest=False))
                    .select_from(_joined())
                    .where(entries.c.id.in_([g.sample_id for g in groups]))
                )
                .mappings()
                .all()
            )
            samples = {e.id: e for e in self._with_payloads(conn, sampled)}
        return [
            ErrorGroup(group=g.error_group, count=int(g.n), sample=samples[g.sample_id])
            for g in groups
        ]

    def syncs_selected(self, f: EntryFilter) -> list[str]:
        with self.engine.connect() as conn:
            return [
                r[0]
                for r in conn.execute(
                    sa.select(_SYNC_OF.c.uid)
                    .select_from(entries.join(_SYNC_OF, _SYNC_OF.c.id == entries.c.sync_no))
                    .where(*conditions(f))
                    .group_by(_SYNC_OF.c.uid)
                )
            ]

    def select_for_resync(
        self, conn: sa.Connection, run_id: str, sync_id: str, f: EntryFilter
    ) -> int:
        """Record the items of one sync that the filter selects, each with its newest matching
        entry, as what resync run ``run_id`` sends again. Done inside the database, so a
        selection of any size costs no memory here."""
        narrowed = EntryFilter(**{**f.__dict__, "sync_ids": (sync_id,)})
        chosen = (
            sa.select(
                sa.literal(run_id, sa.String(36)),
                entries.c.item_key,
                sa.func.max(entries.c.id),
            )
            .where(*conditions(narrowed))
            .group_by(entries.c.item_key)
        )
        conn.execute(resync_items.insert().from_select(["run_id", "item_key", "entry_id"], chosen))
        return int(
            conn.execute(
                sa.select(sa.func.count())
                .select_from(resync_items)
                .where(resync_items.c.run_id == run_id)
            ).scalar_one()
        )
