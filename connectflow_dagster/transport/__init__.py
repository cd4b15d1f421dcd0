"""Everything a node or a credential test uses to reach the outside world, in one place.

- ``new_http_client`` / ``send`` / ``raise_for_status`` / ``retry_after_seconds``: the one HTTP
  transport (client creation, timeouts, error classification, ``Retry-After``, log redaction).
- ``NetworkPolicy`` / ``pinned_addresses`` / ``connect_pinned``: the outbound network policy
  (DESIGN decision 16) with the resolved address pinned for the connection; SMTP and litellm use it
  through ``connect_pinned`` and ``new_http_client``.
- ``Resolver``: the one-method seam for name resolution (tests pass a ``StaticResolver``).

Errors::

    NodeExecutionError
    ├── ServiceUnreachable      refused, reset, timed out, not speaking HTTP (retriable)
    └── NonRetriableNodeError
        └── NetworkPolicyError  the destination is refused by the network policy
"""

from connectflow_dagster.errors import NetworkPolicyError, ServiceUnreachable
from connectflow_dagster.transport._http import (
    PinnedNetworkBackend,
    PolicyTransport,
    new_http_client,
    normalize_base_url,
    raise_for_status,
    retry_after_seconds,
    send,
)
from connectflow_dagster.transport._policy import (
    ALLOW_ENV,
    POLICY_ENV,
    NetworkPolicy,
    Resolver,
    StaticResolver,
    SystemResolver,
    address_kind,
    connect_pinned,
    current_policy,
    pinned_addresses,
)
from connectflow_dagster.transport._redaction import redact_url_secrets, register_url_secret

__all__ = [
    "ALLOW_ENV",
    "POLICY_ENV",
    "NetworkPolicy",
    "NetworkPolicyError",
    "PinnedNetworkBackend",
    "PolicyTransport",
    "Resolver",
    "ServiceUnreachable",
    "StaticResolver",
    "SystemResolver",
    "address_kind",
    "connect_pinned",
    "current_policy",
    "new_http_client",
    "normalize_base_url",
    "pinned_addresses",
    "raise_for_status",
    "redact_url_secrets",
    "register_url_secret",
    "retry_after_seconds",
    "send",
]
