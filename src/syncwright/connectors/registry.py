"""Finds connectors by type: built-ins first, then plugins of the ``syncwright.connectors``
entry-point group, named ``source.<type>`` or ``destination.<type>``. Loaded lazily; a broken
plugin is reported by name and does not break the others."""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import Any, Literal, Mapping

from syncwright.domain.errors import ConfigError
from syncwright.sdk.config import ConnectorConfig
from syncwright.sdk.confinement import Confinement
from syncwright.sdk.destination import Destination
from syncwright.sdk.source import Source

ENTRY_POINT_GROUP = "syncwright.connectors"
Kind = Literal["source", "destination"]

BUILTIN: dict[tuple[Kind, str], str] = {
    ("source", "sql"): "syncwright.connectors.sql.source:SqlSource",
    ("source", "files"): "syncwright.connectors.files.source:FileSource",
    ("source", "http"): "syncwright.connectors.http.source:HttpSource",
    ("destination", "sql"): "syncwright.connectors.sql.destination:SqlDestination",
    ("destination", "http"): "syncwright.connectors.http.destination:HttpDestination",
    ("destination", "file_feed"): "syncwright.connectors.files.feed:FileFeed",
    ("destination", "sftp"): "syncwright.connectors.sftp.destination:SftpDestination",
}


@dataclass
class ConnectorRegistry:
    """Where connector classes are looked up, and the one place connectors are built: each is
    given ``confinement`` (what it may reach on this machine), after its settings are checked
    against it. ``broken`` names plugins that failed to load."""

    confinement: Confinement = field(default_factory=Confinement)
    paths: dict[tuple[Kind, str], str] = field(default_factory=lambda: dict(BUILTIN))
    broken: dict[str, str] = field(default_factory=dict)
    _loaded: dict[tuple[Kind, str], type] = field(default_factory=dict)
    _discovered: bool = False

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True
        for ep in entry_points(group=ENTRY_POINT_GROUP):
            kind, _, type_name = ep.name.partition(".")
            if kind not in ("source", "destination") or not type_name:
                self.broken[ep.name] = (
                    "entry point name must be source.<type> or destination.<type>"
                )
                continue
            self.paths.setdefault((kind, type_name), ep.value)  # type: ignore[arg-type]

    def types(self, kind: Kind) -> list[str]:
        self._discover()
        return sorted(name for k, name in self.paths if k == kind)

    def _load(self, kind: Kind, type_name: str) -> type:
        self._discover()
        key = (kind, type_name)
        if key in self._loaded:
            return self._loaded[key]
        path = self.paths.get(key)
        if path is None:
            known = ", ".join(self.types(kind)) or "none"
            raise ConfigError(f"unknown {kind} type {type_name!r} (known: {known})", field="type")
        module_name, _, attr = path.partition(":")
        try:
            cls = getattr(importlib.import_module(module_name), attr)
        except Exception as exc:  # a plugin may fail in any way; report it by name
            self.broken[f"{kind}.{type_name}"] = f"{type(exc).__name__}: {exc}"
            raise ConfigError(
                f"the {kind} connector {type_name!r} failed to load: {exc}", field="type"
            ) from exc
        self._loaded[key] = cls
        return cls

    def source_class(self, type_name: str) -> type[Source]:
        return self._load("source", type_name)

    def destination_class(self, type_name: str) -> type[Destination]:
        return self._load("destination", type_name)

    def config(
        self, kind: Kind, type_name: str, values: Mapping[str, Any], *, where: str = "config"
    ) -> ConnectorConfig:
        """A connector's settings, parsed and checked against the confinement; ConfigError
        naming the field (under ``where``) otherwise."""
        config = self._load(kind, type_name).config_class.parse(values, where=where)
        self.confinement.check_config(config, where=where)
        return config

    def source(
        self, type_name: str, values: Mapping[str, Any] | ConnectorConfig, *, where: str = "config"
    ) -> Source:
        """A source ready to read, its settings checked (at every build: apply, preview, run)."""
        config = self._checked("source", type_name, values, where)
        source = self.source_class(type_name)(config)
        source.confinement = self.confinement
        return source

    def destination(
        self, type_name: str, values: Mapping[str, Any] | ConnectorConfig, *, where: str = "config"
    ) -> Destination:
        """A destination ready to write, its settings checked like a source's."""
        config = self._checked("destination", type_name, values, where)
        destination = self.destination_class(type_name)(config)
        destination.confinement = self.confinement
        return destination

    def _checked(
        self,
        kind: Kind,
        type_name: str,
        values: Mapping[str, Any] | ConnectorConfig,
        where: str,
    ) -> ConnectorConfig:
        if isinstance(values, ConnectorConfig):
            self.confinement.check_config(values, where=where)
            return values
        return self.config(kind, type_name, values, where=where)
