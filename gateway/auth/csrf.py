"""CSRF protection for cookie-authenticated unsafe requests.

Two checks, both required: the ``X-CSRF-Token`` header equals the token stored with the session
(a cross-site page can neither read the ``cf_csrf`` cookie nor set the header), and an ``Origin``
header, when the browser sends one, is the gateway's own origin.
"""

from __future__ import annotations

import hmac

from fastapi import HTTPException, Request

from connectflow_dagster.config import get_settings
from connectflow_dagster.store.models import AuthSession

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def allowed_origins(request: Request) -> set[str]:
    origins = {f"{request.url.scheme}://{request.url.netloc}"}
    host = request.headers.get("host")
    if host:
        origins.update({f"http://{host}", f"https://{host}"})
    public_url = get_settings().public_url
    if public_url:
        origins.add(public_url.rstrip("/"))
    return origins


def verify_origin(request: Request) -> None:
    """403 when a browser says the request comes from another site."""
    origin = request.headers.get("origin")
    if origin and origin != "null" and origin.rstrip("/") not in allowed_origins(request):
        raise HTTPException(403, f"cross-site request from {origin} refused")
    if origin == "null":
        raise HTTPException(403, "cross-site request from an opaque origin refused")


def verify_csrf(request: Request, auth_session: AuthSession) -> None:
    """403 unless an unsafe request carries this session's CSRF token (and a same-site Origin)."""
    if request.method in SAFE_METHODS:
        return
    verify_origin(request)
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent or not hmac.compare_digest(sent.encode(), auth_session.csrf_token.encode()):
        raise HTTPException(
            403, f"missing or wrong {CSRF_HEADER} header (send the value of the cf_csrf cookie)"
        )
