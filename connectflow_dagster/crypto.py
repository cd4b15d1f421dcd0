"""Credential encryption: AES-256-GCM under a key ring whose keys carry ids.

Where the keys come from::

    CONNECTFLOW_SECRET_KEY="newest,older"   comma-separated; the first encrypts, every one decrypts
    (unset, development)                    $CONNECTFLOW_HOME/secret.key, generated with mode 0600
    (unset, CONNECTFLOW_ENV=production)     refused: ``SecretKeyMissing``

A key is any string of at least 32 characters (``generate_key()`` makes one); the AES key is derived
from it with HKDF-SHA256, so passphrases and random tokens both work. A key id is a short hash of the
derived key: stored next to each ciphertext, it picks the decrypting key without trial and error and
reveals nothing about the key.

Each ciphertext is bound (GCM associated data) to the row it belongs to (credential id, owner and
type), so copying one user's ciphertext into another user's row does not decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from connectflow_dagster.config import Settings, get_settings
from connectflow_dagster.errors import DecryptionFailed, SecretKeyMissing

__all__ = [
    "KEY_FILE_NAME",
    "DecryptionFailed",
    "KeyRing",
    "SecretKeyMissing",
    "generate_key",
    "get_keyring",
    "key_file_path",
    "key_id_of",
    "read_key_file",
    "uses_key_file",
    "write_key_file",
]

KEY_FILE_NAME = "secret.key"
MIN_KEY_LENGTH = 32
_FORMAT = "v1"
_NONCE_BYTES = 12


def generate_key() -> str:
    """A new random key (256 bits, URL-safe text)."""
    return secrets.token_urlsafe(32)


def _derive(key: str) -> bytes:
    return HKDF(
        algorithm=hashes.SHA256(), length=32, salt=b"connectflow-credentials", info=b"aes-256-gcm v1"
    ).derive(key.encode())


def key_id_of(key: str) -> str:
    """The id stored beside ciphertexts encrypted with ``key`` (16 hex characters)."""
    return hashlib.sha256(b"connectflow-key-id:" + _derive(key)).hexdigest()[:16]


@dataclass(frozen=True)
class KeyRing:
    """Keys by id; ``primary_id`` encrypts, every key decrypts."""

    keys: dict[str, AESGCM]
    primary_id: str
    _primary_material: bytes = field(default=b"", repr=False)

    @classmethod
    def from_keys(cls, keys: list[str]) -> KeyRing:
        cleaned = [k.strip() for k in keys if k.strip()]
        if not cleaned:
            raise SecretKeyMissing("no credential encryption key is configured")
        for key in cleaned:
            if len(key) < MIN_KEY_LENGTH:
                raise SecretKeyMissing(
                    f"a credential encryption key must be at least {MIN_KEY_LENGTH} characters "
                    "(generate one with: python -c 'import secrets; print(secrets.token_urlsafe(32))')"
                )
        ring = {key_id_of(k): AESGCM(_derive(k)) for k in cleaned}
        return cls(keys=ring, primary_id=key_id_of(cleaned[0]), _primary_material=_derive(cleaned[0]))

    def with_primary(self, key: str) -> KeyRing:
        """This ring plus ``key``, which becomes the encrypting key (the others keep decrypting)."""
        new = KeyRing.from_keys([key])
        return KeyRing(
            keys={**self.keys, **new.keys}, primary_id=new.primary_id, _primary_material=new._primary_material
        )

    def derive_secret(self, purpose: str) -> bytes:
        """A secret for another use (e.g. signing OAuth state), independent of the encryption key."""
        return hmac.new(self._primary_material, f"connectflow:{purpose}".encode(), hashlib.sha256).digest()

    def encrypt(self, plaintext: bytes, associated_data: bytes) -> tuple[str, str]:
        """(key id, ciphertext text) under the primary key."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self.keys[self.primary_id].encrypt(nonce, plaintext, associated_data)
        return self.primary_id, f"{_FORMAT}:{base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, key_id: str, ciphertext: str, associated_data: bytes) -> bytes:
        aead = self.keys.get(key_id)
        if aead is None:
            raise DecryptionFailed(
                f"the key '{key_id}' that encrypted this credential is not configured "
                "(was CONNECTFLOW_SECRET_KEY or secret.key changed without `connectflow rotate-keys`?)"
            )
        fmt, _, body = ciphertext.partition(":")
        if fmt != _FORMAT:
            raise DecryptionFailed(f"unknown ciphertext format '{fmt}'")
        raw = base64.b64decode(body)
        try:
            return aead.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], associated_data)
        except InvalidTag:
            raise DecryptionFailed("the credential's ciphertext failed authentication") from None


# ---- where keys come from --------------------------------------------------------------------------


def key_file_path(settings: Settings | None = None) -> Path:
    return (settings or get_settings()).home_dir / KEY_FILE_NAME


def write_key_file(path: Path, keys: list[str]) -> None:
    """Atomically write ``keys`` (first = encrypting key), readable by the owner only (0600)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, ("\n".join(keys) + "\n").encode())
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def read_key_file(path: Path) -> list[str]:
    return [line.strip() for line in path.read_text().splitlines() if line.strip()]


_lock = threading.Lock()
_cache: dict[tuple[object, ...], KeyRing] = {}


def get_keyring(settings: Settings | None = None) -> KeyRing:
    """The key ring of this process's configuration.

    The key file is re-read whenever it changes (its mtime and size are checked on each call), so a
    ``connectflow rotate-keys`` in another process is picked up by a running gateway or worker.
    """
    settings = settings or get_settings()
    if settings.secret_key is not None and settings.secret_key.get_secret_value().strip():
        value = settings.secret_key.get_secret_value()
        cache_key: tuple[object, ...] = ("env", hashlib.sha256(value.encode()).hexdigest())
        with _lock:
            if cache_key not in _cache:
                _cache[cache_key] = KeyRing.from_keys(value.split(","))
            return _cache[cache_key]
    if settings.env == "production":
        raise SecretKeyMissing(
            "CONNECTFLOW_SECRET_KEY must be set when CONNECTFLOW_ENV=production "
            "(the embedded key file is for development only)"
        )
    path = key_file_path(settings)
    with _lock:
        if not path.exists():
            write_key_file(path, [generate_key()])
        stat = path.stat()
        cache_key = ("file", str(path), stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if cache_key not in _cache:
            _cache[cache_key] = KeyRing.from_keys(read_key_file(path))
        return _cache[cache_key]


def uses_key_file(settings: Settings | None = None) -> bool:
    settings = settings or get_settings()
    return settings.secret_key is None or not settings.secret_key.get_secret_value().strip()
