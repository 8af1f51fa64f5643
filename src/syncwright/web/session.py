"""Who is looking at a page: the session cookie, the workspace of the path and the viewer's
role there, CSRF tokens on forms, and errors shown as pages (never as a stack trace)."""

from __future__ import annotations

import hmac
import json
import logging
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Callable, Coroutine
from urllib.parse import quote, unquote, urlsplit

from fastapi import Depends, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, RedirectResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException

from syncwright.api.problems import field_name, status_of
from syncwright.bootstrap.app import App, WorkspaceServices
from syncwright.domain.access import Role, User, WebSession
from syncwright.domain.errors import Forbidden, SyncwrightError, Unauthenticated
from syncwright.domain.run import Run, RunFilter
from syncwright.web import format as fmt

COOKIE = "sw_session"
#: A message for the next page shown (what the last form did).
FLASH_COOKIE = "sw_flash"
#: The login form's CSRF token (a double-submit cookie: there is no session yet).
LOGIN_COOKIE = "sw_login"
#: A form the server refused: its address, the person's values and the message, for the page
#: that shows the form again (the message beside its field).
FORM_COOKIE = "sw_form"
#: Fields a service names that a form asks for under another name.
FIELD_INPUTS = {
    "failed_above": "threshold",
    "failed_share_above": "threshold",
    "max_age": "threshold",
    "max_duration": "threshold",
    "deviation": "threshold",
    "entry_id": "scope",
}
#: Form fields never written back to the browser (a refused form shows them empty).
SECRET_INPUTS = {"csrf", "secret", "password", "token"}
#: Fields that are secrets for some kinds of a form (a Slack channel's URL is its credential).
SECRET_FOR = {("type", "slack"): {"url"}}
#: How much of each value a refused form keeps (the cookie stays small).
KEPT_VALUE = 300
#: The largest refusal cookie written (browsers drop cookies over 4 KB).
KEPT_COOKIE = 3500
logger = logging.getLogger("syncwright.web")

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
fmt.install(templates.env)


class LoginNeeded(Exception):
    """No valid session: the page sends the browser to the login form."""


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https"


def set_session_cookie(response: Response, request: Request, token: str, max_age: int) -> None:
    response.set_cookie(
        COOKIE,
        token,
        max_age=max_age,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )


def login_token(request: Request) -> str:
    """The login form's CSRF token: the cookie's, or a new one the response must set."""
    return request.cookies.get(LOGIN_COOKIE) or secrets.token_urlsafe(24)


@dataclass
class Viewer:
    """A signed-in person on a page: their session, workspaces, and (on a workspace's pages)
    their role there and that workspace's services."""

    request: Request
    sw: App
    user: User
    session: WebSession
    workspaces: list[dict[str, Any]]
    workspace: dict[str, Any] | None = None
    ws: WorkspaceServices | None = None
    #: A form of this page the server refused (see ``refused``), read once.
    refusal: dict[str, Any] | None = None

    @property
    def role(self) -> Role | None:
        return Role(self.workspace["role"]) if self.workspace else None

    def can(self, needed: str) -> bool:
        return self.role is not None and self.role.allows(Role(needed))

    @property
    def services(self) -> WorkspaceServices:
        assert self.ws is not None
        return self.ws

    @property
    def base(self) -> str:
        assert self.workspace is not None
        return f"/w/{self.workspace['id']}"

    @property
    def refresh(self) -> float:
        return self.sw.settings.ui_refresh

    def latest_run(self) -> Run | None:
        """The workspace's last run that ran, by when it ran (the header's "last update"):
        never one only planned or skipped."""
        found = self.services.runs.list(RunFilter(ran=True), limit=1) if self.ws else []
        return found[0] if found else None

    def refused(self, action: str) -> dict[str, Any] | None:
        """The refusal of the form posting to ``action`` (its ``field``: the input the
        message goes beside, or None; ``message``; the person's ``values``), if that form was
        just refused."""
        found = self.refusal
        return found if found and found.get("action") == action else None

    def render(self, template: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        flash = unquote(self.request.cookies.get(FLASH_COOKIE, ""))
        self.refusal = _read_refusal(self.request)
        here = self.request.url.path + (
            f"?{self.request.url.query}" if self.request.url.query else ""
        )
        if self.refusal is not None and self.refusal.get("back") != here:
            self.refusal = None  # another page (another tab): it waits for its own
        response = templates.TemplateResponse(
            self.request,
            template,
            {"viewer": self, "csrf": self.session.csrf, "flash": flash, **values},
            status_code=status_code,
        )
        if flash:
            response.delete_cookie(FLASH_COOKIE, path="/")
        if self.refusal is not None:
            response.delete_cookie(FORM_COOKIE, path="/")
        return response


def _read_refusal(request: Request) -> dict[str, Any] | None:
    raw = request.cookies.get(FORM_COOKIE)
    if not raw:
        return None
    try:
        found = json.loads(unquote(raw))
    except ValueError:
        return None
    return found if isinstance(found, dict) else None


async def refused_form(request: Request, back: str, exc: SyncwrightError) -> Response:
    """Back to the page of a form the server refused, which shows it again with the
    person's values and the message beside the field it names."""
    form = await request.form()
    secret = set(SECRET_INPUTS)
    for (name, value), fields in SECRET_FOR.items():
        if form.get(name) == value:
            secret |= fields
    values: dict[str, Any] = {}
    for name in form:
        if name in secret:
            continue
        found = [str(v)[:KEPT_VALUE] for v in form.getlist(name)]
        values[name] = found if len(found) > 1 else found[0]
    named = getattr(exc, "field", None)
    field = FIELD_INPUTS.get(named or "", named)
    message = getattr(exc, "message", None) or str(exc)
    state = {
        "action": request.url.path,
        "back": back,
        "field": field if field in set(form.keys()) | set(FIELD_INPUTS.values()) else None,
        "message": message,
        "values": values,
    }
    kept = quote(json.dumps(state))
    if len(kept) > KEPT_COOKIE:  # too much to carry back: say it on a page of its own
        return error_page(request, status_of(exc), str(exc))
    response = RedirectResponse(back, status_code=303)
    response.set_cookie(
        FORM_COOKIE,
        kept,
        max_age=60,
        httponly=True,
        samesite="lax",
        secure=secure_cookies(request),
        path="/",
    )
    return response


def _back(request: Request) -> str | None:
    """The page a form was sent from, when it is one of this site's."""
    referer = request.headers.get("referer") or ""
    if not referer:
        return None
    parts = urlsplit(referer)
    if (parts.scheme, parts.netloc) != (request.url.scheme, request.url.netloc):
        return None
    if not parts.path.startswith("/") or parts.path.startswith(("//", "/\\")):
        return None  # a path another site's address could hide in
    return parts.path + (f"?{parts.query}" if parts.query else "")


def done(target: str, message: str) -> RedirectResponse:
    """Back to a page after a form, which then says ``message``."""
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(FLASH_COOKIE, quote(message), max_age=60, httponly=True, samesite="lax")
    return response


def signed_in(request: Request) -> Viewer:
    sw: App = request.app.state.sw
    try:
        user, session = sw.accounts.session(request.cookies.get(COOKIE, ""))
    except Unauthenticated:
        raise LoginNeeded() from None
    viewer = Viewer(
        request=request,
        sw=sw,
        user=user,
        session=session,
        workspaces=sw.accounts.workspaces(user),
    )
    request.state.viewer = viewer  # an error page shows the header and the user menu
    return viewer


def member(needed: Role) -> Callable[..., Viewer]:
    """A dependency: the viewer must be a member of the path's workspace with ``needed``; a
    workspace they are not in is not found, as one that does not exist."""

    def dependency(
        request: Request, workspace_id: str, viewer: Annotated[Viewer, Depends(signed_in)]
    ) -> Viewer:
        principal = viewer.sw.accounts.principal(viewer.user, workspace_id, Role.VIEWER)
        viewer.workspace = next(w for w in viewer.workspaces if w["id"] == workspace_id)
        viewer.ws = viewer.sw.in_workspace(workspace_id)
        request.state.viewer = viewer
        if not principal.role.allows(needed):
            raise Forbidden(
                f"this needs the {needed.value} role; you are {principal.role.value} here"
            )
        return viewer

    return dependency


async def checked_form(request: Request) -> None:
    """A dependency of every form: its ``csrf`` field must be the session's token."""
    form = await request.form()
    sent = str(form.get("csrf", ""))
    sw: App = request.app.state.sw
    try:
        _, session = sw.accounts.session(request.cookies.get(COOKIE, ""))
    except Unauthenticated:
        raise LoginNeeded() from None
    if not hmac.compare_digest(sent.encode(), session.csrf.encode()):
        raise Forbidden("this form is out of date (its security token does not match): reload")


Reader = Annotated[Viewer, Depends(member(Role.VIEWER))]
Operator = Annotated[Viewer, Depends(member(Role.OPERATOR))]
Admin = Annotated[Viewer, Depends(member(Role.ADMIN))]
Form = Depends(checked_form)


def error_page(request: Request, status: int, message: str, fields: list[str] | None = None):
    """A page saying what went wrong; with the header and the user menu when the person is
    signed in (and the workspace's pages when they are a member of the path's)."""
    # Not for a server's failure: the header reads the store, which may be what failed.
    viewer = getattr(request.state, "viewer", None) if status < 500 else None
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "viewer": viewer,
            "csrf": viewer.session.csrf if viewer else "",
            "flash": "",
            "status": status,
            "message": message,
            "fields": fields or [],
        },
        status_code=status,
    )


class PageRoute(APIRoute):
    """A page: a missing session goes to the login form, and every error is a page that
    says what went wrong (a message, never a stack trace)."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()

        async def page(request: Request) -> Response:
            try:
                return await handle(request)
            except LoginNeeded:
                target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                if request.method != "GET":
                    target = request.headers.get("referer") or "/"
                return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
            except SyncwrightError as exc:
                status = status_of(exc)
                back = _back(request) if request.method == "POST" else None
                if back is not None and status in (409, 422):
                    return await refused_form(request, back, exc)
                return error_page(request, status, str(exc))
            except RequestValidationError as exc:
                fields = [
                    f"{field_name(tuple(e.get('loc', ())))}: {e.get('msg', '')}"
                    for e in exc.errors()
                ]
                return error_page(request, 422, "Some values are not valid.", fields)
            except HTTPException as exc:
                return error_page(request, exc.status_code, str(exc.detail))
            except Exception:
                logger.exception("unexpected error on %s %s", request.method, request.url.path)
                return error_page(
                    request, 500, "Something went wrong. The server's log has the details."
                )

        return page
