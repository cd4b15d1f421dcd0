"""Sign-in for every surface of the gateway: API, Panel pages, notebooks.

How a request is authenticated::

    cookie  cf_session  (httpOnly, SameSite=Lax, Secure behind https)   random token; the DB keeps its SHA-256
    cookie  cf_csrf     (readable by the page)                          the session's CSRF token
    header  X-CSRF-Token                                                required on POST/PUT/PATCH/DELETE

Unsafe requests authenticated by the cookie must echo the session's CSRF token in ``X-CSRF-Token``
(double submit, checked against the value stored with the session) and, when they send an
``Origin``, come from the gateway's own origin.

Inside the same process (the Panel app mounted by ``ui.app``) resolve the signed-in user from the
cookie value with ``user_from_session_token(request.cookies[SESSION_COOKIE])``: it returns the
``User`` or None, and opens its own database session. Routes use ``gateway.deps.CurrentUser``.

Modules: ``sessions`` (cookies, session lookup), ``csrf``, ``rate_limit`` (sign-in throttling),
``oauth`` (GitHub and Google through authlib). Password hashing (argon2) lives with the users in
``connectflow_dagster.store.users``.
"""

from gateway.auth.csrf import CSRF_HEADER, verify_csrf
from gateway.auth.sessions import CSRF_COOKIE, SESSION_COOKIE, user_from_session_token

__all__ = ["CSRF_COOKIE", "CSRF_HEADER", "SESSION_COOKIE", "user_from_session_token", "verify_csrf"]
