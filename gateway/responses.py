"""The gateway's JSON response class: stored data that is not valid Unicode never breaks a page.

A run's output can hold a lone UTF-16 surrogate (a template can produce ``'\\ud800'``; webhooks
refuse them since issue 11, older events may still carry them). Starlette's ``JSONResponse`` encodes
UTF-8 strictly, so such an execution answered 500 forever; here the body falls back to ASCII JSON,
where the surrogate is written as the escape ``\\ud800`` — valid JSON text, shown as-is.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi.responses import JSONResponse


class SafeJSONResponse(JSONResponse):
    """``JSONResponse`` that escapes what UTF-8 cannot encode instead of failing."""

    def render(self, content: Any) -> bytes:
        try:
            return super().render(content)
        except UnicodeEncodeError:
            return json.dumps(content, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode(
                "ascii"
            )
