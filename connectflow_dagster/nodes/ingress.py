"""How a trigger is called: the declaration a trigger ``NodeType`` carries as ``ingress``.

A trigger node type says, as data plus a few pure functions, everything the HTTP surface needs:

- **where**: ``url`` (a path template with ``{workflow_id}``) and, for webhooks, ``subpath_param``
  (a trailing sub-path matched against that params field);
- **how it authenticates**: ``auth`` — ``none``, ``shared`` (a secret ConnectFlow generates, sent as
  ``Authorization: Bearer`` or ``X-ConnectFlow-Secret``), ``signing`` (the sender signs the body with a
  secret the user pastes in; ``verify`` checks it, e.g. Stripe's HMAC) or ``api_key`` (a workflow's
  API key names the workflow); ``auth_required`` refuses calls while no secret is set;
- **what it accepts**: ``body`` (``json`` or ``json_or_form``), ``context`` (the request → the trigger's
  context entry; raise ``TriggerEventInvalid`` for a 400), ``ignore`` (events answered 200 "ignored"
  and not stored), ``dedup_key`` (redeliveries with the same key start nothing);
- **how it answers**: ``after_run`` (wait for the run and answer with its result, webhook's
  ``response_mode='after_run'``);
- **what the editor shows**: ``panel`` (the URL's label, a hint, the secret's widgets, a generated
  script such as Google's Apps Script, a link to the workflow's API keys).

The gateway's one generic route (``gateway/routes/webhooks.py``) and the editor's trigger panel
(``ui/components/node_settings.py``) read this declaration; neither names a trigger type. A new trigger
is one module with its ``NodeType(…, ingress=Ingress(…))`` and one ``connectflow.nodes`` entry point
(docs/architecture.md, "Adding a trigger").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from connectflow_dagster.errors import TriggerEventInvalid

AuthKind = Literal["none", "shared", "signing", "api_key"]
BodyFormat = Literal["json", "json_or_form"]

WEBHOOKS_PREFIX = "/api/webhooks"
TEST_PREFIX = "/api/webhook-test"  # the same trigger URL, answering only while its editor listens
SECRET_HEADER = "x-connectflow-secret"  # noqa: S105 — a header name, not a secret
IDEMPOTENCY_HEADER = "idempotency-key"


@dataclass(frozen=True)
class IncomingEvent:
    """A request that reached a trigger, after authentication and body parsing (no HTTP objects).

    ``headers`` have lower-case names; ``query`` keeps the last value of a repeated parameter;
    ``path`` is the sub-path after the trigger's URL (webhooks), else ``""``.
    """

    body: Any
    raw_body: bytes
    headers: Mapping[str, str]
    query: Mapping[str, str]
    method: str
    path: str = ""


@dataclass(frozen=True)
class AfterRun:
    """Answer the caller with the run's result when it finishes within ``timeout_seconds``."""

    timeout_seconds: float
    node_id: str | None = None  # answer with this node's output instead of the whole context
    # ``respond_node``: answer with what a Respond to Webhook node recorded, as soon as one runs
    # (``connectflow_dagster/responses.py``), or an error if the run ends without one.
    mode: Literal["after_run", "respond_node"] = "after_run"


@dataclass(frozen=True)
class TriggerPanel:
    """What the editor's trigger panel shows. Texts are plain; `backticks` render as code."""

    url_label: str = "URL"
    hint: str = ""
    method_shown: bool = False  # show "POST <url>" rather than the bare URL
    paste_label: str = "Signing secret"  # the field a ``signing`` secret is pasted into
    paste_placeholder: str = ""
    script: Callable[[str, str], str] | None = None  # (url, secret) -> a script the user pastes
    script_label: str = ""
    api_keys_link: bool = False  # link to the workflow's API keys page


@dataclass(frozen=True)
class Ingress:
    """How a trigger is called over HTTP (see the module docstring)."""

    url: str
    context: Callable[[IncomingEvent, Any], dict[str, Any] | Any]
    methods: tuple[str, ...] = ("POST",)
    subpath_param: str | None = None
    auth: AuthKind = "none"
    auth_required: bool = False
    verify: Callable[[str, IncomingEvent], bool] | None = None
    rejection: str = "missing or wrong trigger secret"
    body: BodyFormat = "json"
    ignore: Callable[[Any, Any], dict[str, Any] | None] | None = None
    dedup_key: Callable[[IncomingEvent, Any], str | None] = field(default=lambda event, context: None)
    after_run: Callable[[Any], AfterRun | None] | None = None
    served: bool = True  # False: the URL belongs to another route (the manual trigger's execute API)
    # The params' ``authentication`` ("none" | "basic" | "header") asks callers for the node's stored
    # credential (``http_basic_auth`` / ``http_header_auth``), besides any shared secret.
    credential_auth: bool = False
    panel: TriggerPanel = field(default_factory=TriggerPanel)

    def url_for(self, base_url: str, workflow_id: str, params: Mapping[str, Any]) -> str:
        """The full URL a caller uses for this trigger of ``workflow_id`` with ``params``."""
        url = base_url.rstrip("/") + self.url.replace("{workflow_id}", workflow_id)
        if self.subpath_param:
            sub = str(params.get(self.subpath_param) or "").strip("/")
            if sub:
                url += f"/{sub}"
        return url

    @property
    def test_url(self) -> str | None:
        """The test URL template ("listen for test event"): ``/api/webhook-test/…`` for a URL under
        ``/api/webhooks``; None for other triggers."""
        if not self.url.startswith(WEBHOOKS_PREFIX):
            return None
        return TEST_PREFIX + self.url[len(WEBHOOKS_PREFIX) :]

    def test_url_for(self, base_url: str, workflow_id: str, params: Mapping[str, Any]) -> str | None:
        production = self.url_for(base_url, workflow_id, params)
        if self.test_url is None:
            return None
        return production.replace(WEBHOOKS_PREFIX, TEST_PREFIX, 1)

    def describe(self) -> dict[str, Any]:
        """The JSON-able part, served in the node-type catalogue for the editor."""
        return {
            "url": self.url,
            "test_url": self.test_url,
            "methods": list(self.methods),
            "subpath_param": self.subpath_param,
            "auth": self.auth,
            "auth_required": self.auth_required,
            "body": self.body,
            "served": self.served,
            "panel": {
                "url_label": self.panel.url_label,
                "hint": self.panel.hint,
                "method_shown": self.panel.method_shown,
                "paste_label": self.panel.paste_label,
                "paste_placeholder": self.panel.paste_placeholder,
                "script_label": self.panel.script_label,
                "has_script": self.panel.script is not None,
                "api_keys_link": self.panel.api_keys_link,
            },
        }


def idempotency_key(*, max_length: int | None = None) -> Callable[[IncomingEvent, Any], str | None]:
    """A ``dedup_key`` that reads the caller's ``Idempotency-Key`` header (``idem:<key>``)."""

    def dedup(event: IncomingEvent, context: Any) -> str | None:
        key = event.headers.get(IDEMPOTENCY_HEADER)
        if key is None:
            return None
        if max_length is not None and not 0 < len(key) <= max_length:
            raise TriggerEventInvalid(f"Idempotency-Key must be 1–{max_length} characters")
        return f"idem:{key}" if key else None

    return dedup
