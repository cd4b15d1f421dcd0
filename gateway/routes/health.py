"""``GET /api/health``: storage reachable, migrations current, version. 503 when something is not."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.concurrency import run_in_threadpool

from connectflow_dagster.store.db import current_revision, get_engine, head_revision
from gateway.schemas.node_types import HealthPublic

router = APIRouter(prefix="/api", tags=["health"])


def _version() -> str:
    try:
        return version("connectflow-dagster")
    except PackageNotFoundError:
        return "0+unknown"


def _check() -> HealthPublic:
    database = migrations = dagster = "ok"
    try:
        engine = get_engine()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        current, head = current_revision(engine), head_revision()
        if current != head:
            migrations = f"behind: at {current}, head is {head}"
    except Exception as exc:
        database = f"unreachable: {type(exc).__name__}"
        migrations = "unknown"
    try:
        from connectflow_dagster.instance import get_instance

        get_instance().get_runs_count()
    except Exception as exc:
        dagster = f"unreachable: {type(exc).__name__}"
    healthy = database == migrations == dagster == "ok"
    return HealthPublic(
        status="ok" if healthy else "unavailable",
        version=_version(),
        database=database,
        migrations=migrations,
        dagster_storage=dagster,
    )


@router.get("/health", response_model=HealthPublic, responses={503: {"model": HealthPublic}})
async def health() -> JSONResponse:
    result = await run_in_threadpool(_check)
    return JSONResponse(result.model_dump(), status_code=200 if result.status == "ok" else 503)
