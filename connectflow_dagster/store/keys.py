"""The server key, API trigger keys and per-trigger secrets.

Nothing secret is stored in a workflow, a run or the event log:

- **API keys** (``cf_sk_<prefix>_<secret>``, 256 random bits) are shown once; the database keeps the
  public prefix and ``HMAC-SHA256(server key, key)``. A stolen database does not yield usable keys.
  Personal access tokens (``cf_pat_…``, ``store/tokens.py``) are minted and checked by the same
  ``mint_key`` / ``key_matches`` pair.
- **Trigger secrets** (Stripe signing secret, Google Form / webhook shared secret) live in
  ``cf_trigger_secrets`` keyed by (workflow, trigger node), never in node params. A Stripe signing
  secret must be read back to compute the HMAC, so it is encrypted (Fernet: AES-128-CBC +
  HMAC-SHA256); a shared secret is only compared, so only its keyed hash is kept.

The server key comes from ``CONNECTFLOW_TRIGGER_KEY`` or, by default, a random key created once in
``$CONNECTFLOW_HOME/trigger.key`` (mode 0600) and shared by the gateway and workers of that home.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.orm import Session

from connectflow_dagster.config import get_settings
from connectflow_dagster.store.models import ApiKey, TriggerSecret, utcnow

API_KEY_PREFIX = "cf_sk_"
_lock = threading.Lock()
_keys: dict[str, bytes] = {}
_current: tuple[object, bytes] | None = None  # (settings, key)


def server_key() -> bytes:
    """32 bytes every process of this installation shares (see the module docstring).

    Remembered for the current settings object: a webhook with a secret needs it on every request,
    and finding the key file resolves (and creates) the home directory.
    """
    global _current
    settings = get_settings()
    current = _current
    if current is not None and current[0] is settings:
        return current[1]
    configured = settings.trigger_key.get_secret_value() if settings.trigger_key else ""
    if configured:
        key = hashlib.sha256(configured.encode()).digest()
    else:
        path = settings.home_dir / "trigger.key"
        cache_key = str(path)
        with _lock:
            if cache_key not in _keys:
                _keys[cache_key] = _read_or_create_key(path)
            key = _keys[cache_key]
    _current = (settings, key)
    return key


def _read_or_create_key(path: Path) -> bytes:
    if not path.exists():
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_hex(32))
        try:
            os.link(tmp, path)  # atomic: the first process to create the key wins
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return bytes.fromhex(path.read_text().strip())


def _derived(purpose: str) -> bytes:
    return hmac.new(server_key(), purpose.encode(), hashlib.sha256).digest()


def keyed_hash(value: str, purpose: str) -> str:
    """HMAC-SHA256 of ``value`` under a key derived from the server key for ``purpose`` (hex)."""
    return hmac.new(_derived(purpose), value.encode(), hashlib.sha256).hexdigest()


def _fernet() -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derived("trigger-secret-encryption")))


# ---- minted keys (API keys, personal access tokens) ---------------------------------------------------

_PREFIX_HEX = 12  # the public part after the kind's prefix: 48 bits, unique per key


@dataclass(frozen=True)
class MintedKey:
    """A new random key ``<kind><12 hex>_<43 urlsafe chars>`` (256 secret bits), its public prefix
    (``<kind><12 hex>``, stored and shown to recognise it) and its keyed hash (stored instead of it)."""

    key: str
    prefix: str
    key_hash: str


def mint_key(kind: str, purpose: str) -> MintedKey:
    """A fresh key of ``kind`` (e.g. ``cf_sk_``) hashed for ``purpose``; the caller shows ``key`` once."""
    prefix = f"{kind}{secrets.token_hex(_PREFIX_HEX // 2)}"
    key = f"{prefix}_{secrets.token_urlsafe(32)}"
    return MintedKey(key, prefix, keyed_hash(key, purpose))


def public_prefix(presented: str, kind: str) -> str | None:
    """The stored prefix a presented key of ``kind`` would have, or None when it cannot be one."""
    if not presented.startswith(kind) or len(presented) > 200:
        return None
    prefix, sep, secret = presented[len(kind) :].partition("_")
    if not sep or not secret or len(prefix) != _PREFIX_HEX:
        return None
    return f"{kind}{prefix}"


def key_matches(stored_hash: str, presented: str, purpose: str) -> bool:
    """Constant-time check of a presented key against its stored keyed hash."""
    return hmac.compare_digest(stored_hash, keyed_hash(presented, purpose))


# ---- API keys ----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class NewApiKey:
    """A freshly created key: ``key`` is the only time the full secret exists outside the caller."""

    row: ApiKey
    key: str


def create_api_key(session: Session, *, owner_id: str, workflow_id: str, name: str = "") -> NewApiKey:
    """Create a key for one workflow; the returned ``key`` is shown once and never stored."""
    minted = mint_key(API_KEY_PREFIX, "api-key")
    row = ApiKey(
        owner_id=owner_id,
        workflow_id=workflow_id,
        name=name,
        prefix=minted.prefix,
        key_hash=minted.key_hash,
    )
    session.add(row)
    session.flush()
    return NewApiKey(row, minted.key)


def verify_api_key(session: Session, presented: str) -> ApiKey | None:
    """The live key row for a presented key, or None (unknown, revoked or wrong secret)."""
    prefix = public_prefix(presented, API_KEY_PREFIX)
    if prefix is None:
        return None
    row = session.scalar(select(ApiKey).where(ApiKey.prefix == prefix))
    if row is None or row.revoked_at is not None:
        return None
    if not key_matches(row.key_hash, presented, "api-key"):
        return None
    return row


def list_api_keys(session: Session, *, owner_id: str, workflow_id: str) -> list[ApiKey]:
    return list(
        session.scalars(
            select(ApiKey)
            .where(ApiKey.owner_id == owner_id, ApiKey.workflow_id == workflow_id)
            .order_by(ApiKey.created_at.desc())
        )
    )


def revoke_api_key(session: Session, *, owner_id: str, workflow_id: str, key_id: str) -> ApiKey | None:
    row = session.get(ApiKey, key_id)
    if row is None or row.owner_id != owner_id or row.workflow_id != workflow_id:
        return None
    if row.revoked_at is None:
        row.revoked_at = dt.datetime.now(dt.UTC)
        session.flush()
    return row


# ---- trigger secrets ---------------------------------------------------------------------------------


def set_signing_secret(session: Session, workflow_id: str, node_id: str, secret: str) -> None:
    """Store a secret that must be read back (a Stripe ``whsec_…`` endpoint secret), encrypted."""
    _put(session, workflow_id, node_id, "signing", _fernet().encrypt(secret.encode()).decode())


def set_shared_secret(session: Session, workflow_id: str, node_id: str, secret: str) -> None:
    """Store a secret callers present as-is (forms, webhooks): only its keyed hash is kept."""
    _put(session, workflow_id, node_id, "shared", keyed_hash(secret, f"trigger:{workflow_id}:{node_id}"))


def generate_shared_secret(session: Session, workflow_id: str, node_id: str) -> str:
    """Create, store (hashed) and return a new random shared secret; the caller shows it once."""
    secret = secrets.token_urlsafe(32)
    set_shared_secret(session, workflow_id, node_id, secret)
    return secret


def _put(session: Session, workflow_id: str, node_id: str, kind: str, value: str) -> None:
    row = session.get(TriggerSecret, (workflow_id, node_id))
    if row is None:
        session.add(TriggerSecret(workflow_id=workflow_id, node_id=node_id, kind=kind, value=value))
    else:
        row.kind, row.value, row.created_at = kind, value, utcnow()
    session.flush()


def delete_trigger_secret(session: Session, workflow_id: str, node_id: str) -> bool:
    row = session.get(TriggerSecret, (workflow_id, node_id))
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def get_trigger_secret(session: Session, workflow_id: str, node_id: str) -> TriggerSecret | None:
    return session.get(TriggerSecret, (workflow_id, node_id))


@dataclass(frozen=True)
class StoredSecret:
    """The columns of a ``cf_trigger_secrets`` row, as the ingest path reads them (Core, no ORM)."""

    workflow_id: str
    node_id: str
    kind: str
    value: str


def signing_secret(row: TriggerSecret | StoredSecret) -> str | None:
    """The decrypted signing secret of a ``signing`` row (None if it cannot be decrypted)."""
    if row.kind != "signing":
        return None
    try:
        return _fernet().decrypt(row.value.encode()).decode()
    except InvalidToken:
        return None


def shared_secret_matches(row: TriggerSecret | StoredSecret, presented: str) -> bool:
    """Constant-time check of a presented shared secret against the stored keyed hash."""
    if row.kind != "shared":
        return False
    expected = keyed_hash(presented, f"trigger:{row.workflow_id}:{row.node_id}")
    return hmac.compare_digest(row.value, expected)
