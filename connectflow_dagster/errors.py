"""The exceptions ConnectFlow raises on purpose, one tree::

ConnectFlowError
├── WorkflowInvalid             a workflow failed validation (carries every Problem)
├── NodeTypeError               a node plugin is broken, or two trigger types declare one URL
│   └── DuplicateNodeType       two plugins registered the same type name (fails at start-up)
├── TemplateError               a template failed to render (names node, field, variable)
├── NodeExecutionError          a node failed at run time (retried by its retry policy)
│   ├── ServiceUnreachable      connection refused, reset or timed out (retriable)
│   └── NonRetriableNodeError   bad input or rejected credentials: retrying cannot help
│       ├── NetworkPolicyError  the destination is refused by the outbound network policy
│       └── CredentialError     a credential is missing, of the wrong type, or not the owner's
├── TriggerEventInvalid         a request reached a trigger but is not an event it accepts
│                               (node modules subclass it: StripeEventInvalid, FormResponseInvalid)
├── CredentialInvalid           credential fields do not fit their type (names each field)
├── UnknownCredentialType       no installed node type declares this credential type
├── EmailTaken                  another account already uses this e-mail address
├── TokenRejected               a personal access token does not authenticate (message safe to show)
├── SocketDirectoryUnsafe       the Dagster UI socket's directory is not private to this OS user
├── Conflict                    the object is not in a state that allows this (e.g. cancel a finished run)
├── SecretKeyMissing            no usable credential encryption key is configured
├── DecryptionFailed            a ciphertext did not decrypt (unknown key id, tampered, other row)
└── NotFound                    an object does not exist (or belongs to someone else)

The gateway maps every one to an HTTP status in one table (``gateway/errors.py``); the CLI prints
its message and exits 1. The modules that raise them re-export them under their old names
(``crypto.SecretKeyMissing``, ``store.users.EmailTaken``, …).
"""

from __future__ import annotations

from dataclasses import dataclass


class ConnectFlowError(Exception):
    """Base of every error ConnectFlow raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One validation problem, pointing at the node and field to fix."""

    message: str
    node_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.node_id:
            where.append(f"node '{self.node_id}'")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{', '.join(where)}: {self.message}" if where else self.message

    def as_dict(self) -> dict[str, str | None]:
        return {"message": self.message, "node_id": self.node_id, "field": self.field}


class WorkflowInvalid(ConnectFlowError):
    """A workflow failed validation; ``problems`` lists every reason."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("invalid workflow:\n" + "\n".join(f"  - {p}" for p in problems))


class NodeTypeError(ConnectFlowError):
    pass


class DuplicateNodeType(NodeTypeError):
    pass


class TemplateError(ConnectFlowError):
    """A template failed; the message names the node, the field and, when known, the variable."""

    def __init__(
        self,
        message: str,
        *,
        node_id: str | None = None,
        field: str | None = None,
        variable: str | None = None,
    ):
        self.node_id, self.field, self.variable = node_id, field, variable
        super().__init__(message)


class NodeExecutionError(ConnectFlowError):
    """A node failed at run time. ``retry_after`` (seconds) is honoured by retries when set."""

    retriable = True

    def __init__(self, message: str, *, retry_after: float | None = None):
        self.retry_after = retry_after
        super().__init__(message)


class NonRetriableNodeError(NodeExecutionError):
    retriable = False


class ServiceUnreachable(NodeExecutionError):
    """A service could not be reached (refused, reset, timed out, not speaking its protocol)."""


class NetworkPolicyError(NonRetriableNodeError):
    """A connection the outbound network policy refused; the message names the address and how to
    allow it (``CONNECTFLOW_NETWORK_ALLOW``)."""


class CredentialError(NonRetriableNodeError):
    pass


class NotFound(ConnectFlowError):
    pass


class TriggerEventInvalid(ConnectFlowError, ValueError):
    """A request reached a trigger but is not an event it accepts (the gateway answers 400)."""


class CredentialInvalid(ConnectFlowError):
    """The fields do not fit the credential type; ``errors`` name each field (never echo values)."""

    def __init__(self, errors: list[dict[str, str]]):
        self.errors = errors
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))


class UnknownCredentialType(ConnectFlowError):
    """No installed node type declares this credential type."""


class EmailTaken(ConnectFlowError):
    """Another account already uses this e-mail address."""


class Conflict(ConnectFlowError):
    """The object is not in a state that allows this (the gateway answers 409)."""


class SecretKeyMissing(ConnectFlowError):
    """No usable encryption key is configured (production without CONNECTFLOW_SECRET_KEY, or too short)."""


class DecryptionFailed(ConnectFlowError):
    """A ciphertext did not decrypt: unknown key id, tampered data, or bound to another row."""


class TokenRejected(ConnectFlowError):
    """Why a presented token does not authenticate; the message is safe to show to its holder."""


class SocketDirectoryUnsafe(ConnectFlowError, RuntimeError):
    """The socket's directory is not a private directory of this OS user."""
