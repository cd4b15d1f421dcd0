"""A small async client of the gateway API, used by every UI page.

The UI never reaches into the database: it calls the same ``/api`` routes a script would, with the
signed-in browser's session cookie, so authorisation lives in one place (the gateway). Inside the
gateway process the calls go straight to the ASGI app (``StreamingASGITransport``); a test or a
notebook can pass any other httpx transport or a base URL.

Errors::

    ApiError                 any non-2xx answer (status, message, body)
    ├── NotSignedIn          401: the session is missing or expired
    └── ValidationFailed     422 / 400 with a list of problems (node_id, field, message)
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

import httpx

__all__ = ["ApiError", "GatewayClient", "NotSignedIn", "ValidationFailed", "problems_from_body"]

CSRF_HEADER = "X-CSRF-Token"
CSRF_COOKIE = "cf_csrf"  # set by the gateway at sign-in, echoed in X-CSRF-Token on unsafe requests


class ApiError(Exception):
    """The gateway answered with an error status."""

    def __init__(self, status: int, message: str, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.body = body


class NotSignedIn(ApiError):
    """401: sign in again."""


class ValidationFailed(ApiError):
    """The workflow (or another body) was rejected; ``problems`` name node and field."""

    def __init__(self, status: int, message: str, body: Any, problems: list[dict[str, Any]]) -> None:
        super().__init__(status, message, body)
        self.problems = problems


def _message_from_body(body: Any, fallback: str) -> str:
    """The gateway's ``detail``: a sentence, or pydantic's ``[{loc, msg}]`` (shown as ``field: msg``)."""
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail:
        parts = []
        for item in detail:
            if isinstance(item, dict):
                loc = ".".join(str(p) for p in item.get("loc", []) if p not in ("body", "query", "data"))
                parts.append(f"{loc}: {item.get('msg', '')}" if loc else str(item.get("msg", "")))
        if parts:
            return "; ".join(parts)
    if isinstance(body, str) and body:
        return body[:300]
    return fallback


def problems_from_body(body: Any) -> list[dict[str, Any]]:
    """The ``problems`` of a 422 for a workflow that cannot run: ``{message, node_id, field}`` each."""
    found = body.get("problems") if isinstance(body, dict) else None
    if not isinstance(found, list):
        return []
    return [
        {"message": str(p.get("message", "")), "node_id": p.get("node_id"), "field": p.get("field")}
        for p in found
        if isinstance(p, dict)
    ]


def _items(body: Any) -> list[dict[str, Any]]:
    """The ``data`` list of the gateway's list envelope ``{data: [...], count}``."""
    return list(body.get("data") or []) if isinstance(body, dict) else []


class GatewayClient:
    """Calls the gateway API as one signed-in browser (its cookies are forwarded on each call)."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        base_url: str = "http://ui.internal",
        cookies: Mapping[str, str] | None = None,
        origin: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.cookies = dict(cookies or {})
        self.origin = origin
        self._transport = transport
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None

    # ---- plumbing -----------------------------------------------------------------------------------

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                transport=self._transport, base_url=self.base_url, timeout=self._timeout
            )
        return self._client

    def _headers(self, method: str) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if self.origin:
            headers["Origin"] = self.origin
        if method not in ("GET", "HEAD", "OPTIONS"):
            token = self.csrf_token
            if token:
                headers[CSRF_HEADER] = token
        return headers

    @property
    def csrf_token(self) -> str | None:
        """The session's CSRF token: the ``cf_csrf`` cookie the gateway set at sign-in."""
        return self.cookies.get(CSRF_COOKIE)

    def _remember_cookies(self, response: httpx.Response) -> None:
        for name, value in response.cookies.items():
            self.cookies[name] = value

    async def request(self, method: str, path: str, *, json_body: Any = None, params: Any = None) -> Any:
        """Send one request; the decoded JSON body (or None) on 2xx, else an ``ApiError``."""
        response = await self._http().request(
            method,
            path,
            json=json_body,
            params={k: v for k, v in (params or {}).items() if v not in (None, "")},
            headers=self._headers(method),
        )
        self._remember_cookies(response)
        body: Any
        try:
            body = response.json() if response.content else None
        except ValueError:
            body = response.text
        if response.status_code >= 400:
            message = _message_from_body(body, f"HTTP {response.status_code}")
            if response.status_code == 401:
                raise NotSignedIn(401, message, body)
            problems = problems_from_body(body)
            if problems or response.status_code == 422:
                raise ValidationFailed(response.status_code, message, body, problems)
            raise ApiError(response.status_code, message, body)
        return body

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # ---- auth ----------------------------------------------------------------------------------------

    async def current_user(self) -> dict[str, Any] | None:
        """The signed-in user (``GET /api/auth/me``), or None when signed out."""
        try:
            return await self.request("GET", "/api/auth/me")
        except NotSignedIn:
            return None

    async def auth_providers(self) -> list[str]:
        """Configured social sign-in providers (``github``, ``google``)."""
        try:
            body = await self.request("GET", "/api/auth/providers")
        except ApiError:
            return []
        return [str(p) for p in (body or {}).get("providers", [])]

    # ---- catalogue -----------------------------------------------------------------------------------

    async def node_types(self) -> list[dict[str, Any]]:
        return _items(await self.request("GET", "/api/node-types"))

    async def credential_types(self) -> list[dict[str, Any]]:
        """Each type: ``type``, ``display_name``, ``schema`` (JSON Schema), ``secret_fields``, ``testable``."""
        return _items(await self.request("GET", "/api/credential-types"))

    # ---- workflows -----------------------------------------------------------------------------------

    async def list_workflows(self, search: str | None = None) -> list[dict[str, Any]]:
        return _items(await self.request("GET", "/api/workflows", params={"search": search}))

    async def get_workflow(self, workflow_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/workflows/{workflow_id}")

    async def create_workflow(self, name: str, nodes: list | None = None, edges: list | None = None) -> dict:
        body = {"name": name, "nodes": nodes or [], "edges": edges or []}
        return await self.request("POST", "/api/workflows", json_body=body)

    async def import_n8n(self, document: Any, name: str | None = None) -> list[dict[str, Any]]:
        """Import an n8n export (object or array): the saved workflows, each with its report."""
        body = await self.request("POST", "/api/workflows/import", json_body=document, params={"name": name})
        return list(body.get("workflows") or [])

    async def save_workflow(self, workflow_id: str, workflow: dict[str, Any]) -> dict[str, Any]:
        """Save the whole workflow; the gateway stores it as a new immutable version."""
        return await self.request("PUT", f"/api/workflows/{workflow_id}", json_body=workflow)

    async def rename_workflow(self, workflow_id: str, name: str) -> dict[str, Any]:
        return await self.request("PATCH", f"/api/workflows/{workflow_id}", json_body={"name": name})

    async def set_workflow_active(self, workflow_id: str, active: bool) -> dict[str, Any]:
        """Activate (production triggers accept calls) or deactivate (they answer 404)."""
        action = "activate" if active else "deactivate"
        return await self.request("POST", f"/api/workflows/{workflow_id}/{action}")

    async def listen(self, workflow_id: str) -> dict[str, Any]:
        """Listen for a test event: the workflow's test URLs accept one call for a while."""
        return await self.request("POST", f"/api/workflows/{workflow_id}/listen")

    async def listen_state(self, workflow_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/workflows/{workflow_id}/listen")

    async def delete_workflow(self, workflow_id: str) -> None:
        await self.request("DELETE", f"/api/workflows/{workflow_id}")

    async def list_versions(self, workflow_id: str) -> list[dict[str, Any]]:
        return _items(await self.request("GET", f"/api/workflows/{workflow_id}/versions"))

    async def execute_workflow(self, workflow_id: str, payload: Any = None) -> dict[str, Any]:
        """Start the current version; 202 ``{execution_id, workflow_id, version, status}``."""
        body = {"input": payload} if payload is not None else {}
        return await self.request("POST", f"/api/workflows/{workflow_id}/execute", json_body=body)

    # ---- executions ----------------------------------------------------------------------------------

    async def list_executions(self, workflow_id: str | None = None, status: str | None = None) -> list[dict]:
        return _items(
            await self.request(
                "GET", "/api/executions", params={"workflow_id": workflow_id, "status": status}
            )
        )

    async def get_execution(self, execution_id: str) -> dict[str, Any]:
        return await self.request("GET", f"/api/executions/{execution_id}")

    async def execution_events(self, execution_id: str) -> AsyncIterator[dict[str, Any]]:
        """The run's live events (``GET /api/executions/{id}/events``, server-sent events).

        Each is its JSON ``data`` plus ``event``, the SSE event name: ``queued``, ``run``
        (``status: running``), ``node`` (``node_id``, ``status``, ``error``?) or ``end`` (``status``,
        ``error``?), after which the gateway closes the stream.
        """
        headers = self._headers("GET")
        headers["Accept"] = "text/event-stream"
        async with self._http().stream(
            "GET", f"/api/executions/{execution_id}/events", headers=headers, timeout=None
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                raise ApiError(response.status_code, f"HTTP {response.status_code}", response.text)
            event_name, data_lines = None, []
            async for line in response.aiter_lines():
                if line.startswith(":"):
                    continue
                if line == "":
                    if data_lines:
                        try:
                            data = json.loads("\n".join(data_lines))
                        except ValueError:
                            data = {"data": "\n".join(data_lines)}
                        if isinstance(data, dict):
                            data["event"] = event_name
                            yield data
                    event_name, data_lines = None, []
                    continue
                field, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if field == "event":
                    event_name = value
                elif field == "data":
                    data_lines.append(value)

    # ---- credentials ---------------------------------------------------------------------------------

    async def list_credentials(self, credential_type: str | None = None) -> list[dict[str, Any]]:
        return _items(await self.request("GET", "/api/credentials", params={"type": credential_type}))

    async def create_credential(self, name: str, credential_type: str, data: dict[str, Any]) -> dict:
        body = {"name": name, "type": credential_type, "data": data}
        return await self.request("POST", "/api/credentials", json_body=body)

    async def test_credential(self, credential_id: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/credentials/{credential_id}/test") or {}

    async def delete_credential(self, credential_id: str) -> None:
        await self.request("DELETE", f"/api/credentials/{credential_id}")

    # ---- API keys and triggers -----------------------------------------------------------------------

    async def list_api_keys(self, workflow_id: str) -> list[dict[str, Any]]:
        return _items(await self.request("GET", f"/api/workflows/{workflow_id}/api-keys"))

    async def create_api_key(self, workflow_id: str, name: str) -> dict[str, Any]:
        return await self.request("POST", f"/api/workflows/{workflow_id}/api-keys", json_body={"name": name})

    async def revoke_api_key(self, workflow_id: str, key_id: str) -> None:
        await self.request("DELETE", f"/api/workflows/{workflow_id}/api-keys/{key_id}")

    # ---- personal access tokens ----------------------------------------------------------------------

    async def list_tokens(self) -> list[dict[str, Any]]:
        """The signed-in user's personal access tokens (prefix, scopes, state; never the secret)."""
        return _items(await self.request("GET", "/api/tokens"))

    async def create_token(self, name: str, scopes: list[str], expires_in_days: int) -> dict[str, Any]:
        """A new token; the answer's ``token`` is the only copy of it."""
        body = {"name": name, "scopes": scopes, "expires_in_days": expires_in_days}
        return await self.request("POST", "/api/tokens", json_body=body)

    async def revoke_token(self, token_id: str) -> None:
        await self.request("DELETE", f"/api/tokens/{token_id}")

    async def trigger_info(self, workflow_id: str, node_id: str) -> dict[str, Any]:
        """A saved webhook, Stripe or Google Form trigger: ``url``, ``secret_configured``, ``apps_script``."""
        return await self.request("GET", f"/api/workflows/{workflow_id}/triggers/{node_id}")

    async def generate_trigger_secret(self, workflow_id: str, node_id: str) -> dict[str, Any]:
        """A new shared secret (webhook, Google Form); the answer is the only one that holds it."""
        return await self.request("POST", f"/api/workflows/{workflow_id}/triggers/{node_id}/secret")

    async def set_trigger_secret(self, workflow_id: str, node_id: str, secret: str) -> dict[str, Any]:
        """Set a trigger's secret (Stripe: the endpoint's ``whsec_…`` signing secret)."""
        return await self.request(
            "PUT", f"/api/workflows/{workflow_id}/triggers/{node_id}/secret", json_body={"secret": secret}
        )
