"""``/api/v1/me``: the caller, their workspaces and their API tokens."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from syncwright.api.deps import current_user, the_app
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import MeOut, TokenCreated, TokenIn, TokenOut, UserOut, WorkspaceOut
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


@router.get("/tokens", response_model=list[TokenOut])
def my_tokens(user: Caller, sw: Sw) -> list[TokenOut]:
    """The caller's API tokens (never their secrets), oldest first."""
    return [TokenOut.of(t) for t in sw.accounts.tokens(user.email)]


@router.post("/tokens", response_model=TokenCreated, status_code=201)
def create_token(body: TokenIn, user: Caller, sw: Sw) -> TokenCreated:
    """A new token for the caller. The answer holds its secret, shown this once."""
    token, secret = sw.accounts.create_token(user.email, body.name)
    return TokenCreated(**TokenOut.of(token).model_dump(), secret=secret)


@router.delete("/tokens/{token_id}", response_model=TokenOut)
def revoke_token(token_id: str, user: Caller, sw: Sw) -> TokenOut:
    """Revoke one of the caller's tokens; requests with it are refused from now on."""
    return TokenOut.of(sw.accounts.revoke_token(token_id, user_id=user.id))
