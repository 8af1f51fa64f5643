"""Signing in and out, and the way to a workspace's pages."""

from __future__ import annotations

import hmac
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from syncwright.domain.errors import Throttled, Unauthenticated
from syncwright.services.accounts import SESSION_LIFETIME
from syncwright.web.session import (
    COOKIE,
    LOGIN_COOKIE,
    PageRoute,
    Viewer,
    login_token,
    secure_cookies,
    set_session_cookie,
    signed_in,
    templates,
)
from syncwright.web.session import (
    Form as CheckedForm,
)

router = APIRouter(route_class=PageRoute, include_in_schema=False)


def _local(target: str | None) -> str | None:
    """A path on this site to go back to after signing in (never another site)."""
    if not target:
        return None
    parts = urlsplit(target)
    path = parts.path + (f"?{parts.query}" if parts.query else "")
    if not path.startswith("/") or path.startswith("//") or path.startswith("/login"):
        return None
    return path


def _login_page(
    request: Request,
    *,
    next: str | None,
    message: str | None,
    status: int = 200,
    headers: dict[str, str] | None = None,
):
    token = login_token(request)
    response = templates.TemplateResponse(
        request,
        "login.html",
        {"viewer": None, "login_csrf": token, "next": next or "", "message": message},
        status_code=status,
        headers=headers,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=3600,
        httponly=True,
        samesite="strict",
        secure=secure_cookies(request),
    )
    return response


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str | None = None) -> Response:
    return _login_page(request, next=_local(next), message=None)


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
    csrf: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "",
) -> Response:
    expected = request.cookies.get(LOGIN_COOKIE, "")
    if not expected or not hmac.compare_digest(csrf.encode(), expected.encode()):
        return _login_page(
            request, next=_local(next), message="The form had expired; try again.", status=403
        )
    sw = request.app.state.sw
    address = request.client.host if request.client else None
    try:
        token, _ = sw.accounts.sign_in(email, password, address=address)
    except Throttled as exc:
        return _login_page(
            request,
            next=_local(next),
            message=str(exc).capitalize(),
            status=429,
            headers={"Retry-After": str(exc.retry_after)},
        )
    except Unauthenticated as exc:
        return _login_page(request, next=_local(next), message=str(exc).capitalize(), status=401)
    response = RedirectResponse(_local(next) or "/", status_code=303)
    set_session_cookie(response, request, token, int(SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_COOKIE)
    return response


@router.post("/logout", dependencies=[CheckedForm])
def logout(request: Request) -> Response:
    request.app.state.sw.accounts.sign_out(request.cookies.get(COOKIE, ""))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/")
def home(viewer: Annotated[Viewer, Depends(signed_in)]) -> Response:
    if not viewer.workspaces:
        return viewer.render("no_workspace.html")
    return RedirectResponse(f"/w/{viewer.workspaces[0]['id']}/syncs", status_code=303)


@router.get("/w/{workspace_id}")
def workspace_home(workspace_id: str) -> Response:
    return RedirectResponse(f"/w/{workspace_id}/syncs", status_code=303)
