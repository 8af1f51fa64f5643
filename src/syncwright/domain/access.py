"""Who may do what in a workspace: users, their roles, API tokens and the password KDF."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any, Mapping

from syncwright.domain.clock import as_utc

#: Every API token starts with this, so a leaked one is recognisable (secret scanners, logs).
TOKEN_PREFIX = "swt_"
_SCRYPT = {"n": 2**14, "r": 8, "p": 1}


class Role(StrEnum):
    """What a member of a workspace may do there; each role includes the ones before it."""

    VIEWER = "viewer"
    """Reads configuration, runs and the report."""
    OPERATOR = "operator"
    """Also starts, cancels and resyncs runs, and turns syncs on and off."""
    ADMIN = "admin"
    """Also configures sources, models, destinations and syncs, and manages members."""

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True, kw_only=True)
class User:
    """A person (or a program acting for one) who can hold tokens and roles."""

    id: str
    email: str
    name: str | None
    created_at: datetime
    has_password: bool = False

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> User:
        return cls(
            id=row["id"],
            email=row["email"],
            name=row["name"],
            created_at=as_utc(row["created_at"]),
            has_password=bool(row.get("password_hash")),
        )


@dataclass(frozen=True, kw_only=True)
class ApiToken:
    """A bearer token of a user. The secret is shown once; only its hash is stored."""

    id: str
    user_id: str
    name: str
    #: The first characters of the secret, enough to tell tokens apart in a list.
    hint: str
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> ApiToken:
        return cls(
            id=row["id"],
            user_id=row["user_id"],
            name=row["name"],
            hint=row["hint"],
            created_at=as_utc(row["created_at"]),
            last_used_at=as_utc(row["last_used_at"]),
            revoked_at=as_utc(row["revoked_at"]),
        )


@dataclass(frozen=True, kw_only=True)
class Principal:
    """The user behind a request, with their role in the workspace the request is about."""

    user: User
    workspace_id: str
    role: Role


def new_token_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def token_hash(secret: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 is enough to store them (no KDF needed),
    and lets a request find its token by an index lookup."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_password(password: str) -> str:
    """scrypt (memory-hard), with a random salt, in a self-describing string."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, **_SCRYPT)
    params = "{n}${r}${p}".format(**_SCRYPT)
    return f"scrypt${params}${salt.hex()}${digest.hex()}"


def check_password(password: str, stored: str | None) -> bool:
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        found = hashlib.scrypt(
            password.encode(), salt=bytes.fromhex(salt), dklen=32, n=int(n), r=int(r), p=int(p)
        )
    except ValueError:
        return False
    return hmac.compare_digest(found.hex(), digest)


@dataclass(frozen=True)
class WebSession:
    """A signed-in browser: whose it is, its CSRF token, until when it holds."""

    user_id: str
    csrf: str
    expires_at: datetime
