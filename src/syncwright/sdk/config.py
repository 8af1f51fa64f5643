"""Typed connector configuration; a bad value is refused naming its field."""

from __future__ import annotations

import collections.abc
import difflib
import types
from pathlib import Path
from typing import Annotated, Any, Callable, Mapping, TypeVar, Union, get_args, get_origin

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from syncwright.domain.errors import ConfigError
from syncwright.sdk.confinement import LocalPathField

C = TypeVar("C", bound="ConnectorConfig")

REDACTED = "********"
_CONTAINERS = (dict, list, tuple, collections.abc.Mapping, collections.abc.Sequence)


class ConnectorConfig(BaseModel):
    """Base of every connector's settings. Declare secrets as ``SecretStr``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parse(cls: type[C], data: Mapping[str, Any], *, where: str = "config") -> C:
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise config_error(cls, exc, where) from None

    def resolved(self: C, base_dir: Path) -> C:
        """This config with paths relative to ``base_dir`` (the config file's folder) made
        absolute; connectors that take paths override it."""
        return self

    def local_paths(self) -> dict[str, str]:
        """The paths on this machine these settings name, by field: every field typed
        ``LocalPath``. The platform refuses any outside what connectors may use (see
        ``syncwright.sdk.confinement``); a connector whose paths live elsewhere overrides it."""
        found: dict[str, str] = {}
        for name, info in type(self).model_fields.items():
            if _names_a_path(info.metadata, info.annotation):
                value = getattr(self, name)
                if value:
                    found[name] = str(value)
        return found

    def database_urls(self) -> dict[str, str]:
        """The database URLs these settings name, by field (checked like ``local_paths``:
        a SQLite file, or the installation's own database, is refused)."""
        return {}

    def stored(self, seal: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The settings as plain values to store, each secret passed through ``seal`` (the
        store's encryption) when given. A connector keeping a secret in a plain field (a
        password inside a URL) overrides this to seal that field too."""
        keep = seal or (lambda text: text)
        return _walk(self.model_dump(mode="python"), lambda secret: keep(secret.get_secret_value()))

    def public(self) -> dict[str, Any]:
        """The settings with every secret replaced by a mask, safe to print or return."""
        return redact(self)


def _names_a_path(metadata: list[Any], annotation: Any) -> bool:
    """Whether a field is typed ``LocalPath`` (also inside ``LocalPath | None``)."""
    if any(isinstance(m, LocalPathField) for m in metadata):
        return True
    args = get_args(annotation)
    if get_origin(annotation) is Annotated:
        return _names_a_path(list(args[1:]), args[0])
    return any(_names_a_path([], arg) for arg in args)


def redact(config: BaseModel) -> dict[str, Any]:
    """The settings with every secret, nested ones included, replaced by a mask."""
    return _walk(config.model_dump(mode="python"), lambda secret: REDACTED)


def _walk(value: Any, secret: Callable[[SecretStr], str]) -> Any:
    if isinstance(value, SecretStr):
        return secret(value)
    if isinstance(value, dict):
        return {k: _walk(v, secret) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_walk(v, secret) for v in value]
    return value


def config_error(model: type[BaseModel], exc: ValidationError, where: str = "") -> ConfigError:
    """The first problem of a validation as a ConfigError naming its field; an unknown key is
    named with the closest key the settings know ("did you mean ...?")."""
    problems = exc.errors()
    # A misspelt key also makes the right one missing: the unknown key says more.
    first = next((p for p in problems if p["type"] == "extra_forbidden"), problems[0])
    loc = tuple(first["loc"])
    path = ".".join(str(part) for part in (*([where] if where else []), *loc))
    message = first["msg"].removeprefix("Value error, ")
    if first["type"] == "extra_forbidden" and loc:
        known = _known_keys(model, loc[:-1])
        close = difflib.get_close_matches(str(loc[-1]), known, n=1, cutoff=0.6)
        message = "unknown key" + (f"; did you mean {close[0]!r}?" if close else "")
        if known and not close:
            message += f" (known: {', '.join(sorted(known))})"
    return ConfigError(message, field=path)


def _known_keys(model: Any, loc: tuple[Any, ...]) -> list[str]:
    """The keys of the model found by following ``loc`` through fields, dicts and lists."""
    current: Any = model
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part))
            if info is None:
                info = next(
                    (f for f in current.model_fields.values() if f.alias == str(part)), None
                )
            if info is None:
                return []
            current = info.annotation
        elif get_origin(current) in _CONTAINERS:
            args = get_args(current)
            current = args[-1] if args else Any
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return []


def _unwrap(annotation: Any) -> Any:
    """``X | None`` as ``X`` (the first model of a union)."""
    if get_origin(annotation) in (Union, types.UnionType):
        for arg in get_args(annotation):
            if (isinstance(arg, type) and issubclass(arg, BaseModel)) or get_origin(arg):
                return arg
    return annotation
