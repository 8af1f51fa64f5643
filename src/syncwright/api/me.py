"""``/api/v1/me``: the caller, their workspaces and their API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from syncwright.api.deps import current_user, the_app
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import (
    Cursor,
    Limit,
    MeOut,
    Page,
    TokenCreated,
    TokenIn,
    TokenOut,
    UserOut,
    WorkspaceOut,
    page_by_name,
)
from syncwright.bootstrap.app import App
from syncwright.domain.access import User

router = APIRouter(prefix="/api/v1/me", tags=["me"], responses=RESPONSES)
Caller = Annotated[User, Depends(current_user)]
Sw = Annotated[App, Depends(the_app)]


def workspaces_of(sw: App, user: User) -> list[WorkspaceOut]:
    return [WorkspaceOut(**w) for w in sw.accounts.workspaces(user)]


@router.get("", response_model=MeOut)
def me(user: Caller, sw: Sw) -> MeOut:
    """The user the token belongs to, and every workspace they are a member of."""
    return MeOut(user=UserOut.of(user), workspaces=workspaces_of(sw, user))


@router.get("/tokens", response_model=Page[TokenOut])
def my_tokens(user: Caller, sw: Sw, limit: Limit = 100, cursor: Cursor = None) -> Page[TokenOut]:
    """The caller's API tokens (never their secrets), oldest first."""
    found = sw.accounts.tokens(user.email)
    page, more = page_by_name(found, lambda t: (t.created_at.isoformat(), t.id), limit, cursor)
    return Page(items=[TokenOut.of(t) for t in page], next_cursor=more)


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, user: Caller, sw: Sw) -> TokenCreated:
    """A new token for the caller. The answer holds its secret, shown this once."""
    token, secret = sw.accounts.create_token(user.email, body.name)
    return TokenCreated(**TokenOut.of(token).model_dump(), secret=secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: str, user: Caller, sw: Sw) -> TokenOut:
    """Revoke one of the caller's tokens; requests with it are refused from now on."""
    return TokenOut.of(sw.accounts.revoke_token(token_id, user_id=user.id))
