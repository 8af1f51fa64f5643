"""Config as code: check a configuration file completely, then create or update its objects
in one transaction. Nothing is applied when anything is wrong."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from syncwright.connectors.registry import ConnectorRegistry
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, NotFound, SyncwrightError
from syncwright.domain.statuses import ChangeDetection, Trigger, WriteMode
from syncwright.domain.sync import ConnectionSpec
from syncwright.domain.triggers import Missed, Schedule, Triggers, WhenBusy, parse_every
from syncwright.engine.scheduler import Scheduler
from syncwright.services.alerts import channel_config, channel_values, rule_thresholds
from syncwright.services.config_file import ConfigDoc, ConnectionDoc, SyncDoc
from syncwright.storage.store import Store


@dataclass(frozen=True, kw_only=True)
class AppliedChange:
    """One object the apply created, updated or left as it was."""

    kind: str
    name: str
    action: str


@dataclass(frozen=True, kw_only=True)
class ConnectionCheck:
    """The outcome of testing one connection: ``problem`` is None when it answered."""

    kind: str
    name: str
    problem: str | None


@dataclass(frozen=True, kw_only=True)
class _Connection:
    type: str
    supports: Any
    cls: Any


#: What a file configures, in the order applying writes them (each after what it names).
KINDS = ("source", "destination", "model", "sync", "alert_channel", "alert_rule")


class ConfigService:
    def __init__(
        self,
        store: Store,
        connectors: ConnectorRegistry,
        workspace_id: str,
        *,
        smtp: bool = False,
    ) -> None:
        self.store = store
        self.connectors = connectors
        self.workspace_id = workspace_id
        #: Whether this installation can send e-mail (e-mail alert channels need it).
        self.smtp = smtp

    # -- checking ---------------------------------------------------------------------------
    def _connector_config(
        self, kind: str, name: str, doc: ConnectionDoc, base_dir: Path
    ) -> dict[str, Any]:
        plural = f"{kind}s"
        try:
            cls = (
                self.connectors.source_class(doc.type)
                if kind == "source"
                else self.connectors.destination_class(doc.type)
            )
        except ConfigError as exc:
            raise ConfigError(
                str(exc).removeprefix("type: "), field=f"{plural}.{name}.type"
            ) from None
        where = f"{plural}.{name}"
        config = cls.config_class.parse(doc.settings(), where=where).resolved(base_dir)
        self.connectors.confinement.check_config(config, where=where)
        return config.stored(seal=self.store.secrets.seal)

    def _existing(self, kind: str, name: str) -> dict[str, Any] | None:
        return self.store.config.find(kind, self.workspace_id, name)

    def _connection(self, kind: str, name: str, doc: ConfigDoc, field: str) -> _Connection:
        docs = doc.sources if kind == "source" else doc.destinations
        if name in docs:
            type_name = docs[name].type
        else:
            row = self._existing(kind, name)
            if row is None:
                raise ConfigError(f"no {kind} named {name!r}", field=field)
            type_name = ConnectionSpec.from_row(row).type
        cls = (
            self.connectors.source_class(type_name)
            if kind == "source"
            else self.connectors.destination_class(type_name)
        )
        return _Connection(type=type_name, supports=cls.supports, cls=cls)

    def check(self, doc: ConfigDoc, base_dir: Path) -> dict[str, dict[str, dict[str, Any]]]:
        """Everything the apply would write, checked; raises ConfigError naming the field."""
        planned: dict[str, dict[str, dict[str, Any]]] = {
            "source": {},
            "model": {},
            "destination": {},
            "sync": {},
            "alert_channel": {},
            "alert_rule": {},
        }
        for name, source in doc.sources.items():
            if "max_runs" in (source.model_extra or {}):
                raise ConfigError("applies to destinations only", field=f"sources.{name}.max_runs")
            planned["source"][name] = {
                "type": source.type,
                "config": self._connector_config("source", name, source, base_dir),
            }
        for name, destination in doc.destinations.items():
            planned["destination"][name] = {
                "type": destination.type,
                "config": self._connector_config("destination", name, destination, base_dir),
                "max_runs": destination.max_runs(f"destinations.{name}.max_runs"),
            }
        for name, model in doc.models.items():
            source = self._connection("source", model.source, doc, f"models.{name}.source")
            try:
                source.cls.check_query(model.query)
            except ValueError as exc:
                raise ConfigError(str(exc), field=f"models.{name}.query") from None
            planned["model"][name] = {
                "source": model.source,
                "query": model.query,
                "primary_key": list(model.primary_key),
                "reference": model.reference,
                "cursor": model.cursor,
            }
        for name, sync in doc.syncs.items():
            where = f"syncs.{name}"
            model_doc = doc.models.get(sync.model)
            model_row = None if model_doc else self._existing("model", sync.model)
            if model_doc is None and model_row is None:
                raise ConfigError(f"no model named {sync.model!r}", field=f"{where}.model")
            cursor = model_doc.cursor if model_doc else model_row["cursor"]  # type: ignore[index]
            destination = self._connection(
                "destination", sync.destination, doc, f"{where}.destination"
            )
            if sync.mode is WriteMode.MIRROR and not destination.supports.deletes:
                raise ConfigError(
                    f"destination {sync.destination!r} ({destination.type}) cannot delete,"
                    " which mirror needs",
                    field=f"{where}.mode",
                )
            if (
                sync.mode in (WriteMode.UPDATE, WriteMode.UPSERT)
                and not destination.supports.updates
            ):
                raise ConfigError(
                    f"destination {sync.destination!r} ({destination.type}) cannot update items",
                    field=f"{where}.mode",
                )
            if sync.detection is ChangeDetection.CURSOR:
                if not cursor:
                    raise ConfigError(
                        f"model {sync.model!r} has no cursor column; set models.{sync.model}.cursor",
                        field=f"{where}.detection",
                    )
                source_name = model_doc.source if model_doc else None
                if source_name:
                    source = self._connection("source", source_name, doc, f"{where}.model")
                    if not source.supports.incremental:
                        raise ConfigError(
                            f"source {source_name!r} cannot read incrementally",
                            field=f"{where}.detection",
                        )
            planned["sync"][name] = {
                "model": sync.model,
                "destination": sync.destination,
                "type": sync.type,
                "write_mode": sync.mode.value,
                "detection": sync.detection.value,
                "enabled": sync.enabled,
                "folder": sync.folder,
                "labels": list(sync.labels),
                "settings": {
                    "batch_size": sync.batch_size,
                    "guard": sync.guard.model_dump(),
                    "retry": sync.retry.model_dump(),
                    "triggers": _triggers(sync, where),
                },
            }
        self._check_chains(doc)
        self._check_alerts(doc, planned)
        return planned

    def _check_alerts(self, doc: ConfigDoc, planned: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Alert channels (secrets sealed) and rules; a rule's sync and channels are named
        in the file or exist already."""
        for name, channel in doc.alert_channels.items():
            config = channel_config(channel, smtp=self.smtp, where=f"alert_channels.{name}.")
            planned["alert_channel"][name] = channel_values(
                channel.type, config, self.store.secrets.seal
            )
        for name, rule in doc.alert_rules.items():
            where = f"alert_rules.{name}."
            thresholds = rule_thresholds(rule, where)
            if (
                rule.sync is not None
                and rule.sync not in doc.syncs
                and not self._existing("sync", rule.sync)
            ):
                raise ConfigError(f"no sync named {rule.sync!r}", field=where + "sync")
            for channel_name in rule.channels:
                if channel_name not in doc.alert_channels and not self._existing(
                    "alert_channel", channel_name
                ):
                    raise ConfigError(
                        f"no alert channel named {channel_name!r}", field=where + "channels"
                    )
            planned["alert_rule"][name] = {
                "condition": rule.condition.value,
                "sync": rule.sync,
                "thresholds": thresholds.as_dict(),
                "channels": list(dict.fromkeys(rule.channels)),
                "enabled": rule.enabled,
            }

    def _check_chains(self, doc: ConfigDoc) -> None:
        """Every ``after`` names a sync, and no chain comes back to where it started."""
        stored = {s.name: s.triggers.after for s in self.store.config.list_syncs(self.workspace_id)}
        graph = {**stored, **{name: tuple(s.after) for name, s in doc.syncs.items()}}
        for name, sync in doc.syncs.items():
            for upstream in sync.after:
                if upstream not in graph:
                    raise ConfigError(f"no sync named {upstream!r}", field=f"syncs.{name}.after")
        for name in doc.syncs:
            cycle = _cycle(graph, name)
            if cycle:
                raise ConfigError(
                    "syncs would start each other forever: " + " after ".join(cycle),
                    field=f"syncs.{name}.after",
                )

    # -- connections --------------------------------------------------------------------------
    def test_connection(self, kind: str, type_name: str, config: dict[str, Any]) -> str | None:
        """Connect to a source or destination as configured; the reason it fails, or None."""
        try:
            connector = (
                self.connectors.source(type_name, config)
                if kind == "source"
                else self.connectors.destination(type_name, config)
            )
        except SyncwrightError as exc:
            return str(exc)
        try:
            connector.check()
        except Exception as exc:  # any failure of a connector's check is its answer
            return str(exc) or type(exc).__name__
        finally:
            connector.close()
        return None

    def _check_models(self, planned: dict[str, dict[str, dict[str, Any]]]) -> None:
        """Each model of the file runs on its source (for no row) and has the columns of its
        primary key and cursor; else it is refused naming the model. Sources that cannot
        tell their columns before reading are not asked."""
        for name, model in planned["model"].items():
            values = planned["source"].get(model["source"])
            if values is not None:
                type_name, config = values["type"], self.store.secrets.open(values["config"])
            else:
                row = self._existing("source", model["source"])
                if row is None:
                    continue  # refused by check() already
                spec = ConnectionSpec.from_row(row)
                type_name, config = spec.type, spec.config
            source = self.connectors.source(type_name, config)
            try:
                columns = source.describe(model["query"])
            except Exception as exc:  # the source's own reason
                raise ConfigError(
                    f"model {name!r}: the query does not run on {model['source']!r}: {exc}",
                    field=f"models.{name}.query",
                ) from None
            finally:
                source.close()
            if columns is None:
                continue
            for key in model["primary_key"]:
                if key not in columns:
                    raise ConfigError(
                        f"model {name!r}: its query has no column {key!r} of the primary key"
                        f" (it has {', '.join(columns)})",
                        field=f"models.{name}.primary_key",
                    )
            if model["cursor"] and model["cursor"] not in columns:
                raise ConfigError(
                    f"model {name!r}: its query has no cursor column {model['cursor']!r}"
                    f" (it has {', '.join(columns)})",
                    field=f"models.{name}.cursor",
                )

    def test_planned(self, planned: dict[str, dict[str, dict[str, Any]]]) -> list[ConnectionCheck]:
        found = []
        for kind in ("source", "destination"):
            for name, values in planned[kind].items():
                config = self.store.secrets.open(values["config"])  # planned sealed
                problem = self.test_connection(kind, values["type"], config)
                found.append(ConnectionCheck(kind=kind, name=name, problem=problem))
        return found

    def test_stored(self, name: str) -> list[ConnectionCheck]:
        """Test the stored source and/or destination called ``name``."""
        found = []
        for kind in ("source", "destination"):
            row = self._existing(kind, name)
            if row is not None:
                spec = ConnectionSpec.from_row(row)
                problem = self.test_connection(kind, spec.type, spec.config)
                found.append(ConnectionCheck(kind=kind, name=name, problem=problem))
        if not found:
            raise NotFound(f"no source or destination named {name!r}")
        return found

    # -- applying ---------------------------------------------------------------------------
    def apply(
        self,
        doc: ConfigDoc,
        *,
        base_dir: Path,
        dry_run: bool = False,
        user_id: str | None = None,
        check_connections: bool = True,
    ) -> list[AppliedChange]:
        """Apply a file. With ``check_connections``, every source and destination in it must
        answer first: an unreachable endpoint is refused naming it, and nothing is applied."""
        planned = self.check(doc, base_dir)
        if check_connections:
            for result in self.test_planned(planned):
                if result.problem:
                    raise ConfigError(
                        f"cannot connect: {result.problem}", field=f"{result.kind}s.{result.name}"
                    )
            self._check_models(planned)
        changes: list[AppliedChange] = []
        ids: dict[tuple[str, str], str] = {}

        def resolve(kind: str, name: str) -> str:
            if (kind, name) not in ids:
                row = self.store.config.find(kind, self.workspace_id, name)
                if row is None:  # checked above; only a concurrent delete gets here
                    raise ConfigError(f"no {kind} named {name!r}")
                ids[(kind, name)] = str(row["id"])
            return ids[(kind, name)]

        with self.store.engine.connect() as conn, conn.begin() as transaction:
            for kind in KINDS:
                for name, planned_values in planned[kind].items():
                    values = dict(planned_values)
                    if kind == "model":
                        values["source_id"] = resolve("source", values.pop("source"))
                    if kind == "sync":
                        values["model_id"] = resolve("model", values.pop("model"))
                        values["destination_id"] = resolve("destination", values.pop("destination"))
                    if kind == "alert_rule":
                        sync = values.pop("sync")
                        values["sync_id"] = None if sync is None else resolve("sync", sync)
                        values["channel_ids"] = [
                            resolve("alert_channel", c) for c in values.pop("channels")
                        ]
                    object_id, action = self.store.config.save(
                        conn, kind, self.workspace_id, name, values, user_id=user_id
                    )
                    ids[(kind, name)] = object_id
                    changes.append(AppliedChange(kind=kind, name=name, action=action))
                    if action != "unchanged":
                        self.store.audit.record(
                            self.workspace_id,
                            f"{kind}.{action}",
                            kind,
                            object_id=object_id,
                            object_name=name,
                            user_id=user_id,
                            conn=conn,
                        )
            if dry_run:
                transaction.rollback()
        if not dry_run:
            self._plan_after_apply(changes)
        return changes

    def _plan_after_apply(self, changes: list[AppliedChange]) -> None:
        """Schedules follow the new configuration; edited syncs and models start their syncs'
        ``on_change`` runs (debounced)."""
        now = utcnow()
        scheduler = Scheduler(self.store)
        edited_syncs = {c.name for c in changes if c.kind == "sync" and c.action == "updated"}
        edited_models = {c.name for c in changes if c.kind == "model" and c.action == "updated"}
        syncs = self.store.config.list_syncs(self.workspace_id)
        for sync in syncs:
            if sync.name in edited_syncs:  # its schedule may have changed: plan afresh
                scheduler.drop_planned(sync, Trigger.SCHEDULE, "the sync's configuration changed")
        scheduler.plan_schedules(now)
        for sync in syncs:
            model_name = self.store.config.model(sync.model_id).name
            if sync.name in edited_syncs or model_name in edited_models:
                scheduler.plan_change(sync, now)


def _triggers(sync: SyncDoc, where: str) -> dict[str, Any]:
    """The sync's triggers as stored, checked by the domain's own rules."""
    try:
        schedule = None
        if sync.schedule is not None:
            every = sync.schedule.every
            schedule = Schedule(
                every=None if every is None else parse_every(every, "every"),
                cron=sync.schedule.cron,
                timezone=sync.schedule.timezone,
            )
        triggers = Triggers(
            schedule=schedule,
            missed=Missed(sync.missed),
            after=tuple(sync.after),
            after_statuses=tuple(sync.after_statuses),
            on_change=sync.on_change,
            debounce=parse_every(sync.debounce, "debounce") if sync.debounce else 0.0,
            webhook=sync.webhook,
            when_busy=WhenBusy(sync.when_busy),
            timeout=None if sync.timeout is None else parse_every(sync.timeout, "timeout"),
            disable_after_failures=sync.disable_after_failures,
        )
    except ConfigError as exc:
        inner = "schedule." + exc.field if exc.field in ("every", "cron", "timezone") else exc.field
        raise ConfigError(exc.message, field=f"{where}.{inner}") from None
    return {
        "schedule": None
        if triggers.schedule is None
        else {
            "every": triggers.schedule.every,
            "cron": triggers.schedule.cron,
            "timezone": triggers.schedule.timezone,
        },
        "missed": triggers.missed.value,
        "after": list(triggers.after),
        "after_statuses": list(triggers.after_statuses),
        "on_change": triggers.on_change,
        "debounce": triggers.debounce,
        "webhook": triggers.webhook,
        "when_busy": triggers.when_busy.value,
        "timeout": triggers.timeout,
        "disable_after_failures": triggers.disable_after_failures,
    }


def _cycle(graph: dict[str, tuple[str, ...]], start: str) -> list[str] | None:
    """A path of ``after`` links from ``start`` back to itself, if there is one."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for upstream in graph.get(node, ()):
            if upstream == start:
                return [*path, start]
            if upstream not in seen:
                seen.add(upstream)
                stack.append((upstream, [*path, upstream]))
    return None
