"""``/api/v1/workspaces``: the caller's workspaces and their members."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, Field

from syncwright.api.deps import Admin, Viewer, current_user, the_app
from syncwright.api.me import workspaces_of
from syncwright.api.problems import RESPONSES
from syncwright.api.schemas import Cursor, Limit, Page, UserOut, WorkspaceOut, page_by_name
from syncwright.bootstrap.app import App
from syncwright.domain.access import Role, User
from syncwright.domain.errors import NotFound

router = APIRouter(prefix="/api/v1/workspaces", tags=["workspaces"], responses=RESPONSES)


class MemberOut(BaseModel):
    """A member of a workspace and their role."""

    user: UserOut
    role: Role


class MemberIn(BaseModel):
    """A role to give a user (by e-mail) in the workspace; a new e-mail becomes a user."""

    email: str = Field(max_length=320)
    role: Role
    name: str | None = Field(None, max_length=200, description="For a new user.")


class UnlockedOut(BaseModel):
    """A member whose sign-in throttle was lifted."""

    user: UserOut
    was_locked: bool = Field(description="Whether their sign-ins were locked until now.")


@router.get("", response_model=Page[WorkspaceOut])
def list_workspaces(
    user: Annotated[User, Depends(current_user)],
    sw: Annotated[App, Depends(the_app)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[WorkspaceOut]:
    """The workspaces the caller is a member of, by name, with their role in each."""
    found = workspaces_of(sw, user)
    page, more = page_by_name(found, lambda w: (w.name, w.id), limit, cursor)
    return Page(items=page, next_cursor=more)


@router.get("/{workspace_id}", response_model=WorkspaceOut)
def get_workspace(acting: Viewer, sw: Annotated[App, Depends(the_app)]) -> WorkspaceOut:
    """One workspace (one the caller is not a member of answers 404)."""
    for found in workspaces_of(sw, acting.principal.user):
        if found.id == acting.ws.workspace_id:
            return found
    raise NotFound(f"no workspace with id {acting.ws.workspace_id}")


@router.get("/{workspace_id}/members", response_model=Page[MemberOut])
def list_members(
    acting: Viewer,
    sw: Annotated[App, Depends(the_app)],
    limit: Limit = 100,
    cursor: Cursor = None,
) -> Page[MemberOut]:
    """The workspace's members and their roles, by e-mail."""
    members = sw.accounts.members(acting.ws.workspace_id)
    page, more = page_by_name(members, lambda m: (m[0].email, m[0].id), limit, cursor)
    return Page(items=[MemberOut(user=UserOut.of(u), role=r) for u, r in page], next_cursor=more)


@router.put("/{workspace_id}/members", response_model=MemberOut)
def set_member(body: MemberIn, acting: Admin, sw: Annotated[App, Depends(the_app)]) -> MemberOut:
    """Give a user a role in the workspace, or change it; an e-mail nobody has yet becomes a
    new user, without a password (admin). The last admin stays an admin."""
    user = sw.accounts.set_member(
        acting.ws.workspace_id,
        body.email,
        body.role,
        by=acting.user_id,
        invite=True,
        name=body.name,
    )
    return MemberOut(user=UserOut.of(user), role=body.role)


@router.delete("/{workspace_id}/members/{user_id}", status_code=204)
def remove_member(user_id: str, acting: Admin, sw: Annotated[App, Depends(the_app)]) -> None:
    """Take a user out of the workspace (admin); they no longer see it."""
    sw.accounts.remove_member(acting.ws.workspace_id, user_id, by=acting.user_id)


@router.post("/{workspace_id}/members/{user_id}/unlock", response_model=UnlockedOut)
def unlock_member(user_id: str, acting: Admin, sw: Annotated[App, Depends(the_app)]) -> UnlockedOut:
    """Lift a member's sign-in throttle: their failed sign-ins are forgotten and they may
    sign in again at once (admin). Recorded in the audit log."""
    user, was_locked = sw.accounts.unlock_member(acting.ws.workspace_id, user_id, by=acting.user_id)
    return UnlockedOut(user=UserOut.of(user), was_locked=was_locked)
