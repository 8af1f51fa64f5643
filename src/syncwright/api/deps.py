"""Who is asking, and in which workspace: bearer tokens and roles, as route dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Callable

from fastapi import Depends, Path, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from syncwright.api.strict import check_query
from syncwright.bootstrap.app import App, WorkspaceServices
from syncwright.domain.access import Principal, Role, User
from syncwright.domain.errors import Unauthenticated

bearer = HTTPBearer(
    auto_error=False,
    description="An API token (`syncwright tokens create EMAIL --name NAME`).",
)


def the_app(request: Request) -> App:
    app: App = request.app.state.sw
    return app


def current_user(
    request: Request,
    sw: Annotated[App, Depends(the_app)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> User:
    if credentials is None:
        raise Unauthenticated("send an API token: Authorization: Bearer swt_...")
    address = request.client.host if request.client else None
    user = sw.accounts.authenticate(credentials.credentials, address=address)
    check_query(request)  # once the caller is known (see strict)
    return user


@dataclass(frozen=True)
class Acting:
    """A request's caller in the workspace of its path, and that workspace's services."""

    principal: Principal
    ws: WorkspaceServices

    @property
    def user_id(self) -> str:
        return self.principal.user.id


def created(acting: Acting, response: Response, plural: str, object_id: str) -> None:
    """A 201 answer pointing at the new object of the workspace."""
    response.status_code = 201
    response.headers["Location"] = (
        f"/api/v1/workspaces/{acting.ws.workspace_id}/{plural}/{object_id}"
    )


WorkspaceId = Annotated[str, Path(description="The workspace's id.")]


def acting(needed: Role) -> Callable[..., Acting]:
    """A dependency: the caller must be a member of the path's workspace with ``needed``."""

    def dependency(
        workspace_id: WorkspaceId,
        sw: Annotated[App, Depends(the_app)],
        user: Annotated[User, Depends(current_user)],
    ) -> Acting:
        principal = sw.accounts.principal(user, workspace_id, needed)
        return Acting(principal=principal, ws=sw.in_workspace(workspace_id))

    return dependency


Viewer = Annotated[Acting, Depends(acting(Role.VIEWER))]
Operator = Annotated[Acting, Depends(acting(Role.OPERATOR))]
Admin = Annotated[Acting, Depends(acting(Role.ADMIN))]
