"""Security tests run against the same gateway fixtures as tests/gateway (re-exported here)."""

from tests.dispatch.conftest import (  # noqa: F401  (fixtures: a live gateway and a worker thread)
    _fresh_dispatch_settings,
    empty_inbox,
    live_gateway,
    worker_thread,
)
from tests.gateway.conftest import gateway, isolated_gateway  # noqa: F401  (fixtures)
