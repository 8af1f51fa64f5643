"""Typed connector configuration; a bad value is refused naming its field."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from syncwright.domain.errors import ConfigError

C = TypeVar("C", bound="ConnectorConfig")

REDACTED = "********"


class ConnectorConfig(BaseModel):
    """Base of every connector's settings. Declare secrets as ``SecretStr``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    @classmethod
    def parse(cls: type[C], data: Mapping[str, Any], *, where: str = "config") -> C:
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            first = exc.errors()[0]
            path = ".".join(str(part) for part in (where, *first["loc"]))
            raise ConfigError(first["msg"].removeprefix("Value error, "), field=path) from None

    def resolved(self: C, base_dir: Path) -> C:
        """This config with paths relative to ``base_dir`` (the config file's folder) made
        absolute; connectors that take paths override it."""
        return self

    def stored(self, seal: Callable[[str], str] | None = None) -> dict[str, Any]:
        """The settings as plain values to store, each secret passed through ``seal`` (the
        store's encryption) when given. A connector keeping a secret in a plain field (a
        password inside a URL) overrides this to seal that field too."""
        keep = seal or (lambda text: text)
        return _walk(self.model_dump(mode="python"), lambda secret: keep(secret.get_secret_value()))

    def public(self) -> dict[str, Any]:
        """The settings with every secret replaced by a mask, safe to print or return."""
        return redact(self)


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
