"""Connector secrets at rest: sealed with AES-SIV under the installation's key.

The key comes from ``SYNCWRIGHT_SECRET_KEY`` (base64 of 64 bytes; the same on every machine
of one installation) or, when unset, from ``secret.key`` in the home folder, made on first
use and readable by its owner only. Sealing is deterministic (the same secret seals to the
same text), so applying an unchanged file changes nothing; a sealed value reads
``enc:v1:...``. Values stored before sealing existed read as they are, and are sealed by the
next apply that touches them."""

from __future__ import annotations

import base64
import binascii
import os
import secrets
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESSIV

from syncwright.domain.errors import ConfigError

PREFIX = "enc:v1:"
KEY_BYTES = 64
KEY_FILE = "secret.key"
_CONTEXT = [b"syncwright connector secret"]


class SecretBox:
    def __init__(self, key: bytes) -> None:
        if len(key) != KEY_BYTES:
            raise ConfigError(
                f"must be {KEY_BYTES} bytes in base64, got {len(key)} bytes",
                field="SYNCWRIGHT_SECRET_KEY",
            )
        self._siv = AESSIV(key)

    @classmethod
    def ephemeral(cls) -> SecretBox:
        """A box with a key of its own, for a store nobody opens again (tests, benchmarks)."""
        return cls(secrets.token_bytes(KEY_BYTES))

    def seal(self, plain: str) -> str:
        if plain.startswith(PREFIX):
            return plain
        sealed = self._siv.encrypt(plain.encode(), _CONTEXT)
        return PREFIX + base64.urlsafe_b64encode(sealed).decode()

    def open(self, value: Any) -> Any:
        """``value`` with every sealed string in it (nested ones too) opened."""
        if isinstance(value, str) and value.startswith(PREFIX):
            try:
                raw = base64.urlsafe_b64decode(value[len(PREFIX) :].encode())
                return self._siv.decrypt(raw, _CONTEXT).decode()
            except (InvalidTag, binascii.Error, ValueError):
                raise ConfigError(
                    "a stored secret cannot be opened with this key; use the key it was"
                    " sealed with",
                    field="SYNCWRIGHT_SECRET_KEY",
                ) from None
        if isinstance(value, dict):
            return {k: self.open(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.open(v) for v in value]
        return value


def load_key(home: Path, configured: str | None) -> bytes:
    """The installation's key: ``configured`` (base64) when given, else the home's key file,
    made now if there is none."""
    if configured:
        try:
            return base64.b64decode(configured.encode(), validate=True)
        except binascii.Error:
            raise ConfigError("is not base64", field="SYNCWRIGHT_SECRET_KEY") from None
    path = home / KEY_FILE
    if not path.exists():
        home.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first
            pass
        else:
            with os.fdopen(fd, "w") as out:
                out.write(base64.b64encode(secrets.token_bytes(KEY_BYTES)).decode() + "\n")
    return base64.b64decode(path.read_text().strip())
