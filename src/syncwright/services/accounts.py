"""Users, roles and API tokens: who may act in which workspace."""

from __future__ import annotations

import logging
import re
import secrets
from datetime import datetime, timedelta
from typing import Iterable

from syncwright.domain.access import (
    ApiToken,
    Principal,
    Role,
    User,
    WebSession,
    check_password,
    hash_password,
    new_token_secret,
)
from syncwright.domain.clock import utcnow
from syncwright.domain.errors import ConfigError, Forbidden, NotFound, Throttled, Unauthenticated
from syncwright.domain.throttle import (
    Recorded,
    ThrottleDecision,
    ThrottleKey,
    ThrottleKind,
    Throttles,
    in_words,
    strictest,
)
from syncwright.storage.store import Store

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
#: How long a browser stays signed in.
SESSION_LIFETIME = timedelta(hours=12)
#: The longest key a count is kept under (the longest e-mail a user can have).
_KEY_LENGTH = 320
logger = logging.getLogger("syncwright.accounts")


class AccountService:
    def __init__(self, store: Store, throttles: Throttles | None = None) -> None:
        self.store = store
        self.throttles = throttles or Throttles()

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

    def login(self, email: str, password: str, *, address: str | None = None) -> User:
        """The user whose password this is; one message for any mismatch. Failed sign-ins are
        throttled per account and per client ``address`` (Throttled, in words): an account
        over its limit is refused before its password is checked, even the right one."""
        email = email.strip().lower()
        keys = _sign_in_keys(email, address)
        now = utcnow()
        refusal = self._refusal(keys, now)
        if refusal is not None:
            key, decision = refusal
            if not decision.locked:
                # Trying again before the wait is over is a failed sign-in too.
                key, decision = self._failed(keys, email, address, now, "too soon") or refusal
            raise _refused(key, decision, now)
        try:
            user = self.user(email)
        except NotFound:
            user = None
        stored = self.store.accounts.password_hash(user.id) if user else None
        if user is None or not check_password(password, stored):
            after = self._failed(keys, email, address, now, "wrong password")
            if after is None:
                raise Unauthenticated("wrong e-mail or password")
            if after[1].locked:
                raise _refused(*after, now)
            wait = in_words(after[1].retry_after(now))
            raise Unauthenticated(f"wrong e-mail or password; wait {wait} before trying again")
        self.store.throttle.clear([keys[0]])
        return user

    def sign_in(
        self, email: str, password: str, *, address: str | None = None
    ) -> tuple[str, WebSession]:
        """A new browser session for the user whose password this is: its cookie value (shown
        to the browser only; stored hashed) and the session, with its CSRF token."""
        user = self.login(email, password, address=address)
        token = secrets.token_urlsafe(32)
        session = WebSession(
            user_id=user.id,
            csrf=secrets.token_urlsafe(32),
            expires_at=utcnow() + SESSION_LIFETIME,
        )
        self.store.sessions.open(session.user_id, token, session.csrf, session.expires_at)
        return token, session

    def unlock(self, email: str, *, workspace_id: str | None = None, by: str | None = None) -> bool:
        """Lift an account's sign-in throttle (its failures are forgotten), recorded in the
        audit log of ``workspace_id`` (every workspace of the user when not given); whether
        the account was locked."""
        user = self.user(email)
        key = ThrottleKey(ThrottleKind.ACCOUNT, user.email)
        was_locked = self._decisions([key], utcnow())[key].locked
        self.store.throttle.clear([key])
        for where in [workspace_id] if workspace_id else self._workspace_ids(user):
            self.store.audit.record(
                where,
                "sign_in.unlocked",
                "user",
                object_id=user.id,
                object_name=user.email,
                user_id=by,
                detail={"was_locked": was_locked},
            )
        return was_locked

    def unlock_member(
        self, workspace_id: str, user_id: str, *, by: str | None = None
    ) -> tuple[User, bool]:
        """Lift the sign-in throttle of a member of the workspace (an admin's way): the member,
        and whether they were locked."""
        if self.store.accounts.role(workspace_id, user_id) is None:
            raise NotFound(f"no member with id {user_id}")
        user = self.store.accounts.user(user_id)
        return user, self.unlock(user.email, workspace_id=workspace_id, by=by)

    def unlock_address(self, address: str) -> bool:
        """Lift the throttles of a client address (sign-ins and API tokens from it); whether
        either was locked."""
        keys = [
            ThrottleKey(ThrottleKind.ADDRESS, address),
            ThrottleKey(ThrottleKind.TOKEN, address),
        ]
        was_locked = any(d.locked for d in self._decisions(keys, utcnow()).values())
        self.store.throttle.clear(keys)
        logger.info("throttles of address %s lifted by hand", address)
        return was_locked

    def _decisions(
        self, keys: list[ThrottleKey], now: datetime
    ) -> dict[ThrottleKey, ThrottleDecision]:
        found = self.store.throttle.failures(keys)
        return {k: self.throttles.policy(k.kind).decide(found.get(k), now) for k in keys}

    def _refusal(
        self, keys: list[ThrottleKey], now: datetime
    ) -> tuple[ThrottleKey, ThrottleDecision] | None:
        return strictest(self._decisions(keys, now))

    def _count(self, keys: list[ThrottleKey], now: datetime) -> dict[ThrottleKey, Recorded]:
        """One more failure under each key (a lock it starts goes to the log too)."""
        recorded = self.store.throttle.count_failure(
            {k: self.throttles.policy(k.kind) for k in keys}, now
        )
        for key, found in recorded.items():
            if found.locked:
                logger.warning(
                    "%s locked until %s after %d failures",
                    key,
                    self._after(key, found, now).until,
                    found.failures.count,
                )
        return recorded

    def _after(self, key: ThrottleKey, recorded: Recorded, now: datetime) -> ThrottleDecision:
        """What the next attempt under the key meets once this failure is counted."""
        return self.throttles.policy(key.kind).decide(recorded.failures, now)

    def _failed(
        self, keys: list[ThrottleKey], email: str, address: str | None, now: datetime, reason: str
    ) -> tuple[ThrottleKey, ThrottleDecision] | None:
        """Count a failed sign-in, note it in the audit log of each workspace of the account
        (and the lock it started); the refusal the next attempt meets, if any."""
        recorded = self._count(keys, now)
        decisions = {k: self._after(k, r, now) for k, r in recorded.items()}
        try:
            user: User | None = self.user(email)
        except NotFound:
            user = None  # nobody's workspace to note it in; the count is kept all the same
        if user is not None:
            account = recorded[keys[0]]
            seen = {"address": address} if address else {}
            notes = [("sign_in.failed", {"reason": reason, "failures": account.failures.count})]
            until = decisions[keys[0]].until
            if account.locked and until is not None:
                notes.append(("sign_in.locked", {"until": until.isoformat()}))
            for where in self._workspace_ids(user):
                for action, detail in notes:
                    self.store.audit.record(
                        where,
                        action,
                        "user",
                        object_id=user.id,
                        object_name=user.email,
                        detail={**seen, **detail},
                    )
        return strictest(decisions)

    def _workspace_ids(self, user: User) -> list[str]:
        return [str(w["id"]) for w in self.store.accounts.workspaces_of(user.id)]

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

    def emails(self, user_ids: Iterable[str | None]) -> dict[str, str]:
        """Each user's e-mail by id, in one query; a user gone is shown by their id."""
        wanted = {str(u) for u in user_ids if u}
        found = self.store.accounts.emails(wanted) if wanted else {}
        return {u: found.get(u, u) for u in wanted}

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

    def authenticate(self, secret: str, *, address: str | None = None) -> User:
        """The user of a live API token. Invalid tokens are throttled per client ``address``:
        once it is over the limit, every token from it is refused (Throttled) before it is
        looked up, a valid one too, until the wait or the lock is over."""
        key = ThrottleKey(ThrottleKind.TOKEN, address) if address else None
        now = utcnow()
        if key is not None:
            decision = self._decisions([key], now)[key]
            if not decision.allowed:
                if not decision.locked:
                    # A token sent before the wait is over is one more invalid token.
                    decision = self._after(key, self._count([key], now)[key], now)
                raise _refused(key, decision, now)
        user = self.store.accounts.authenticate(secret) if secret else None
        if user is None:
            if key is not None:
                decision = self._after(key, self._count([key], now)[key], now)
                if decision.locked:
                    raise _refused(key, decision, now)
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


def _sign_in_keys(email: str, address: str | None) -> list[ThrottleKey]:
    """The keys a sign-in's failures count under: the account first, then the address."""
    keys = [ThrottleKey(ThrottleKind.ACCOUNT, email[:_KEY_LENGTH])]
    if address:
        keys.append(ThrottleKey(ThrottleKind.ADDRESS, address[:_KEY_LENGTH]))
    return keys


def _refused(key: ThrottleKey, decision: ThrottleDecision, now: datetime) -> Throttled:
    """The refusal of an attempt, in words: what was throttled, and for how long."""
    seconds = decision.retry_after(now)
    wait = in_words(seconds)
    what = {
        ThrottleKind.ACCOUNT: "failed sign-ins for this account",
        ThrottleKind.ADDRESS: "failed sign-ins from your address",
        ThrottleKind.TOKEN: "invalid API tokens from your address",
    }[key.kind]
    if not decision.locked:
        text = f"too many {what}: wait {wait} before trying again"
    elif key.kind is ThrottleKind.ACCOUNT:
        text = f"too many {what}: try again in {wait}, or ask an admin to unlock it"
    else:
        text = f"too many {what}: try again in {wait}"
    return Throttled(text, retry_after=seconds)
