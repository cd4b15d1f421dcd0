"""How errors become HTTP answers, in one place.

=========================================  ======  ==================================================
exception                                  status  body
=========================================  ======  ==================================================
invalid request (pydantic)                 422     ``detail``: [{loc, msg, type}] (input never echoed)
``WorkflowInvalid``                        422     ``detail`` + ``problems`` [{message, node_id, field}]
``CredentialInvalid``                      422     ``detail``: [{loc: [body, data, field], msg}]
``UnknownCredentialType``                  422     ``detail``: [{loc: [body, type], msg}]
``TriggerEventInvalid`` (a trigger's body)  400     ``detail``
``NotFound`` (also another user's object)  404     ``detail``
``EmailTaken``                             409     ``detail``
``Conflict``                                409     ``detail``
database unreachable / locked              503     ``detail`` (nothing was saved)
``SecretKeyMissing`` / ``DecryptionFailed``  503   ``detail``
=========================================  ======  ==================================================
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from connectflow_dagster.errors import (
    Conflict,
    CredentialInvalid,
    DecryptionFailed,
    EmailTaken,
    NotFound,
    SecretKeyMissing,
    TriggerEventInvalid,
    UnknownCredentialType,
    WorkflowInvalid,
)

log = logging.getLogger("gateway")

DB_UNAVAILABLE = "the database is unavailable; nothing was saved. Try again shortly."


def _clean(errors: Any) -> list[dict[str, Any]]:
    """Validation errors without the submitted values (which may be passwords or API keys)."""
    return [
        {"loc": list(e.get("loc", [])), "msg": e.get("msg", ""), "type": e.get("type", "value_error")}
        for e in errors
    ]


def install(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        return JSONResponse({"detail": _clean(exc.errors())}, status_code=422)

    @app.exception_handler(WorkflowInvalid)
    async def _invalid_workflow(_: Request, exc: WorkflowInvalid) -> JSONResponse:
        return JSONResponse(
            {
                "detail": "the workflow cannot run: " + "; ".join(str(p) for p in exc.problems),
                "problems": [p.as_dict() for p in exc.problems],
            },
            status_code=422,
        )

    @app.exception_handler(CredentialInvalid)
    async def _invalid_credential(_: Request, exc: CredentialInvalid) -> JSONResponse:
        detail = [
            {"loc": ["body", "data", *e["field"].split(".")], "msg": e["message"], "type": "value_error"}
            for e in exc.errors
        ]
        return JSONResponse({"detail": detail}, status_code=422)

    @app.exception_handler(UnknownCredentialType)
    async def _unknown_type(_: Request, exc: UnknownCredentialType) -> JSONResponse:
        return JSONResponse(
            {"detail": [{"loc": ["body", "type"], "msg": str(exc), "type": "value_error"}]}, status_code=422
        )

    @app.exception_handler(TriggerEventInvalid)
    async def _bad_event(_: Request, exc: TriggerEventInvalid) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=400)

    @app.exception_handler(NotFound)
    async def _not_found(_: Request, exc: NotFound) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=404)

    @app.exception_handler(EmailTaken)
    async def _email_taken(_: Request, exc: EmailTaken) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    @app.exception_handler(Conflict)
    async def _conflict(_: Request, exc: Conflict) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=409)

    async def _db_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("database error on %s %s: %s", request.method, request.url.path, type(exc).__name__)
        return JSONResponse({"detail": DB_UNAVAILABLE}, status_code=503, headers={"Retry-After": "5"})

    app.add_exception_handler(OperationalError, _db_down)
    app.add_exception_handler(PoolTimeout, _db_down)

    async def _dbapi(request: Request, exc: Exception) -> JSONResponse:
        if isinstance(exc, DBAPIError) and exc.connection_invalidated:
            return await _db_down(request, exc)
        raise exc

    app.add_exception_handler(DBAPIError, _dbapi)

    async def _keys(_: Request, exc: Exception) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503)

    app.add_exception_handler(SecretKeyMissing, _keys)
    app.add_exception_handler(DecryptionFailed, _keys)
