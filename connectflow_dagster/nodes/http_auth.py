"""Stored credentials for the HTTP Request node: header, bearer, basic, query-parameter and OAuth2
client-credentials authentication.

``AUTH_TYPES`` maps the node's ``authentication`` param to its credential type. ``Authenticator``
applies the credential to one request and, for OAuth2, fetches the access token from the token URL
(through ``ctx.http``, so the network policy applies), caches it per credential until shortly
before it expires, and fetches a new one once when the API answers 401. Every secret — stored or
fetched — is registered with ``ctx`` so it is scrubbed from outputs, errors and logs.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

import httpx
from pydantic import Field, SecretStr, field_validator

from connectflow_dagster.errors import CredentialError, NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext
from connectflow_dagster.transport import normalize_base_url, register_url_secret, send

Authentication = Literal["none", "header", "bearer", "basic", "query", "oauth2_client_credentials"]
HEADER_NAME = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}$"  # an HTTP token (RFC 9110)
TOKEN_EXPIRY_MARGIN = 30.0  # seconds before ``expires_in`` that a cached token counts as expired
DEFAULT_TOKEN_LIFETIME = 3600.0
MAX_CACHED_TOKENS = 1024


class HeaderAuthFields(CredentialFields):
    name: str = Field(pattern=HEADER_NAME, description="Header name, e.g. X-API-Key.")
    value: SecretStr


class BearerAuthFields(CredentialFields):
    token: SecretStr


class BasicAuthFields(CredentialFields):
    username: str = Field(max_length=1024)
    password: SecretStr


class QueryAuthFields(CredentialFields):
    name: str = Field(min_length=1, max_length=256, description="Query parameter name, e.g. api_key.")
    value: SecretStr


class OAuth2ClientCredentialsFields(CredentialFields):
    token_url: str = Field(description="The authorization server's token endpoint.")
    client_id: str = Field(min_length=1, max_length=1024)
    client_secret: SecretStr
    scope: str = Field(default="", max_length=2048, description="Space-separated scopes (optional).")
    audience: str = Field(default="", max_length=2048, description="Sent as 'audience' when set.")
    client_authentication: Literal["basic", "body"] = Field(
        default="basic", description="Send the client id and secret as Basic auth or in the form body."
    )

    @field_validator("token_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        return normalize_base_url(value) or value


def _fetch_token(fields: OAuth2ClientCredentialsFields, http: httpx.Client) -> tuple[str, float]:
    """(access token, lifetime in seconds) from the token endpoint."""
    form = {"grant_type": "client_credentials"}
    if fields.scope:
        form["scope"] = fields.scope
    if fields.audience:
        form["audience"] = fields.audience
    headers = {"Accept": "application/json"}
    secret = fields.client_secret.get_secret_value()
    if fields.client_authentication == "basic":
        pair = f"{fields.client_id}:{secret}".encode()
        headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
    else:
        form.update(client_id=fields.client_id, client_secret=secret)
    response = send(http, "POST", fields.token_url, what="OAuth2 token request", data=form, headers=headers)
    if response.status_code >= 400:
        raise CredentialError(
            f"the OAuth2 token endpoint answered HTTP {response.status_code}: {response.text[:300]}"
        )
    try:
        body = response.json()
        token = body["access_token"]
    except (ValueError, KeyError, TypeError):
        raise CredentialError("the OAuth2 token endpoint's answer has no access_token") from None
    if not isinstance(token, str) or not token:
        raise CredentialError("the OAuth2 token endpoint's access_token is not a string")
    try:
        lifetime = float(body.get("expires_in", DEFAULT_TOKEN_LIFETIME))
    except (TypeError, ValueError):
        lifetime = DEFAULT_TOKEN_LIFETIME
    return token, lifetime


def _test_oauth2(fields: OAuth2ClientCredentialsFields, http: httpx.Client) -> str:
    _fetch_token(fields, http)
    return "the token endpoint issued an access token"


HEADER_AUTH = CredentialType("http_header_auth", "HTTP header auth", HeaderAuthFields)
BEARER_AUTH = CredentialType("http_bearer_auth", "HTTP bearer token", BearerAuthFields)
BASIC_AUTH = CredentialType("http_basic_auth", "HTTP basic auth", BasicAuthFields)
QUERY_AUTH = CredentialType("http_query_auth", "HTTP query-parameter auth", QueryAuthFields)
OAUTH2_CLIENT_CREDENTIALS = CredentialType(
    "oauth2_client_credentials", "OAuth2 client credentials", OAuth2ClientCredentialsFields, _test_oauth2
)
AUTH_TYPES: dict[str, CredentialType[Any]] = {
    "header": HEADER_AUTH,
    "bearer": BEARER_AUTH,
    "basic": BASIC_AUTH,
    "query": QUERY_AUTH,
    "oauth2_client_credentials": OAUTH2_CLIENT_CREDENTIALS,
}


class _TokenCache:
    """Access tokens by credential (owner, id and a digest of its fields: an edited credential gets
    a new token), until ``TOKEN_EXPIRY_MARGIN`` before they expire. Process-wide, bounded."""

    def __init__(self) -> None:
        self._tokens: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: str) -> str | None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry is None or entry[1] <= time.monotonic():
                self._tokens.pop(key, None)
                return None
            return entry[0]

    def put(self, key: str, token: str, lifetime: float) -> None:
        with self._lock:
            self._tokens[key] = (token, time.monotonic() + max(0.0, lifetime - TOKEN_EXPIRY_MARGIN))
            self._tokens.move_to_end(key)
            while len(self._tokens) > MAX_CACHED_TOKENS:
                self._tokens.popitem(last=False)

    def drop(self, key: str, token: str) -> None:
        with self._lock:
            entry = self._tokens.get(key)
            if entry is not None and entry[0] == token:
                del self._tokens[key]

    def clear(self) -> None:
        with self._lock:
            self._tokens.clear()


TOKENS = _TokenCache()


@dataclass
class Authenticator:
    """Applies the node's credential to requests (``kind`` = the node's ``authentication``)."""

    kind: Authentication
    ctx: NodeContext[Any]
    _token: str | None = None

    def load(self) -> None:
        if self.kind != "none":
            self.ctx.load_credential(AUTH_TYPES[self.kind])

    @property
    def refreshable(self) -> bool:
        return self.kind == "oauth2_client_credentials"

    def apply(self, headers: dict[str, str], query: dict[str, Any]) -> tuple[dict[str, str], dict[str, Any]]:
        """(headers, query) with the credential added."""
        auth: Any = self.ctx.auth if self.kind != "none" else None
        if self.kind == "header":
            headers = {**_without(headers, auth.name), auth.name: auth.value.get_secret_value()}
        elif self.kind == "bearer":
            headers = {
                **_without(headers, "authorization"),
                "Authorization": "Bearer " + auth.token.get_secret_value(),
            }
        elif self.kind == "basic":
            pair = f"{auth.username}:{auth.password.get_secret_value()}".encode()
            basic = base64.b64encode(pair).decode()
            self.ctx.add_secret(basic)
            headers = {**_without(headers, "authorization"), "Authorization": "Basic " + basic}
        elif self.kind == "query":
            register_url_secret(auth.value.get_secret_value())  # the URL is in httpx's request log
            query = {**query, auth.name: auth.value.get_secret_value()}
        elif self.kind == "oauth2_client_credentials":
            token = self._access_token()
            headers = {**_without(headers, "authorization"), "Authorization": "Bearer " + token}
        return headers, query

    def refresh(self) -> None:
        """Forget the cached token (the API answered 401): the next ``apply`` fetches a new one."""
        if self._token is not None:
            TOKENS.drop(self._cache_key(), self._token)
            self._token = None

    def _cache_key(self) -> str:
        auth: OAuth2ClientCredentialsFields = self.ctx.auth
        digest = hashlib.sha256(
            "\x00".join(
                [
                    auth.token_url,
                    auth.client_id,
                    auth.client_secret.get_secret_value(),
                    auth.scope,
                    auth.audience,
                    auth.client_authentication,
                ]
            ).encode()
        ).hexdigest()
        return f"{self.ctx.owner_id}:{self.ctx.credential_id}:{digest}"

    def _access_token(self) -> str:
        key = self._cache_key()
        token = TOKENS.get(key)
        if token is None:
            token, lifetime = _fetch_token(self.ctx.auth, self.ctx.http)
            TOKENS.put(key, token, lifetime)
        self._token = token
        self.ctx.add_secret(token)
        return token


def _without(headers: dict[str, str], name: str) -> dict[str, str]:
    return {k: v for k, v in headers.items() if k.lower() != name.lower()}


def check_same_origin(first: httpx.URL, then: httpx.URL) -> None:
    """Credentials go only to the origin the node was configured for."""
    if (first.scheme, first.host, first.port) != (then.scheme, then.host, then.port):
        raise NonRetriableNodeError(
            f"refusing to send the credential to {then.scheme}://{then.host}: it is for "
            f"{first.scheme}://{first.host} only (a next-page link or a redirect pointed elsewhere)"
        )
