"""Roles: the first account is the owner (an administrator), CONNECTFLOW_ADMIN_EMAILS names more
administrators, everyone else is a member; ``AdminUser`` answers 404 to members (issue 11)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.testclient import TestClient
from sqlalchemy import select

from connectflow_dagster.config import get_settings
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import User
from connectflow_dagster.store.users import create_user, set_role
from gateway.app import create_app
from gateway.deps import AdminUser
from tests.gateway.conftest import Gateway, test_registry


def _with_admin_probe() -> Gateway:
    """The gateway plus one route guarded by ``AdminUser`` (what /dagster/ and others build on)."""
    probe = APIRouter()

    @probe.get("/api/_test/admin-only")
    def admin_only(user: AdminUser) -> dict[str, str]:
        return {"admin": user.email}

    app = create_app(registry=test_registry())
    app.include_router(probe)
    return app


def test_first_account_is_the_owner_and_later_ones_are_members(isolated_gateway):
    owner = isolated_gateway.user(email="owner@example.com")
    member = isolated_gateway.user(email="member@example.com")
    me = owner.get("/api/auth/me").json()
    assert (me["role"], me["is_admin"]) == ("owner", True)
    me = member.get("/api/auth/me").json()
    assert (me["role"], me["is_admin"]) == ("member", False)
    session = member.get("/api/auth/session").json()
    assert session["user"]["role"] == "member"


def test_admin_emails_make_administrators_on_the_next_request(isolated_gateway, monkeypatch):
    isolated_gateway.user(email="owner@example.com")
    grace = isolated_gateway.user(email="grace@example.com")
    assert grace.get("/api/auth/me").json()["is_admin"] is False
    monkeypatch.setenv("CONNECTFLOW_ADMIN_EMAILS", " someone@example.com , Grace@Example.com")
    get_settings.cache_clear()
    me = grace.get("/api/auth/me").json()
    assert (me["role"], me["is_admin"]) == ("admin", True)
    monkeypatch.setenv("CONNECTFLOW_ADMIN_EMAILS", "")
    get_settings.cache_clear()
    assert grace.get("/api/auth/me").json()["is_admin"] is False


def test_admin_user_dependency_is_404_for_members_401_for_anonymous(cf, backend, monkeypatch):
    with TestClient(_with_admin_probe()) as client:
        gw = Gateway(client.app, cf)  # type: ignore[arg-type]
        owner = gw.user(email=f"owner-{backend}@example.com")
        member = gw.user(email=f"member-{backend}@example.com")
        # On PostgreSQL the session's database may already have an owner from another test.
        with session_scope() as session:
            user = session.scalar(select(User).where(User.email == owner.email))
            if user.role == "member":
                set_role(session, user, "admin")
        assert owner.get("/api/_test/admin-only").json() == {"admin": owner.email}
        assert member.get("/api/_test/admin-only").status_code == 404
        assert gw.anonymous().get("/api/_test/admin-only").status_code == 401


def test_a_race_between_two_first_sign_ups_leaves_one_owner(isolated_gateway, monkeypatch):
    import pytest
    from sqlalchemy.exc import IntegrityError

    from connectflow_dagster.store import users

    with session_scope() as session:
        first = create_user(session, "a@example.com", "correct horse battery staple")
        # The database itself refuses a second owner ...
        with pytest.raises(IntegrityError), session.begin_nested():
            session.add(User(email="x@example.com", name="x", role="owner"))
            session.flush()
        # ... so a sign-up that checked before the first one committed falls back to member.
        monkeypatch.setattr(users, "has_owner", lambda _session: False)
        second = create_user(session, "b@example.com", "correct horse battery staple")
        with pytest.raises(users.EmailTaken):
            create_user(session, "b@example.com", "correct horse battery staple")
        roles = dict(session.execute(select(User.email, User.role)).all())
    assert (first.role, second.role) == ("owner", "member")
    assert roles == {"a@example.com": "owner", "b@example.com": "member"}


def test_the_owner_role_cannot_be_given_or_taken(isolated_gateway):
    import pytest

    with session_scope() as session:
        owner = create_user(session, "o@example.com", None)
        member = create_user(session, "m@example.com", None)
        with pytest.raises(ValueError):
            set_role(session, member, "owner")
        with pytest.raises(ValueError):
            set_role(session, owner, "member")
        set_role(session, member, "admin")
        assert member.role == "admin"


def test_upgrading_an_existing_installation_makes_its_first_account_the_owner(tmp_path):
    """Migration 0004 on a database with accounts: the earliest signed-up account (never the CLI's
    password-less local user) becomes the owner."""
    import datetime as dt

    from alembic import command
    from sqlalchemy import create_engine, text

    from connectflow_dagster.store.db import alembic_config

    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    cfg = alembic_config(url)
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "0003")
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    with engine.begin() as connection:
        for i, email in enumerate(["local@connectflow.invalid", "first@example.com", "second@example.com"]):
            connection.execute(
                text("INSERT INTO cf_users (id, email, name, created_at) VALUES (:id, :email, '', :at)"),
                {"id": f"u{i}", "email": email, "at": base + dt.timedelta(days=i)},
            )
    with engine.begin() as connection:
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, "head")
    with engine.connect() as connection:
        roles = dict(connection.execute(text("SELECT email, role FROM cf_users")).all())
    engine.dispose()
    assert roles == {
        "local@connectflow.invalid": "member",
        "first@example.com": "owner",
        "second@example.com": "member",
    }
