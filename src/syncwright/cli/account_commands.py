"""``syncwright users`` and ``syncwright tokens``: bootstrapping who may use the API."""

from __future__ import annotations

import sys

import typer
from rich.table import Table

from syncwright.cli.common import console, open_app
from syncwright.domain.access import Role

users_app = typer.Typer(help="People, and their role in a workspace.", no_args_is_help=True)
tokens_app = typer.Typer(help="API tokens (bearer) of a user.", no_args_is_help=True)


def _when(value: object) -> str:
    return value.astimezone().strftime("%Y-%m-%d %H:%M") if value else ""  # type: ignore[attr-defined]


@users_app.command("create")
def users_create(
    email: str = typer.Argument(..., help="The user's e-mail, their login."),
    name: str | None = typer.Option(None, "--name", help="The name shown in the UI."),
    role: Role = typer.Option(Role.VIEWER, "--role", help="Their role in the workspace."),
    workspace: str | None = typer.Option(
        None, "--workspace", help="The workspace (default: SYNCWRIGHT_WORKSPACE)."
    ),
    password_stdin: bool = typer.Option(
        False, "--password-stdin", help="Read a password for the web UI from standard input."
    ),
) -> None:
    """Create a user and give them a role in a workspace (created if new)."""
    password = sys.stdin.readline().rstrip("\n") if password_stdin else None
    with open_app() as sw:
        user = sw.accounts.create_user(email, name=name, password=password)
        where = workspace or sw.settings.workspace
        sw.accounts.grant(user.email, where, role)
    console.print(f"user {user.email} created, {role.value} in {where}", highlight=False)


@users_app.command("grant")
def users_grant(
    email: str = typer.Argument(..., help="The user's e-mail."),
    role: Role = typer.Option(..., "--role", help="Their role in the workspace."),
    workspace: str | None = typer.Option(
        None, "--workspace", help="The workspace (default: SYNCWRIGHT_WORKSPACE)."
    ),
) -> None:
    """Give an existing user a role in a workspace, or change it."""
    with open_app() as sw:
        where = workspace or sw.settings.workspace
        sw.accounts.grant(email, where, role)
    console.print(f"{email} is {role.value} in {where}", highlight=False)


@users_app.command("list")
def users_list(
    workspace: str | None = typer.Option(
        None, "--workspace", help="The workspace (default: SYNCWRIGHT_WORKSPACE)."
    ),
) -> None:
    """The members of a workspace and their roles."""
    with open_app() as sw:
        where = workspace or sw.settings.workspace
        members = sw.accounts.members(sw.accounts.workspace_id(where))
    table = Table(title=f"Members of {where}")
    for col in ("e-mail", "name", "role", "created"):
        table.add_column(col)
    for user, role in members:
        table.add_row(user.email, user.name or "", role.value, _when(user.created_at))
    console.print(table)


@users_app.command("unlock")
def users_unlock(
    email: str | None = typer.Argument(None, help="The user whose sign-ins to unlock."),
    address: str | None = typer.Option(
        None, "--address", help="Also lift the throttles of this client address."
    ),
) -> None:
    """Lift the sign-in throttle of a user (and of a client address): their failed attempts
    are forgotten, and they may sign in again at once."""
    if email is None and address is None:
        raise typer.BadParameter("name a user's e-mail, an --address, or both")
    with open_app() as sw:
        if email is not None:
            was = sw.accounts.unlock(email)
            console.print(
                f"{email} unlocked" if was else f"{email} was not locked (failures forgotten)",
                highlight=False,
            )
        if address is not None:
            was = sw.accounts.unlock_address(address)
            console.print(
                f"address {address} unlocked"
                if was
                else f"address {address} was not locked (failures forgotten)",
                highlight=False,
            )


@tokens_app.command("create")
def tokens_create(
    email: str = typer.Argument(..., help="The user the token acts as."),
    name: str = typer.Option(..., "--name", help="What the token is for."),
) -> None:
    """Create an API token. Its secret is printed once: store it now."""
    with open_app() as sw:
        token, secret = sw.accounts.create_token(email, name)
    console.print(f"token {token.id} ({token.name}) for {email}:", highlight=False)
    print(secret)


@tokens_app.command("list")
def tokens_list(email: str = typer.Argument(..., help="The user.")) -> None:
    """A user's tokens: name, start of the secret, created, last used, revoked."""
    with open_app() as sw:
        found = sw.accounts.tokens(email)
    table = Table(title=f"Tokens of {email}")
    for col in ("id", "name", "starts with", "created", "last used", "revoked"):
        table.add_column(col, no_wrap=col == "id")
    for t in found:
        table.add_row(
            t.id,
            t.name,
            t.hint + "…",
            _when(t.created_at),
            _when(t.last_used_at),
            _when(t.revoked_at),
        )
    console.print(table)


@tokens_app.command("revoke")
def tokens_revoke(token_id: str = typer.Argument(..., help="The token's id.")) -> None:
    """Revoke a token: requests with it are refused from now on."""
    with open_app() as sw:
        token = sw.accounts.revoke_token(token_id)
    console.print(f"token {token.id} ({token.name}) revoked", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(users_app, name="users")
    app.add_typer(tokens_app, name="tokens")
