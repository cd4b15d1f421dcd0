"""Stripe trigger: Stripe webhook events POSTed to ``/api/webhooks/stripe/{workflow_id}``.

With a signing secret (the endpoint's ``whsec_…``, stored encrypted per trigger) every request must
carry a valid ``Stripe-Signature``: HMAC-SHA256 over ``f"{t}."`` + the raw body, compared in constant
time against each ``v1``, with ``|now - t| <= 300 s``. The event id is the dedup key, so Stripe's
redeliveries start nothing. Context: ``{event_id, event_type, created, livemode, raw}``.
"""

from __future__ import annotations

import fnmatch
import hashlib
import hmac
import time
from typing import Any

from pydantic import BaseModel, Field

from connectflow_dagster.errors import TriggerEventInvalid
from connectflow_dagster.nodes.base import NodeType, Params
from connectflow_dagster.nodes.ingress import IncomingEvent, Ingress, TriggerPanel
from connectflow_dagster.nodes.triggers import passthrough

TOLERANCE_SECONDS = 300


class StripeParams(Params):
    event_types: list[str] = Field(
        default_factory=list,
        description="Only these event types start the workflow ('payment_intent.*' patterns allowed); "
        "empty: every event.",
    )


class StripeOutput(BaseModel):
    event_id: str
    event_type: str
    created: int
    livemode: bool
    raw: dict[str, Any]


class StripeEventInvalid(TriggerEventInvalid):
    """The body is JSON but not a Stripe event."""


def sign(secret: str, body: bytes, timestamp: int | None = None) -> str:
    """A ``Stripe-Signature`` header value, as Stripe computes it (for tests and local senders)."""
    t = int(time.time()) if timestamp is None else timestamp
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def verify_signature(
    secret: str,
    body: bytes,
    header: str | None,
    *,
    now: float | None = None,
    tolerance: int = TOLERANCE_SECONDS,
) -> bool:
    """True when ``header`` carries a v1 signature of ``body`` under ``secret`` within the tolerance."""
    if not header:
        return False
    timestamp: int | None = None
    candidates: list[str] = []
    for part in header.split(","):
        key, _, value = part.strip().partition("=")
        if key == "t":
            try:
                timestamp = int(value)
            except ValueError:
                return False
        elif key == "v1" and value.isascii():  # a signature is hex; anything else cannot match
            candidates.append(value)
    if timestamp is None or not candidates:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    # compare against every v1 (Stripe sends several while a secret is being rolled)
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def event_context(event: Any) -> dict[str, Any]:
    """The context entry of a Stripe event; ``StripeEventInvalid`` if it is not one."""
    if not isinstance(event, dict):
        raise StripeEventInvalid("a Stripe event is a JSON object")
    event_id, event_type = event.get("id"), event.get("type")
    if not isinstance(event_id, str) or not event_id or not isinstance(event_type, str) or not event_type:
        raise StripeEventInvalid("a Stripe event needs string 'id' and 'type'")
    created = event.get("created", 0)
    if not isinstance(created, int):
        raise StripeEventInvalid("'created' must be an integer (unix seconds)")
    return {
        "event_id": event_id,
        "event_type": event_type,
        "created": created,
        "livemode": bool(event.get("livemode", False)),
        "raw": event,
    }


def wanted(params: StripeParams, event_type: str) -> bool:
    """Whether ``event_type`` is one the trigger listens to (every type when none are listed)."""
    return not params.event_types or any(fnmatch.fnmatchcase(event_type, p) for p in params.event_types)


def _verify(secret: str, event: IncomingEvent) -> bool:
    return verify_signature(secret, event.raw_body, event.headers.get("stripe-signature"))


def _ignore(params: StripeParams, context: dict[str, Any]) -> dict[str, Any] | None:
    return None if wanted(params, context["event_type"]) else {"event_type": context["event_type"]}


ingress = Ingress(
    url="/api/webhooks/stripe/{workflow_id}",
    body="json",
    # Every event must carry a valid signature: until the signing secret is set, events are refused
    # (401), since unsigned ones could be forged by anyone who knows the URL (issue 11, finding 5).
    auth="signing",
    auth_required=True,
    verify=_verify,
    rejection="invalid Stripe-Signature",
    context=lambda event, params: event_context(event.body),
    ignore=_ignore,
    dedup_key=lambda event, context: f"stripe:{context['event_id']}",
    panel=TriggerPanel(
        url_label="Stripe endpoint URL",
        hint="Add this URL as an endpoint in Stripe's dashboard, then paste the endpoint's signing "
        "secret below.",
        paste_label="Stripe signing secret",
        paste_placeholder="whsec_…",
    ),
)

node = NodeType(
    type="trigger.stripe",
    display_name="Stripe",
    group="trigger",
    description="Starts the workflow on Stripe webhook events (signature verified, redeliveries ignored).",
    params=StripeParams,
    output=StripeOutput,
    execute=passthrough,
    icon="credit-card",
    ingress=ingress,
)
