"""How an executing node gets its credential: decrypted at execution time, scoped to the owner.

The gateway issue fills in the encrypted store; until a credential store is configured the resolver
reports a clear error instead of guessing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from connectflow_dagster.errors import CredentialError


def resolve_credential(owner_id: str, credential_id: str, expected_type: str | None) -> Mapping[str, Any]:
    try:
        from connectflow_dagster.store.credentials import decrypt_for_owner
    except ImportError:
        raise CredentialError("credentials are not available in this installation") from None
    return decrypt_for_owner(owner_id, credential_id, expected_type)
