"""Guessing is throttled, over real HTTP on SQLite and PostgreSQL: wrong passwords through
the login form lock the account (the right password too, until an admin unlocks it through
the API or the command line), failures from one address lock that address, invalid API
tokens from one address get 429 before any token is looked up; the audit log holds it all.

Each test sends from its own loopback address (127.0.0.0/8 is all this machine), so the
tests share the server but not their throttles."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import uuid
from dataclasses import dataclass

import httpx
import pytest

from syncwright.domain.access import Role
from syncwright.web.app import create_app
from tests.api.conftest import Workspace, _workspace
from tests.integration.conftest import app, backend, settings  # noqa: F401 (fixtures)
from tests.support.cli import CLI
from tests.support.threaded_server import serving

PASSWORD = "throttle-password"
ACCOUNT_LOCKED = (
    "Too many failed sign-ins for this account: try again in 15 minutes, "
    "or ask an admin to unlock it"
)
_hosts = itertools.count(10)


@dataclass
class Site:
    url: str
    ws: Workspace
    app: object
    env: dict[str, str]

    def client(self, token: str | None = None, *, address: str | None = None) -> httpx.Client:
        """A client sending from ``address`` (a fresh loopback address when not given)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        transport = httpx.HTTPTransport(local_address=address or fresh_address())
        return httpx.Client(base_url=self.url, headers=headers, transport=transport, timeout=30)

    def member(self) -> tuple[str, str]:
        """A new viewer of the workspace with a password: their e-mail and id."""
        email = f"member-{uuid.uuid4().hex[:8]}@example.com"
        user = self.app.accounts.create_user(email, password=PASSWORD)
        self.app.accounts.grant(email, self.ws.name, Role.VIEWER)
        return email, user.id

    def cli(self, *args: str) -> str:
        done = subprocess.run(
            [*CLI, *args], env=self.env, capture_output=True, text=True, timeout=180
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def audit(self, user_id: str) -> list[dict]:
        with self.client(self.ws.tokens[Role.ADMIN]) as admin:
            answer = admin.get(
                f"/api/v1/workspaces/{self.ws.id}/audit",
                params={"object_id": user_id, "limit": 500},
            )
        assert answer.status_code == 200, answer.text
        return answer.json()["items"]


def fresh_address() -> str:
    n = next(_hosts)
    return f"127.0.{n // 250}.{n % 250 + 2}"


def sign_in(client: httpx.Client, email: str, password: str) -> httpx.Response:
    """Through the login form, as a browser does: its token from the page, then the post."""
    page = client.get("/login")
    token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
    return client.post("/login", data={"email": email, "password": password, "csrf": token})


@pytest.fixture(scope="module")
def site(app, settings, tmp_path_factory):  # noqa: F811 (the fixtures imported above)
    ws = _workspace(app, "locks", tmp_path_factory.mktemp("locks"), {})
    env = {
        **os.environ,
        "SYNCWRIGHT_HOME": str(settings.home),
        "SYNCWRIGHT_DATABASE_URL": settings.database_url,
    }
    with serving(create_app(app)) as url:
        yield Site(url=url, ws=ws, app=app, env=env)


def test_wrong_passwords_lock_the_account_until_an_admin_unlocks_it(site):
    email, user_id = site.member()
    address = fresh_address()
    with site.client(address=address) as guesser:
        answers = [sign_in(guesser, email, f"guess-{n}") for n in range(200)]
        statuses = [a.status_code for a in answers]
        # five failures are free, the sixth starts a wait; a guess during a wait is refused
        # (429) and counted like a wrong one, so the tenth failure locks whatever the timing
        assert statuses[:6] == [401] * 6
        assert "Wrong e-mail or password; wait 1 second before trying again" in answers[5].text
        assert set(statuses[6:9]) <= {401, 429}
        assert statuses[9:] == [429] * 191
        assert ACCOUNT_LOCKED in answers[-1].text
        assert 14 * 60 < int(answers[-1].headers["retry-after"]) <= 15 * 60
        # the right password is refused while the account is locked, from anywhere
        assert ACCOUNT_LOCKED in sign_in(guesser, email, PASSWORD).text
        with site.client() as elsewhere:
            refused = sign_in(elsewhere, email, PASSWORD)
        assert refused.status_code == 429 and ACCOUNT_LOCKED in refused.text

        events = site.audit(user_id)
        failed = [e for e in events if e["action"] == "sign_in.failed"]
        assert len(failed) == 10  # none of the refusals during the lock
        assert {e["detail"]["address"] for e in failed} == {address}
        assert {e["detail"]["reason"] for e in failed} <= {"wrong password", "too soon"}
        assert sorted(e["detail"]["failures"] for e in failed) == list(range(1, 11))
        [locked] = [e for e in events if e["action"] == "sign_in.locked"]
        assert locked["object_name"] == email and locked["detail"]["until"]

        # a viewer may not unlock; an admin may, and then the right password signs in
        unlock = f"/api/v1/workspaces/{site.ws.id}/members/{user_id}/unlock"
        with site.client(site.ws.tokens[Role.VIEWER]) as viewer:
            assert viewer.post(unlock).status_code == 403
        assert sign_in(guesser, email, PASSWORD).status_code == 429
        with site.client(site.ws.tokens[Role.ADMIN]) as admin:
            answer = admin.post(unlock)
        assert answer.status_code == 200, answer.text
        assert answer.json()["was_locked"] is True and answer.json()["user"]["email"] == email
        signed = sign_in(guesser, email, PASSWORD)
        assert signed.status_code == 303 and "sw_session" in signed.cookies
    [unlocked] = [e for e in site.audit(user_id) if e["action"] == "sign_in.unlocked"]
    assert unlocked["user_id"] == site.ws.users[Role.ADMIN]
    assert unlocked["detail"] == {"was_locked": True}


def test_a_success_clears_the_account_s_count(site):
    email, _ = site.member()
    with site.client() as person:
        for _ in range(5):
            assert sign_in(person, email, "a typo").status_code == 401
        assert sign_in(person, email, PASSWORD).status_code == 303
        person.cookies.clear()
        # five more free failures: the count started again
        for _ in range(5):
            answer = sign_in(person, email, "another typo")
            assert answer.status_code == 401 and "wait" not in answer.text


def test_failures_from_one_address_lock_it_for_every_account(site):
    email, _ = site.member()
    address = fresh_address()
    with site.client(address=address) as guesser:
        statuses = [
            sign_in(guesser, f"nobody-{n}@example.com", "guess").status_code for n in range(60)
        ]
        assert statuses[:21] == [401] * 21
        assert statuses[39:] == [429] * 21
        refused = sign_in(guesser, email, PASSWORD)
        assert refused.status_code == 429
        assert "Too many failed sign-ins from your address: try again in 15 minutes" in refused.text
        # the account itself was not touched: from another address it signs in
        with site.client() as elsewhere:
            assert sign_in(elsewhere, email, PASSWORD).status_code == 303
        out = site.cli("users", "unlock", "--address", address)
        assert f"address {address} unlocked" in out
        assert sign_in(guesser, email, PASSWORD).status_code == 303


def test_the_command_line_unlocks_an_account(site):
    email, user_id = site.member()
    with site.client() as guesser:
        for n in range(10):
            sign_in(guesser, email, f"guess-{n}")
        assert ACCOUNT_LOCKED in sign_in(guesser, email, PASSWORD).text
        assert f"{email} unlocked" in site.cli("users", "unlock", email)
        assert sign_in(guesser, email, PASSWORD).status_code == 303
    [unlocked] = [e for e in site.audit(user_id) if e["action"] == "sign_in.unlocked"]
    assert unlocked["user_id"] is None  # the command line


def test_invalid_tokens_from_one_address_get_429_before_any_token_is_looked_up(site):
    address = fresh_address()
    with site.client(address=address) as guesser:
        answers = [
            guesser.get("/api/v1/me", headers={"Authorization": f"Bearer swt_guess{n}"})
            for n in range(60)
        ]
    statuses = [a.status_code for a in answers]
    assert statuses[:11] == [401] * 11
    assert statuses[29:] == [429] * 31
    last = answers[-1]
    assert last.headers["content-type"] == "application/problem+json"
    assert 14 * 60 < int(last.headers["retry-after"]) <= 15 * 60
    assert last.json() == {
        "type": "about:blank",
        "title": "Too many requests",
        "status": 429,
        "detail": "too many invalid API tokens from your address: try again in 15 minutes",
    }
    # a valid token is refused too from there, unread (its last use is not noted)
    email, _ = site.member()
    token, secret = site.app.accounts.create_token(email, "fresh")
    with site.client(secret, address=address) as valid_there:
        assert valid_there.get("/api/v1/me").status_code == 429
    assert site.app.accounts.tokens(email)[0].last_used_at is None
    with site.client(secret) as valid_elsewhere:
        assert valid_elsewhere.get("/api/v1/me").status_code == 200
    site.cli("users", "unlock", "--address", address)
    with site.client(secret, address=address) as valid_there:
        assert valid_there.get("/api/v1/me").json()["user"]["email"] == email
