"""``connectflow login``, ``logout``, ``whoami`` and ``create-user``: whom the CLI and notebooks act as.

``login`` signs in to a gateway with e-mail and password (or takes an existing ``--token``), creates a
personal access token and keeps it in ``$XDG_CONFIG_HOME/connectflow/login.json`` (mode 0600), which
``connectflow run``/``executions`` and ``import connectflow_dagster`` then use. ``CONNECTFLOW_TOKEN`` and
``CONNECTFLOW_URL`` override the file. ``logout`` revokes the token and deletes the file.
"""

from __future__ import annotations

import socket
import sys

import click

from connectflow_dagster.errors import ConnectFlowError


def _fail(message: str) -> None:
    click.secho(f"error: {message}", fg="red", err=True)
    sys.exit(1)


def _secret(prompt: str) -> str:
    """A hidden prompt on a terminal; one line of standard input otherwise (``echo … | connectflow …``)."""
    if sys.stdin.isatty():
        return str(click.prompt(prompt, hide_input=True))
    line = sys.stdin.readline()
    if not line:
        _fail(f"{prompt.lower()}: nothing on standard input")
    return line.rstrip("\r\n")


def _default_url() -> str:
    from connectflow_dagster.identity import default_url as default

    return default(None)


@click.command()
@click.option(
    "--url", help="The gateway (default: CONNECTFLOW_URL, else this machine's http://127.0.0.1:8000)."
)
@click.option(
    "--token", help="Use this existing personal access token (cf_pat_…) instead of e-mail + password."
)
@click.option("--email", help="Your account's e-mail (asked when not given).")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 366),
    default=90,
    show_default=True,
    help="Lifetime of the token login creates.",
)
def login(url: str | None, token: str | None, email: str | None, expires_in_days: int) -> None:
    """Log in to a ConnectFlow gateway: the CLI and notebooks then act as you, through its API."""
    from connectflow_dagster.identity import save_login
    from connectflow_dagster.remote import GatewayClient, create_token_with_password

    base = (url or _default_url()).rstrip("/")
    token_used = ""
    try:
        if token is None:
            if email is None:
                email = str(click.prompt("E-mail")) if sys.stdin.isatty() else sys.stdin.readline().strip()
            password = _secret("Password")
            name = f"connectflow login on {socket.gethostname()}"
            created = create_token_with_password(
                base, email, password, name=name, expires_in_days=expires_in_days
            )
            token = str(created["token"])
        token_used = token
        with GatewayClient(base, token_used) as client:
            me = client.me()
            current = client.current_token()
    except ConnectFlowError as exc:
        _fail(str(exc))
    path = save_login(
        base,
        token_used,
        email=me["email"],
        token_id=current["id"],
        prefix=current["prefix"],
        expires_at=str(current["expires_at"]),
    )
    click.echo(
        f"Logged in to {base} as {me['email']} (token {current['prefix']}…, scopes "
        f"{', '.join(current['scopes'])}, expires {str(current['expires_at'])[:10]})."
    )
    click.echo(f"Saved to {path}; `connectflow logout` revokes it.")


@click.command()
@click.option("--keep-token", is_flag=True, help="Only forget the login here; do not revoke the token.")
def logout(keep_token: bool) -> None:
    """Revoke the saved token and delete the login file."""
    from connectflow_dagster.identity import IdentityError, forget_login, login_file, read_login
    from connectflow_dagster.remote import GatewayClient, RemoteError

    try:
        saved = read_login()
    except IdentityError:
        saved = None  # unreadable: it is deleted below all the same
    if saved is None and not login_file().exists():
        click.echo("Not logged in.")
        return
    if saved is not None and not keep_token:
        try:
            with GatewayClient(saved["url"], saved["token"]) as client:
                client.revoke_current_token()
            click.echo(f"Revoked token {saved.get('prefix', 'cf_pat_')}… at {saved['url']}.")
        except RemoteError as exc:
            click.secho(
                f"warning: could not revoke the token ({exc}); revoke it on the editor's Tokens page",
                fg="yellow",
                err=True,
            )
    forget_login()
    click.echo(f"Logged out (removed {login_file()}).")


@click.command()
def whoami() -> None:
    """Whom `connectflow run`, `executions` and notebooks act as."""
    from connectflow_dagster.authoring import whoami as who

    try:
        click.echo(who())
    except ConnectFlowError as exc:
        _fail(str(exc))


@click.command("create-user")
@click.argument("email")
@click.option("--name", default="", help="Display name (default: the part of the e-mail before @).")
def create_user(email: str, name: str) -> None:
    """Create an account in this home's database (password asked, or one line of standard input).

    For a machine without the editor running: the account signs in to the editor later, and
    `connectflow run` / notebooks act as it (CONNECTFLOW_USER=EMAIL when there are several)."""
    from connectflow_dagster.store.db import session_scope
    from connectflow_dagster.store.passwords import password_problem
    from connectflow_dagster.store.users import create_user as create

    password = _secret("Password")
    problem = password_problem(password, email)
    if problem:
        _fail(problem)
    try:
        with session_scope() as session:
            user = create(session, email, password, name)
            created = user.email
    except ConnectFlowError as exc:
        _fail(str(exc))
    click.echo(f"Created account {created}.")


COMMANDS = [login, logout, whoami, create_user]
