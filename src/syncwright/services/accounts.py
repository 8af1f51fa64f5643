"""Users, roles and API tokens: who may act in which workspace."""

from __future__ import annotations

import re
import secrets
from datetime import timedelta

from syncwright.domain.access import (
    ApiToken,
    Principal,
    Role,
    User,
    check_password,
    hash_password,
    new_token_secret,
)
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, Forbidden, NotFound, Unauthenticated
from syncwright.storage.sessions_repo import WebSession
from syncwright.storage.store import Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
#: How long a browser stays signed in.
SESSION_LIFETIME = timedelta(hours=12)


class AccountService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def create_user(
        self, email: str, *, name: str | None = None, password: str | None = None
    ) -> User:
        email = email.strip().lower()
        if not _EMAIL.match(email):
            raise ConfigError(f"not an e-mail address: {email!r}", field="email")
        if password is not None and len(password) < 8:
            raise ConfigError("must be at least 8 characters", field="password")
        return self.store.accounts.create_user(
            email, name=name, password_hash=hash_password(password) if password else None
        )

    def user(self, email: str) -> User:
        return self.store.accounts.user_by_email(email.strip().lower())

    def set_password(self, email: str, password: str) -> None:
        if len(password) < 8:
            raise ConfigError("must be at least 8 characters", field="password")
        self.store.accounts.set_password_hash(self.user(email).id, hash_password(password))

    def login(self, email: str, password: str) -> User:
        """The user whose password this is; one message for any mismatch."""
        try:
            user = self.user(email)
        except NotFound:
            user = None
        stored = self.store.accounts.password_hash(user.id) if user else None
        if user is None or not check_password(password, stored):
            raise Unauthenticated("wrong e-mail or password")
        return user

    def sign_in(self, email: str, password: str) -> tuple[str, WebSession]:
        """A new browser session for the user whose password this is: its cookie value (shown
        to the browser only; stored hashed) and the session, with its CSRF token."""
        user = self.login(email, password)
        token = secrets.token_urlsafe(32)
        session = WebSession(
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            expires_at=utcnow() + SESSION_LIFETIME,
        )
        self.store.sessions.open(session.user_id, token, session.csrf, session.expires_at)
        return token, session

    def session(self, token: str) -> tuple[User, WebSession]:
        """The signed-in user of a session cookie."""
        found = self.store.sessions.find(token) if token else None
        if found is None:
            raise Unauthenticated("sign in first (the session is unknown or has expired)")
        return self.store.accounts.user(found.user_id), found

    def sign_out(self, token: str) -> None:
        self.store.sessions.close(token)

    def workspace_id(self, name: str) -> str:
        found = self.store.config.workspace_id(name)
        if found is None:
            raise NotFound(f"no workspace named {name!r}")
        return found

    def grant(self, email: str, workspace: str, role: Role) -> None:
        """Give the user this role in the workspace (by name, created if new): the command
        line's way in, so a new workspace gets its first admin."""
        self.set_member(self.store.config.ensure_workspace(workspace), email, role)

    def members(self, workspace_id: str) -> list[tuple[User, Role]]:
        return self.store.accounts.members(workspace_id)

    def set_member(
        self,
        workspace_id: str,
        email: str,
        role: Role,
        *,
        by: str | None = None,
        invite: bool = False,
        name: str | None = None,
    ) -> User:
        """Give a user a role in the workspace (by id), or change it; with ``invite`` a new
        e-mail becomes a user (no password yet). The last admin stays an admin, so a
        workspace is never left without one."""
        try:
            user = self.user(email)
        except NotFound:
            if not invite:
                raise
            user = self.create_user(email, name=name)
        if role is not Role.ADMIN:
            self._keep_an_admin(workspace_id, user.id)
        self.store.accounts.set_role(workspace_id, user.id, role)
        self.store.audit.record(
            workspace_id,
            "member.set",
            "user",
            object_id=user.id,
            object_name=user.email,
            user_id=by,
            detail={"role": role.value},
        )
        return user

    def remove_member(self, workspace_id: str, user_id: str, *, by: str | None = None) -> None:
        if self.store.accounts.role(workspace_id, user_id) is None:
            raise NotFound(f"no member with id {user_id}")
        self._keep_an_admin(workspace_id, user_id)
        self.store.accounts.remove_member(workspace_id, user_id)
        self.store.audit.record(
            workspace_id,
            "member.removed",
            "user",
            object_id=user_id,
            object_name=self.store.accounts.user(user_id).email,
            user_id=by,
        )

    def _keep_an_admin(self, workspace_id: str, user_id: str) -> None:
        admins = [u.id for u, r in self.members(workspace_id) if r is Role.ADMIN]
        if admins == [user_id]:
            raise ConfigError("the workspace's last admin must stay an admin", field="role")

    def create_token(self, email: str, name: str) -> tuple[ApiToken, str]:
        """A new token for the user: the stored token, and its secret (shown this once)."""
        if not name.strip():
            raise ConfigError("a token needs a name", field="name")
        secret = new_token_secret()
        return self.store.accounts.add_token(self.user(email).id, name.strip(), secret), secret

    def tokens(self, email: str) -> list[ApiToken]:
        return self.store.accounts.tokens(self.user(email).id)

    def revoke_token(self, token_id: str, *, user_id: str | None = None) -> ApiToken:
        """Revoke a token (only one of ``user_id``'s when given: others are not found)."""
        token = self.store.accounts.token(token_id)
        if user_id is not None and token.user_id != user_id:
            raise NotFound(f"no token with id {token_id}")
        self.store.accounts.revoke(token_id)
        return self.store.accounts.token(token_id)

    def authenticate(self, secret: str) -> User:
        user = self.store.accounts.authenticate(secret) if secret else None
        if user is None:
            raise Unauthenticated("the token is not valid (unknown or revoked)")
        return user

    def principal(self, user: User, workspace_id: str, needed: Role = Role.VIEWER) -> Principal:
        """The user acting in a workspace. A workspace the user is not a member of does not
        exist for them (NotFound, as for one that does not exist); a member whose role is too
        low is Forbidden."""
        role = self.store.accounts.role(workspace_id, user.id)
        if role is None:
            raise NotFound(f"no workspace with id {workspace_id}")
        if not role.allows(needed):
            raise Forbidden(
                f"this needs the {needed.value} role; you are {role.value} in this workspace"
            )
        return Principal(user=user, workspace_id=workspace_id, role=role)

    def workspaces(self, user: User) -> list[dict[str, object]]:
        return self.store.accounts.workspaces_of(user.id)
