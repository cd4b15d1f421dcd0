"""Editor (Bokeh) sessions bound to the browser session that created them (issue 11, finding 4).

Bokeh serves a page for whatever ``bokeh_session_id`` the URL names, and a websocket carrying a token
for a session id joins that live session. Before this module, a victim opening an attacker's editor
link (``…?bokeh_session_id=<the attacker's session>``) landed in the attacker's session; and the page
carried the httpOnly ``cf_session`` cookie inside its Bokeh token, readable by any script.

Now:

- every page request gets a session id made here: random, plus a keyed hash (a per-process key) of
  the random part and of the browser's ``cf_session`` cookie. An id from the URL is kept only when it
  is bound to the requesting browser's cookie; a foreign, malformed or empty one is replaced by a
  fresh id (a fresh session), never served and never a 500;
- a websocket may open a session only when the id in its token is bound to the cookie the handshake
  carries (closed with 1008 otherwise);
- ``cf_session`` stays out of the Bokeh token (and so out of the page): the gateway keeps it server
  side, handed from the page request to the session it creates through a one-time reference that
  expires after ``HANDOFF_SECONDS``, then held by the session's document until the session ends.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import string
import threading
import time
import weakref
from typing import Any

__all__ = ["HANDOFF_SECONDS", "SessionBinding"]

HANDOFF_SECONDS = 120.0
"""How long a page request's cookie waits for the Bokeh session that the page creates."""

_ALPHABET = string.ascii_letters + string.digits
_RANDOM_LENGTH = 32
_MAC_LENGTH = 43  # unpadded url-safe base64 of a SHA-256 digest
_BOUND_LENGTH = _RANDOM_LENGTH + 1 + _MAC_LENGTH


def _b64_hmac(key: bytes, message: bytes) -> str:
    digest = hmac.new(key, message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).decode().rstrip("=")


class SessionBinding:
    """Issues, checks and resolves Bokeh session ids bound to a ``cf_session`` cookie.

    An id is ``<random>-<binding mac>.<bokeh signature>``: the part before the dot is the bound id,
    the part after it is the signature Bokeh itself requires of session ids when sessions are signed
    (``bokeh.util.token.check_session_id_signature``), made with ``bokeh_secret_key``, the key the
    Bokeh application signs its sessions with.
    """

    def __init__(self, bokeh_secret_key: bytes, key: bytes | None = None) -> None:
        self.bokeh_secret_key = bokeh_secret_key
        self._key = key or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._handoff: dict[str, tuple[str, float]] = {}  # session id -> (cookie, deadline)
        self._by_document: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()

    def _mac(self, base: str, cookie: str) -> str:
        return _b64_hmac(self._key, base.encode() + b"|" + hashlib.sha256(cookie.encode()).digest())

    def new_session_id(self, cookie: str | None) -> str:
        """A fresh session id bound to ``cookie`` (None or empty for a signed-out browser)."""
        base = "".join(secrets.choice(_ALPHABET) for _ in range(_RANDOM_LENGTH))
        bound = f"{base}-{self._mac(base, cookie or '')}"
        return f"{bound}.{_b64_hmac(self.bokeh_secret_key, bound.encode())}"

    def is_bound(self, session_id: str | None, cookie: str | None) -> bool:
        """Whether ``session_id`` was issued here for ``cookie``; False for anything malformed."""
        if not session_id or len(session_id) != _BOUND_LENGTH + 1 + _MAC_LENGTH:
            return False
        bound, dot, signature = session_id.partition(".")
        base, dash, mac = bound.partition("-")
        if not dot or not dash or len(base) != _RANDOM_LENGTH or any(c not in _ALPHABET for c in base):
            return False
        bokeh_signature = _b64_hmac(self.bokeh_secret_key, bound.encode())
        return hmac.compare_digest(mac, self._mac(base, cookie or "")) and hmac.compare_digest(
            signature, bokeh_signature
        )

    def session_id_for_page(self, requested: str | None, cookie: str | None) -> str:
        """The session id a page request is served with: the requested one when it is this signed-in
        browser's own, otherwise a fresh one. A signed-out browser always gets a fresh one (its
        binding, to no cookie, would not tell two anonymous visitors apart)."""
        if cookie and self.is_bound(requested, cookie):
            return str(requested)
        return self.new_session_id(cookie)

    def hand_off(self, session_id: str, cookie: str | None) -> None:
        """Remember ``cookie`` for the session the page request is about to create."""
        now = time.monotonic()
        with self._lock:
            for stale in [sid for sid, (_, deadline) in self._handoff.items() if deadline < now]:
                del self._handoff[stale]
            if cookie:
                self._handoff[session_id] = (cookie, now + HANDOFF_SECONDS)

    def cookie_for(self, document: Any, session_id: str | None) -> str | None:
        """The ``cf_session`` cookie of the browser that created this session, or None.

        The first call in a session takes the page request's hand-off (one use, within
        ``HANDOFF_SECONDS``); the document keeps it for the session's lifetime.
        """
        with self._lock:
            if document is not None and document in self._by_document:
                return self._by_document[document]
            if not session_id:
                return None
            entry = self._handoff.pop(session_id, None)
            if entry is None or entry[1] < time.monotonic():
                return None
            if document is not None:
                self._by_document[document] = entry[0]
            return entry[0]
