"""Security tests run against the same gateway fixtures as tests/gateway (re-exported here)."""

from tests.gateway.conftest import gateway, isolated_gateway  # noqa: F401  (fixtures)
