"""Who the Python API and the CLI act as: a user of a gateway (by token) or a named local account.

Resolved in this order, on every call (so a notebook can switch with ``cf.connect``):

1. ``cf.connect(url=…, token=…)`` in this process, else ``CONNECTFLOW_TOKEN`` (with
   ``CONNECTFLOW_URL``), else the login ``connectflow login`` saved → **remote**: every call goes to
   that gateway's REST API as the token's user (``connectflow_dagster.remote``), so what a notebook
   saves is in that user's editor, and the other way round.
2. Otherwise → **local**: the app database of this ``CONNECTFLOW_HOME`` directly, as a named account:
   ``cf.connect(user=…)`` / ``CONNECTFLOW_USER`` (an e-mail), or the only account there is. With none,
   or several and no choice, ``IdentityError`` says how to choose.

The login file is ``$XDG_CONFIG_HOME/connectflow/login.json`` (``~/.config/…`` by default), mode 0600
in a 0700 directory: it holds a bearer token.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from connectflow_dagster.errors import ConnectFlowError

LOGIN_FILE_NAME = "login.json"
_UNSET = object()
_chosen: dict[str, Any] = {}


class IdentityError(ConnectFlowError):
    """It is not clear, or not possible, to act as a user; the message says how to choose one."""


@dataclass(frozen=True)
class Remote:
    """Act through a gateway's REST API with a personal access token."""

    url: str
    token: str
    source: str  # "connect()", "CONNECTFLOW_TOKEN" or the login file's path


@dataclass(frozen=True)
class LocalAccount:
    """Act on this home's app database as an existing account."""

    user_id: str
    email: str


def config_dir() -> Path:
    """``$XDG_CONFIG_HOME/connectflow`` (``~/.config/connectflow`` when unset)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base).expanduser() / "connectflow"


def login_file() -> Path:
    """Where ``connectflow login`` keeps its token."""
    return config_dir() / LOGIN_FILE_NAME


def save_login(url: str, token: str, **info: Any) -> Path:
    """Write the login file (0600, in a 0700 directory), replacing any earlier one atomically."""
    directory = config_dir()
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    os.chmod(directory, 0o700)
    path = directory / LOGIN_FILE_NAME
    tmp = directory / f".{LOGIN_FILE_NAME}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump({"url": url.rstrip("/"), "token": token, **info}, f, indent=2)
    os.replace(tmp, path)
    return path


def read_login() -> dict[str, Any] | None:
    """The saved login, or None. A file others may read is refused: it holds a token."""
    path = login_file()
    if not path.is_file():
        return None
    if path.stat().st_mode & 0o077:
        raise IdentityError(f"{path} is readable by other users; run `chmod 600 {path}` or log in again")
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise IdentityError(
            f"{path} is not a readable login ({exc}); run `connectflow login` again"
        ) from None
    if not isinstance(data, dict) or not data.get("url") or not data.get("token"):
        raise IdentityError(f"{path} is not a login; run `connectflow login` again")
    return data


def forget_login() -> dict[str, Any] | None:
    """Delete the login file; returns what it held (None when there was none)."""
    path = login_file()
    try:
        data = read_login()
    except IdentityError:
        data = None
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    return data


def connect(url: str | None = None, token: str | None = None, user: str | None = None) -> None:
    """Choose, for this process, whom the Python API acts as (overrides the environment and the
    login file): a gateway ``url`` + ``token``, or a local account's e-mail ``user``. No argument:
    back to the environment / login file."""
    _chosen.clear()
    if token is not None or url is not None:
        if not token:
            raise IdentityError("connect(url=…) also needs token=… (a personal access token, cf_pat_…)")
        _chosen["remote"] = Remote(default_url(url), token, "connect()")
    elif user is not None:
        _chosen["user"] = user


def default_url(url: str | None) -> str:
    """``url``, else ``CONNECTFLOW_URL``, else this machine's gateway (public URL or host:port)."""
    from connectflow_dagster.config import get_settings

    if url:
        return url.rstrip("/")
    settings = get_settings()
    env_url = os.environ.get("CONNECTFLOW_URL")
    if env_url:
        return env_url.rstrip("/")
    return (settings.public_url or f"http://{settings.host}:{settings.port}").rstrip("/")


def remote_identity() -> Remote | None:
    """The gateway and token to act through, or None to act locally (see the module docstring)."""
    if "remote" in _chosen:
        return _chosen["remote"]
    if "user" in _chosen:
        return None
    token = os.environ.get("CONNECTFLOW_TOKEN")
    if token:
        return Remote(default_url(None), token.strip(), "CONNECTFLOW_TOKEN")
    saved = read_login()
    if saved is not None:
        return Remote(
            str(os.environ.get("CONNECTFLOW_URL") or saved["url"]).rstrip("/"),
            saved["token"],
            str(login_file()),
        )
    return None


def local_account(session: Any) -> LocalAccount:
    """The account local calls act as (see the module docstring); raises ``IdentityError``."""
    from sqlalchemy import select

    from connectflow_dagster.store.models import User
    from connectflow_dagster.store.users import get_user_by_email
    from connectflow_dagster.store.workflows import LOCAL_USER_EMAIL

    wanted = _chosen.get("user") or os.environ.get("CONNECTFLOW_USER")
    if wanted:
        user = get_user_by_email(session, wanted)
        if user is None:
            raise IdentityError(
                f"no account with the e-mail {wanted!r} here: sign up in the editor, or "
                f"`connectflow create-user {wanted}`"
            )
        return LocalAccount(user.id, user.email)
    accounts = list(
        session.scalars(select(User).where(User.email != LOCAL_USER_EMAIL).order_by(User.email).limit(6))
    )
    if len(accounts) == 1:
        return LocalAccount(accounts[0].id, accounts[0].email)
    how = (
        "log in to a gateway (`connectflow login`, or CONNECTFLOW_TOKEN + CONNECTFLOW_URL) or choose a "
        "local account with CONNECTFLOW_USER=<e-mail> (in Python: cf.connect(user=…))"
    )
    if not accounts:
        raise IdentityError(
            "there is no account to act as yet: sign up in the editor (`connectflow up`, then /ui/sign-up) "
            f"or run `connectflow create-user <e-mail>`; or {how}"
        )
    listed = ", ".join(a.email for a in accounts[:5]) + (", …" if len(accounts) > 5 else "")
    raise IdentityError(f"there are several accounts ({listed}): {how}")
