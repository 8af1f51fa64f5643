"""Users, their roles per workspace, and their API tokens."""

from __future__ import annotations

import uuid
from typing import Any, Iterable

import sqlalchemy as sa

from syncwright.domain.access import ApiToken, Role, User, token_hash
from syncwright.domain.clock import as_utc, utcnow
from syncwright.domain.errors import ConfigError, NotFound
from syncwright.storage.tables import api_tokens, memberships, users, workspaces

#: How long a token's last-used time may lag: one write per token per minute at most.
_TOUCH_EVERY_SECONDS = 60


class AccountRepository:
    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    # -- users --------------------------------------------------------------------------
    def create_user(self, email: str, *, name: str | None, password_hash: str | None) -> User:
        new_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            taken = conn.execute(sa.select(users.c.id).where(users.c.email == email)).first()
            if taken is not None:
                raise ConfigError(f"a user with e-mail {email!r} exists already", field="email")
            conn.execute(
                users.insert().values(
                    id=new_id,
                    email=email,
                    name=name,
                    password_hash=password_hash,
                    created_at=utcnow(),
                )
            )
        return self.user(new_id)

    def user(self, user_id: str) -> User:
        return self._user(users.c.id == user_id, f"no user with id {user_id}")

    def emails(self, user_ids: Iterable[str]) -> dict[str, str]:
        """The e-mails of these users by id (those that exist)."""
        with self.engine.connect() as conn:
            return {
                r.id: r.email
                for r in conn.execute(
                    sa.select(users.c.id, users.c.email).where(users.c.id.in_(list(user_ids)))
                )
            }

    def user_by_email(self, email: str) -> User:
        return self._user(users.c.email == email, f"no user with e-mail {email!r}")

    def _user(self, condition: sa.ColumnElement[bool], missing: str) -> User:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(users).where(condition)).mappings().first()
        if row is None:
            raise NotFound(missing)
        return User.from_row(row)

    def password_hash(self, user_id: str) -> str | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(users.c.password_hash).where(users.c.id == user_id)
            ).scalar_one_or_none()
        return found

    def set_password_hash(self, user_id: str, password_hash: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                users.update().where(users.c.id == user_id).values(password_hash=password_hash)
            )

    def members(self, workspace_id: str) -> list[tuple[User, Role]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(users, memberships.c.role)
                .join(memberships, memberships.c.user_id == users.c.id)
                .where(memberships.c.workspace_id == workspace_id)
                .order_by(users.c.email)
            ).mappings()
            return [(User.from_row(r), Role(r["role"])) for r in rows]

    # -- memberships ----------------------------------------------------------------------
    def set_role(self, workspace_id: str, user_id: str, role: Role) -> None:
        """Make the user a member of the workspace with this role (or change their role)."""
        with self.engine.begin() as conn:
            updated = conn.execute(
                memberships.update()
                .where(memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id)
                .values(role=role.value)
            ).rowcount
            if not updated:
                conn.execute(
                    memberships.insert().values(
                        workspace_id=workspace_id,
                        user_id=user_id,
                        role=role.value,
                        created_at=utcnow(),
                    )
                )

    def remove_member(self, workspace_id: str, user_id: str) -> bool:
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    memberships.delete().where(
                        memberships.c.workspace_id == workspace_id,
                        memberships.c.user_id == user_id,
                    )
                ).rowcount
            )

    def role(self, workspace_id: str, user_id: str) -> Role | None:
        with self.engine.connect() as conn:
            found = conn.execute(
                sa.select(memberships.c.role).where(
                    memberships.c.workspace_id == workspace_id, memberships.c.user_id == user_id
                )
            ).scalar_one_or_none()
        return Role(found) if found else None

    def workspaces_of(self, user_id: str) -> list[dict[str, Any]]:
        """The workspaces the user is a member of, by name, with the user's role there."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(workspaces, memberships.c.role)
                .join(memberships, memberships.c.workspace_id == workspaces.c.id)
                .where(memberships.c.user_id == user_id)
                .order_by(workspaces.c.name)
            ).mappings()
            return [{**r, "created_at": as_utc(r["created_at"])} for r in rows]

    # -- tokens ---------------------------------------------------------------------------
    def add_token(self, user_id: str, name: str, secret: str) -> ApiToken:
        new_id = str(uuid.uuid4())
        with self.engine.begin() as conn:
            conn.execute(
                api_tokens.insert().values(
                    id=new_id,
                    user_id=user_id,
                    name=name,
                    hint=secret[:10],
                    token_hash=token_hash(secret),
                    created_at=utcnow(),
                )
            )
        return self.token(new_id)

    def token(self, token_id: str) -> ApiToken:
        with self.engine.connect() as conn:
            row = (
                conn.execute(sa.select(api_tokens).where(api_tokens.c.id == token_id))
                .mappings()
                .first()
            )
        if row is None:
            raise NotFound(f"no token with id {token_id}")
        return ApiToken.from_row(row)

    def tokens(self, user_id: str) -> list[ApiToken]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(api_tokens)
                .where(api_tokens.c.user_id == user_id)
                .order_by(api_tokens.c.created_at, api_tokens.c.id)
            ).mappings()
            return [ApiToken.from_row(r) for r in rows]

    def revoke(self, token_id: str) -> bool:
        """Stop a token from working; False when it was revoked already."""
        with self.engine.begin() as conn:
            return bool(
                conn.execute(
                    api_tokens.update()
                    .where(api_tokens.c.id == token_id, api_tokens.c.revoked_at.is_(None))
                    .values(revoked_at=utcnow())
                ).rowcount
            )

    def authenticate(self, secret: str) -> User | None:
        """The user of a live token (noting when it was used), or None."""
        now = utcnow()
        with self.engine.connect() as conn:
            row = (
                conn.execute(
                    sa.select(
                        api_tokens.c.id, api_tokens.c.user_id, api_tokens.c.last_used_at
                    ).where(
                        api_tokens.c.token_hash == token_hash(secret),
                        api_tokens.c.revoked_at.is_(None),
                    )
                )
                .mappings()
                .first()
            )
        if row is None:
            return None
        last = as_utc(row["last_used_at"])
        if last is None or (now - last).total_seconds() >= _TOUCH_EVERY_SECONDS:
            with self.engine.begin() as conn:
                conn.execute(
                    api_tokens.update().where(api_tokens.c.id == row["id"]).values(last_used_at=now)
                )
        return self.user(row["user_id"])
