"""Real local stand-ins for the services the integration nodes call.

Each HTTP fake registers routes on the shared ``LocalHTTPServer`` (tests/conftest.py) and speaks the
service's documented request and response shapes, including its error bodies. ``fail_next`` /
``hang_next`` script the next request to the fake's main endpoint (a 429 with Retry-After, a 503, a
reply that never comes), and ``requests`` records every request that endpoint received so tests
assert what the service saw. ``SmtpServer`` is a real aiosmtpd server with implicit TLS or STARTTLS
on a trustme certificate, login checking, and scripted replies.
"""

from __future__ import annotations

import email
import secrets
import socket
import ssl
import threading
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

Reply = tuple[int, dict[str, str], Any]
HANG_LIMIT_SECONDS = 60  # a hung reply is released at teardown; this only bounds a broken test


@dataclass
class _Scripted:
    status: int = 0
    headers: dict[str, str] = field(default_factory=dict)
    body: Any = b""
    hang: bool = False


class FakeService:
    """Shared machinery: routes, scripted failures on the main endpoint, recorded requests."""

    def __init__(self, server: Any) -> None:
        self.server = server
        self.requests: list[Any] = []
        self._script: deque[_Scripted] = deque()
        self._released = threading.Event()
        self._lock = threading.Lock()

    def fail_next(self, status: int, headers: dict[str, str] | None = None, body: Any = b"") -> None:
        """The next request to the main endpoint gets this reply (as a route handler's
        ``(status, headers, body)``) instead of the normal one."""
        self._script.append(_Scripted(status, headers or {}, body))

    def hang_next(self) -> None:
        """The next request to the main endpoint gets no reply until the test ends (a client timeout)."""
        self._script.append(_Scripted(hang=True))

    def release(self) -> None:
        self._released.set()

    def _route(self, method: str, path: str, handler: Callable[[Any], Reply], *, main: bool = False) -> None:
        def serve(request: Any) -> Reply:
            if main:
                with self._lock:
                    self.requests.append(request)
                    scripted = self._script.popleft() if self._script else None
                if scripted is not None:
                    if scripted.hang:
                        self._released.wait(HANG_LIMIT_SECONDS)
                        return 504, {}, {"error": "too late"}
                    return scripted.status, scripted.headers, scripted.body
            return handler(request)

        self.server.route(method, path, serve)


def _bearer(request: Any) -> str:
    value = request.headers.get("authorization", "")
    return value[7:] if value.lower().startswith("bearer ") else ""


# ---- LLM providers ------------------------------------------------------------------------------------


class FakeLLM(FakeService):
    """OpenAI ``POST /v1/chat/completions``, Anthropic ``POST /v1/messages`` and Gemini
    ``POST /v1beta/models/{model}:generateContent``, plus the model lists the credential tests read.
    Every endpoint checks the key the way its provider does and answers its provider's error shape."""

    GEMINI_MODELS = ("gemini-2.5-flash", "gemini-2.0-flash")

    def __init__(self, server: Any, api_key: str) -> None:
        super().__init__(server)
        self.api_key = api_key
        self.reply = "A summary from the fake model."
        self._route("POST", "/v1/chat/completions", self._openai, main=True)
        self._route("POST", "/v1/messages", self._anthropic, main=True)
        for model in self.GEMINI_MODELS:
            self._route("POST", f"/v1beta/models/{model}:generateContent", self._gemini, main=True)
        self._route("GET", "/v1/models", self._models)
        self._route("GET", "/v1beta/models", self._gemini_models)

    @property
    def openai_base(self) -> str:
        return f"{self.server.url}/v1"

    @property
    def anthropic_base(self) -> str:
        return self.server.url

    @property
    def gemini_base(self) -> str:
        return f"{self.server.url}/v1beta"

    def _openai(self, request: Any) -> Reply:
        if _bearer(request) != self.api_key:
            return (
                401,
                {},
                {
                    "error": {
                        "message": "Incorrect API key provided.",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
            )
        body = request.json()
        return (
            200,
            {},
            {
                "id": f"chatcmpl-{secrets.token_hex(6)}",
                "object": "chat.completion",
                "created": 1763640000,
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": self.reply},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 42, "completion_tokens": 7, "total_tokens": 49},
            },
        )

    def _anthropic(self, request: Any) -> Reply:
        if request.headers.get("x-api-key") != self.api_key:
            return (
                401,
                {},
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
            )
        if not request.headers.get("anthropic-version"):
            return (
                400,
                {},
                {
                    "type": "error",
                    "error": {
                        "type": "invalid_request_error",
                        "message": "anthropic-version header is required",
                    },
                },
            )
        body = request.json()
        return (
            200,
            {},
            {
                "id": f"msg_{secrets.token_hex(6)}",
                "type": "message",
                "role": "assistant",
                "model": body["model"],
                "content": [{"type": "text", "text": self.reply}],
                "stop_reason": "end_turn",
                "stop_sequence": None,
                "usage": {"input_tokens": 42, "output_tokens": 7},
            },
        )

    def _gemini(self, request: Any) -> Reply:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return (
                400,
                {},
                {
                    "error": {
                        "code": 400,
                        "message": "API key not valid. Please pass a valid API key.",
                        "status": "INVALID_ARGUMENT",
                        "details": [
                            {
                                "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                                "reason": "API_KEY_INVALID",
                                "domain": "googleapis.com",
                            }
                        ],
                    }
                },
            )
        model = request.path.split("/models/", 1)[1].split(":", 1)[0]
        return (
            200,
            {},
            {
                "candidates": [
                    {
                        "content": {"role": "model", "parts": [{"text": self.reply}]},
                        "finishReason": "STOP",
                        "index": 0,
                    }
                ],
                "usageMetadata": {"promptTokenCount": 42, "candidatesTokenCount": 7, "totalTokenCount": 49},
                "modelVersion": model,
            },
        )

    def _models(self, request: Any) -> Reply:
        if request.headers.get("x-api-key") is not None:  # Anthropic's shape
            if request.headers["x-api-key"] != self.api_key:
                return (
                    401,
                    {},
                    {
                        "type": "error",
                        "error": {"type": "authentication_error", "message": "invalid x-api-key"},
                    },
                )
            return 200, {}, {"data": [{"type": "model", "id": "claude-sonnet-4-5"}], "has_more": False}
        if _bearer(request) != self.api_key:
            return 401, {}, {"error": {"message": "Incorrect API key provided.", "code": "invalid_api_key"}}
        return 200, {}, {"object": "list", "data": [{"id": "gpt-4o-mini", "object": "model"}]}

    def _gemini_models(self, request: Any) -> Reply:
        if request.headers.get("x-goog-api-key") != self.api_key:
            return (
                400,
                {},
                {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}},
            )
        return 200, {}, {"models": [{"name": f"models/{m}"} for m in self.GEMINI_MODELS]}


# ---- Discord and Slack webhooks ----------------------------------------------------------------------


class FakeDiscord(FakeService):
    """``POST /api/webhooks/{id}/{token}?wait=true`` → the created message; ``GET`` → the webhook."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.webhook_id = "1290000000000000001"
        self.token = "dwh-" + secrets.token_urlsafe(24)
        self.channel_id = "1280000000000000002"
        self._route("POST", f"/api/webhooks/{self.webhook_id}/{self.token}", self._execute, main=True)
        self._route("GET", f"/api/webhooks/{self.webhook_id}/{self.token}", self._get)
        self._route("*", f"/api/webhooks/{self.webhook_id}/wrong-token", self._bad_token)

    @property
    def webhook_url(self) -> str:
        return f"{self.server.url}/api/webhooks/{self.webhook_id}/{self.token}"

    @property
    def bad_token_url(self) -> str:
        return f"{self.server.url}/api/webhooks/{self.webhook_id}/wrong-token"

    def _bad_token(self, request: Any) -> Reply:
        with self._lock:
            self.requests.append(request)
        return 401, {}, {"message": "Invalid Webhook Token", "code": 50027}

    def _execute(self, request: Any) -> Reply:
        body = request.json()
        content = body.get("content") or ""
        if not content and not body.get("embeds"):
            return 400, {}, {"message": "Cannot send an empty message", "code": 50006}
        if len(content) > 2000:
            return 400, {}, {"message": "Invalid Form Body", "code": 50035}
        if "wait=true" not in request.path:
            return 204, {}, b""
        return (
            200,
            {},
            {
                "id": str(1300000000000000000 + len(self.requests)),
                "type": 0,
                "content": content,
                "channel_id": self.channel_id,
                "webhook_id": self.webhook_id,
                "timestamp": "2025-11-20T12:00:00+00:00",
                "author": {
                    "id": self.webhook_id,
                    "username": body.get("username") or "Captain Hook",
                    "bot": True,
                },
                "tts": body.get("tts", False),
            },
        )

    def _get(self, request: Any) -> Reply:
        return (
            200,
            {},
            {
                "id": self.webhook_id,
                "type": 1,
                "name": "Captain Hook",
                "channel_id": self.channel_id,
                "guild_id": "1270000000000000003",
                "token": self.token,
            },
        )


class FakeSlack(FakeService):
    """``POST /services/T…/B…/{secret}``: ``ok`` as text, or Slack's error codes as text."""

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.secret = secrets.token_urlsafe(18)
        self._route("POST", f"/services/T0001/B0001/{self.secret}", self._post, main=True)
        self._route("POST", "/services/T0001/B0001/revoked", self._revoked)

    @property
    def webhook_url(self) -> str:
        return f"{self.server.url}/services/T0001/B0001/{self.secret}"

    @property
    def bad_token_url(self) -> str:
        return f"{self.server.url}/services/T0001/B0001/revoked"

    def _revoked(self, request: Any) -> Reply:
        with self._lock:
            self.requests.append(request)
        return 403, {"Content-Type": "text/plain"}, "invalid_token"

    def _post(self, request: Any) -> Reply:
        try:
            body = request.json()
        except ValueError:
            return 400, {"Content-Type": "text/plain"}, "invalid_payload"
        if not body.get("text") and not body.get("blocks"):
            return 400, {"Content-Type": "text/plain"}, "no_text"
        return 200, {"Content-Type": "text/plain"}, "ok"


# ---- Instagram Graph API -----------------------------------------------------------------------------


class FakeInstagramGraph(FakeService):
    """``POST /{version}/{ig-user-id}/media`` and ``/media_publish`` (form bodies), ``GET /{ig-user-id}``;
    a bad token gets Graph's OAuthException (HTTP 400, code 190)."""

    VERSION = "v23.0"

    def __init__(self, server: Any) -> None:
        super().__init__(server)
        self.account_id = "17841400000000001"
        self.access_token = "IGQV" + secrets.token_urlsafe(30)
        self.containers: dict[str, dict[str, str]] = {}
        self.published: list[str] = []
        root = f"/{self.VERSION}/{self.account_id}"
        self._route("POST", f"{root}/media", self._create, main=True)
        self._route("POST", f"{root}/media_publish", self._publish)
        self._route("GET", root, self._account)

    @property
    def base_url(self) -> str:
        return self.server.url

    def _auth_error(self, request: Any) -> Reply | None:
        if _bearer(request) == self.access_token:
            return None
        return (
            400,
            {},
            {
                "error": {
                    "message": "Invalid OAuth access token - Cannot parse access token",
                    "type": "OAuthException",
                    "code": 190,
                    "fbtrace_id": "AbCdEf",
                }
            },
        )

    @staticmethod
    def _form(request: Any) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(request.body.decode()).items()}

    def _create(self, request: Any) -> Reply:
        if (error := self._auth_error(request)) is not None:
            return error
        form = self._form(request)
        if not form.get("image_url"):
            return (
                400,
                {},
                {
                    "error": {
                        "message": "(#100) The parameter image_url is required",
                        "type": "OAuthException",
                        "code": 100,
                    }
                },
            )
        creation_id = str(17900000000000000 + len(self.containers) + 1)
        self.containers[creation_id] = form
        return 200, {}, {"id": creation_id}

    def _publish(self, request: Any) -> Reply:
        if (error := self._auth_error(request)) is not None:
            return error
        creation_id = self._form(request).get("creation_id", "")
        if creation_id not in self.containers:
            return (
                400,
                {},
                {
                    "error": {
                        "message": "Invalid parameter",
                        "type": "OAuthException",
                        "code": 100,
                        "error_subcode": 2207008,
                    }
                },
            )
        self.published.append(creation_id)
        return 200, {}, {"id": str(18000000000000000 + len(self.published))}

    def _account(self, request: Any) -> Reply:
        if (error := self._auth_error(request)) is not None:
            return error
        return 200, {}, {"username": "connectflow_shop", "id": self.account_id}


# ---- Luma Dream Machine ------------------------------------------------------------------------------


class FakeLuma(FakeService):
    """``POST /dream-machine/v1/generations/image`` → a queued generation; ``GET
    /dream-machine/v1/generations/{id}`` reports ``dreaming`` ``pending_polls`` times, then ``completed``."""

    ROOT = "/dream-machine/v1"

    def __init__(self, server: Any, *, pending_polls: int = 2) -> None:
        super().__init__(server)
        self.api_key = "luma-" + secrets.token_hex(16)
        self.pending_polls = pending_polls
        self.final_state = "completed"
        self.polls: dict[str, int] = {}
        self.generations: dict[str, dict[str, Any]] = {}
        self._route("POST", f"{self.ROOT}/generations/image", self._create, main=True)
        self._route("GET", f"{self.ROOT}/generations", self._list)

    @property
    def base_url(self) -> str:
        return f"{self.server.url}{self.ROOT}"

    def _unauthorised(self, request: Any) -> Reply | None:
        return None if _bearer(request) == self.api_key else (401, {}, {"detail": "Invalid API key"})

    def _create(self, request: Any) -> Reply:
        if (error := self._unauthorised(request)) is not None:
            return error
        body = request.json()
        generation_id = str(uuid.uuid4())
        self.generations[generation_id] = {
            "id": generation_id,
            "generation_type": "image",
            "state": "queued",
            "failure_reason": None,
            "created_at": "2025-11-20T12:00:00Z",
            "assets": None,
            "model": body.get("model"),
            "request": body,
        }
        self.polls[generation_id] = 0
        self._route("GET", f"{self.ROOT}/generations/{generation_id}", self._get)
        return 201, {}, self.generations[generation_id]

    def _get(self, request: Any) -> Reply:
        if (error := self._unauthorised(request)) is not None:
            return error
        generation_id = request.path.rsplit("/", 1)[1]
        generation = self.generations[generation_id]
        self.polls[generation_id] += 1
        if self.polls[generation_id] <= self.pending_polls:
            generation["state"] = "dreaming"
        elif self.final_state == "failed":
            generation.update(state="failed", failure_reason="Prompt was flagged by moderation")
        else:
            generation.update(
                state="completed",
                assets={"image": f"https://storage.cdn-luma.com/images/{generation_id}.jpg"},
            )
        return 200, {}, generation

    def _list(self, request: Any) -> Reply:
        if (error := self._unauthorised(request)) is not None:
            return error
        return 200, {}, {"generations": list(self.generations.values())[:1], "has_more": False, "count": 1}


# ---- SMTP --------------------------------------------------------------------------------------------


@dataclass
class Delivered:
    """One message the SMTP server accepted: envelope, parsed message, and how it arrived."""

    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage
    tls: bool
    authenticated: bool

    def body(self, subtype: str = "plain") -> str:
        part = self.message.get_body(preferencelist=(subtype,))
        return part.get_content().replace("\r\n", "\n") if part is not None else ""


class SmtpServer:
    """A real aiosmtpd server on 127.0.0.1.

    ``security`` is "ssl" (implicit TLS), "starttls" (STARTTLS required before AUTH/MAIL) or "none";
    certificates come from a trustme CA whose PEM is at ``ca_file``. With ``username`` set, AUTH is
    required and checked. ``reply_next(...)`` makes the next DATA answer with that line (e.g. 451).
    """

    def __init__(self, tmp_path: Path, *, security: str = "starttls", username: str = "", password: str = ""):
        import trustme

        self.security, self.username, self.password = security, username, password
        self.messages: list[Delivered] = []
        self.auth_attempts: list[str] = []  # one per AUTH command (a client may try PLAIN, then LOGIN)
        self.auth_sessions: set[int] = set()  # the connections that tried to log in
        self.data_message_ids: list[str] = []  # every DATA, accepted or not
        self._replies: deque[str] = deque()
        ca = trustme.CA()
        self.ca_file = str(tmp_path / f"smtp-ca-{secrets.token_hex(3)}.pem")
        ca.cert_pem.write_to_path(self.ca_file)
        self._server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert("localhost", "127.0.0.1").configure_cert(self._server_ctx)
        self.host = "127.0.0.1"
        self.port = _free_port()
        self._controller: Any = None

    def reply_next(self, line: str) -> None:
        self._replies.append(line)

    def __enter__(self) -> SmtpServer:
        from aiosmtpd.controller import Controller
        from aiosmtpd.smtp import AuthResult

        outer = self

        def authenticator(
            server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
        ) -> AuthResult:
            login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else str(auth_data.login)
            password = (
                auth_data.password.decode()
                if isinstance(auth_data.password, bytes)
                else str(auth_data.password)
            )
            outer.auth_attempts.append(login)
            outer.auth_sessions.add(id(session))
            ok = secrets.compare_digest(login, outer.username) and secrets.compare_digest(
                password, outer.password
            )
            return AuthResult(success=ok, handled=False)

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
                raw = envelope.original_content or envelope.content
                message = email.message_from_bytes(raw, policy=policy.default)  # type: ignore[arg-type]
                outer.data_message_ids.append(str(message["Message-ID"]))
                if outer._replies:
                    return outer._replies.popleft()
                outer.messages.append(
                    Delivered(
                        mail_from=envelope.mail_from,
                        rcpt_tos=list(envelope.rcpt_tos),
                        message=message,
                        tls=session.ssl is not None
                        or server.transport.get_extra_info("ssl_object") is not None,
                        authenticated=bool(session.authenticated),
                    )
                )
                return "250 2.0.0 Ok: queued"

        kwargs: dict[str, Any] = {"hostname": self.host, "port": self.port, "server_hostname": "localhost"}
        if self.username:
            # aiosmtpd only counts STARTTLS as TLS, so with implicit TLS (every byte already encrypted)
            # its auth_require_tls would hide AUTH: require it only for STARTTLS.
            kwargs.update(
                authenticator=authenticator, auth_required=True, auth_require_tls=self.security == "starttls"
            )
        if self.security == "ssl":
            kwargs["ssl_context"] = self._server_ctx
        elif self.security == "starttls":
            kwargs.update(tls_context=self._server_ctx, require_starttls=True)
        self._controller = Controller(Handler(), **kwargs)
        self._controller.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._controller.stop()


class SilentServer:
    """Accepts TCP connections and never says a word: an SMTP client's greeting times out."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
