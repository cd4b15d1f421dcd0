"""Request body size limit: 413 before a handler sees an oversized body (declared or streamed)."""

from __future__ import annotations

import json
import math
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


class BodySizeLimit:
    """Pure ASGI middleware refusing bodies over ``max_bytes`` with 413.

    A declared ``Content-Length`` is checked before anything is read; a chunked body (no length) is
    read up to the limit first and then replayed to the app, so the app never sees a partial body.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def _reject(self, send: Send) -> None:
        body = json.dumps({"detail": f"request body larger than {self.max_bytes} bytes"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers", []))
        if b"content-length" in headers:
            try:
                declared = int(headers[b"content-length"])
            except ValueError:
                declared = 0
            if declared > self.max_bytes:
                await self._reject(send)
                return
            await self.app(scope, receive, send)
            return
        if b"transfer-encoding" not in headers:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._reject(send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": b"".join(chunks), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)


# ---- untrusted JSON (webhooks, the API trigger) --------------------------------------------------------

MAX_JSON_DEPTH = 64  # Stripe events nest ~6 deep, Google Forms ~4; deeper is hostile or broken
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F][0-9a-fA-F]{2}")


class JSONRefused(ValueError):
    """Untrusted JSON that ConnectFlow does not accept (the message says why; answer 400)."""


def _refuse_constant(name: str) -> Any:
    raise JSONRefused(f"{name} is not valid JSON: send numbers as finite values")


def parse_untrusted_json(body: bytes) -> Any:
    """``json.loads`` for bodies from outside: NaN/Infinity refused (instead of becoming null later),
    nesting deeper than ``MAX_JSON_DEPTH`` refused, and lone UTF-16 surrogates (``"\\ud800"``, which
    cannot be stored or shown as UTF-8) refused. Raises ``JSONRefused`` with a clear message."""
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except JSONRefused:
        raise
    except RecursionError:
        raise JSONRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise JSONRefused(f"malformed JSON: {exc}") from None
    check_untrusted_value(value, surrogates=bool(_SURROGATE_ESCAPE.search(body)))
    return value


def check_untrusted_value(value: Any, *, surrogates: bool = True) -> None:
    """Depth, finite numbers and (when ``surrogates``) valid Unicode of an already-parsed value."""
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            if depth >= MAX_JSON_DEPTH:
                raise JSONRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            stack.extend((k, depth + 1) for k in item)
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            if depth >= MAX_JSON_DEPTH:
                raise JSONRefused(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
            stack.extend((v, depth + 1) for v in item)
        elif isinstance(item, float) and not math.isfinite(item):
            raise JSONRefused("NaN and Infinity are not valid JSON: send numbers as finite values")
        elif surrogates and isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise JSONRefused(
                    "a string holds a lone UTF-16 surrogate (e.g. \\ud800): not valid Unicode"
                ) from None
