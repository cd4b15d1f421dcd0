"""Key ring, ``connectflow rotate-keys`` and ``connectflow serve``."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from connectflow_dagster import crypto
from connectflow_dagster.cli import main
from connectflow_dagster.config import get_settings
from connectflow_dagster.store.credentials import create_credential, decrypt_for_owner
from connectflow_dagster.store.db import session_scope
from connectflow_dagster.store.models import Credential
from tests.gateway.conftest import test_registry

CONNECTFLOW = str(Path(sys.executable).parent / "connectflow")


def _credential(cf, secret="rotate-me-0123456789"):
    owner = cf.new_user()
    with session_scope() as session:
        row = create_credential(
            session,
            owner,
            "c",
            "ping_api",
            {"base_url": "http://x", "api_key": secret},
            registry=test_registry(),
        )
        return owner, row.id


def test_the_embedded_key_file_is_generated_owner_only(cf):
    ring = crypto.get_keyring()
    path = cf.home / "secret.key"
    assert (path.stat().st_mode & 0o777) == 0o600
    assert crypto.get_keyring().primary_id == ring.primary_id  # stable across calls


def test_production_refuses_without_a_key(cf, monkeypatch):
    monkeypatch.setenv("CONNECTFLOW_ENV", "production")
    get_settings.cache_clear()
    with pytest.raises(crypto.SecretKeyMissing, match="CONNECTFLOW_SECRET_KEY"):
        crypto.get_keyring()
    result = CliRunner().invoke(main, ["serve"])
    assert result.exit_code == 1 and "CONNECTFLOW_SECRET_KEY must be set" in result.output
    assert "Traceback" not in result.output
    monkeypatch.setenv("CONNECTFLOW_SECRET_KEY", "short")
    get_settings.cache_clear()
    with pytest.raises(crypto.SecretKeyMissing, match="at least 32"):
        crypto.get_keyring()


def test_rotation_with_the_key_file_keeps_every_credential_readable(cf):
    owner, cred_id = _credential(cf)
    old_id = crypto.get_keyring().primary_id
    result = CliRunner().invoke(main, ["rotate-keys", "--yes"])
    assert result.exit_code == 0, result.output
    assert "re-encrypted 1 credential(s)" in result.output
    new_ring = crypto.get_keyring()
    assert new_ring.primary_id != old_id and list(new_ring.keys) == [new_ring.primary_id]
    with session_scope() as session:
        assert session.get(Credential, cred_id).key_id == new_ring.primary_id
    assert decrypt_for_owner(owner, cred_id, None)["api_key"] == "rotate-me-0123456789"


def test_rotation_with_environment_keys(cf, monkeypatch):
    old, new = crypto.generate_key(), crypto.generate_key()
    monkeypatch.setenv("CONNECTFLOW_SECRET_KEY", old)
    get_settings.cache_clear()
    owner, cred_id = _credential(cf)
    # Old keys keep decrypting while both are configured, before and after the rotation.
    monkeypatch.setenv("CONNECTFLOW_SECRET_KEY", f"{new},{old}")
    get_settings.cache_clear()
    assert decrypt_for_owner(owner, cred_id, None)["api_key"] == "rotate-me-0123456789"
    result = CliRunner().invoke(main, ["rotate-keys", "--yes"])
    assert result.exit_code == 0, result.output
    assert f"under key {crypto.key_id_of(new)}" in result.output
    monkeypatch.setenv("CONNECTFLOW_SECRET_KEY", new)  # the old key is retired
    get_settings.cache_clear()
    assert decrypt_for_owner(owner, cred_id, None)["api_key"] == "rotate-me-0123456789"
    monkeypatch.setenv("CONNECTFLOW_SECRET_KEY", old)
    get_settings.cache_clear()
    with pytest.raises(Exception, match="not configured"):
        decrypt_for_owner(owner, cred_id, None)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.timeout(120)
def test_serve_starts_the_gateway_on_the_configured_port(cf):
    port = _free_port()
    env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home), "CONNECTFLOW_PORT": str(port)}
    env.pop("DAGSTER_HOME", None)
    env.pop("CONNECTFLOW_DATABASE_URL", None)
    proc = subprocess.Popen(
        [CONNECTFLOW, "serve", "--no-ui", "--no-worker"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # uvicorn announces readiness on its log
            if "Application startup complete" in line:
                break
        else:
            pytest.fail(f"serve exited with {proc.wait()}")
        health = httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=30)
        assert health.status_code == 200 and health.json()["status"] == "ok"
        browser = httpx.Client(base_url=f"http://127.0.0.1:{port}")
        account = {"email": "real@example.com", "password": "over the wire 123"}
        assert browser.post("/api/auth/sign-up/email", json=account).status_code == 202
        signed = browser.post("/api/auth/sign-in/email", json=account)
        assert signed.status_code == 200
        created = browser.post(
            "/api/workflows", json={}, headers={"X-CSRF-Token": browser.cookies["cf_csrf"]}
        )
        assert created.status_code == 201
        browser.close()
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_serve_runs_several_processes_for_the_api_only(cf):
    result = CliRunner().invoke(main, ["serve", "--workers", "2"])
    assert result.exit_code == 1 and "--no-ui" in result.output
    result = CliRunner().invoke(main, ["serve", "--workers", "0", "--no-ui"])
    assert result.exit_code == 2


@pytest.mark.timeout(300)
def test_serve_stops_the_workers_it_started_on_sigterm(cf):
    port = _free_port()
    env = {**os.environ, "CONNECTFLOW_HOME": str(cf.home), "CONNECTFLOW_PORT": str(port)}
    env.pop("DAGSTER_HOME", None)
    env.pop("CONNECTFLOW_DATABASE_URL", None)
    proc = subprocess.Popen(
        [CONNECTFLOW, "serve", "--no-ui", "--worker-processes", "1"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    supervisor = None
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            if line.startswith("started 1 worker process (pid "):
                supervisor = int(line.rsplit("pid ", 1)[1].rstrip(")\n"))
            if "Application startup complete" in line:
                break
        else:
            pytest.fail(f"serve exited with {proc.wait()}")
        assert supervisor is not None and Path(f"/proc/{supervisor}").exists()
    finally:
        proc.terminate()  # SIGTERM, as a service manager stops it
        proc.wait(timeout=120)
    # serve waited for its workers to stop before it exited: nothing is left running.
    assert not Path(f"/proc/{supervisor}").exists()
