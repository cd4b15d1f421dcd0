"""Instagram: publish an image post through the Instagram Graph API (content publishing).

Two calls, as Meta documents them: ``POST /{ig-user-id}/media`` (image_url, caption) creates a media
container, ``POST /{ig-user-id}/media_publish`` (creation_id) publishes it. The access token travels
in the ``Authorization`` header, never in a URL. Graph errors are classified by their ``code``:
190 (bad token) and permission errors fail at once; throttling (4, 17, 32, 613), transient errors and
"media not ready yet" (9007) are retriable.
"""

from __future__ import annotations

from typing import Any

import httpx
from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

from connectflow_dagster.errors import NodeExecutionError, NonRetriableNodeError
from connectflow_dagster.nodes.base import CredentialFields, CredentialType, NodeContext, NodeType, Params
from connectflow_dagster.transport import normalize_base_url, raise_for_status, send

CREDENTIAL_TYPE = "instagram_graph"
GRAPH_BASE_URL = "https://graph.facebook.com"
MAX_CAPTION_CHARS = 2200  # Instagram's caption limit
_AUTH_CODES = {102, 190} | set(range(200, 300)) | {10}
_THROTTLE_CODES = {4, 17, 32, 613, 80001, 80002}
_TRANSIENT_CODES = {1, 2, 9007}


class InstagramCredentialFields(CredentialFields):
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)

    access_token: SecretStr = Field(
        min_length=1,
        description="A long-lived access token with instagram_basic and instagram_content_publish.",
    )
    account_id: str = Field(
        pattern=r"^[0-9]{1,32}$", description="The Instagram professional account's id (ig-user-id)."
    )
    api_version: str = Field(default="v23.0", pattern=r"^v[0-9]+\.[0-9]+$", description="Graph API version.")
    base_url: str | None = Field(
        default=None, description=f"Empty for {GRAPH_BASE_URL}; another root only for proxies and tests."
    )

    @field_validator("base_url")
    @classmethod
    def _check_base_url(cls, value: str | None) -> str | None:
        return normalize_base_url(value)

    def url(self, path: str) -> str:
        return f"{self.base_url or GRAPH_BASE_URL}/{self.api_version}/{path}"

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.access_token.get_secret_value()}"}


class InstagramParams(Params):
    image_url: str = Field(
        description="Public URL of a JPEG image Instagram can download; may be a template."
    )
    caption: str = Field(
        default="",
        max_length=MAX_CAPTION_CHARS,
        description="Post caption (hashtags allowed); may be a template.",
    )
    timeout: float = Field(default=60.0, gt=0, le=300, description="Seconds to wait for each Graph API call.")

    @field_validator("image_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError("must be a public http(s) URL")
        return value


class InstagramOutput(BaseModel):
    success: bool = Field(description="True once the post is published.")
    creation_id: str = Field(description="Id of the media container.")
    post_id: str = Field(description="Id of the published Instagram media.")


def _graph_call(
    ctx: NodeContext[InstagramCredentialFields],
    path: str,
    data: dict[str, str],
    timeout: float,
    what: str,
) -> dict[str, Any]:
    creds = ctx.auth
    response = send(
        ctx.http,
        "POST",
        creds.url(path),
        what=what,
        data=data,
        headers={**creds.headers(), "Idempotency-Key": f"{ctx.idempotency_key}-{path.rsplit('/', 1)[-1]}"},
        timeout=timeout,
    )
    raise_for_graph_error(response, what)
    body = response.json()
    if not isinstance(body, dict) or not body.get("id"):
        raise NodeExecutionError(f"{what}: the Graph API answered without an id: {response.text[:200]}")
    return body


def raise_for_graph_error(response: httpx.Response, what: str) -> None:
    """Turn a Graph API error body into the right failure; other errors by HTTP status."""
    if response.status_code < 400:
        return
    try:
        error = response.json().get("error") or {}
    except (ValueError, AttributeError):
        error = {}
    if not error:
        raise_for_status(response, what)
        return
    code = error.get("code")
    message = (
        f"{what} failed: {error.get('message', 'unknown error')} (HTTP {response.status_code}, code {code}"
        + (f", subcode {error['error_subcode']})" if error.get("error_subcode") else ")")
    )
    # Meta labels throttling and outages "OAuthException" too: decide by code first.
    if code in _THROTTLE_CODES or code in _TRANSIENT_CODES or error.get("is_transient"):
        raise NodeExecutionError(message)
    if code in _AUTH_CODES or error.get("type") == "OAuthException" or response.status_code in (401, 403):
        raise NonRetriableNodeError(message + "; check the credential's access token and its permissions")
    if response.status_code >= 500:
        raise NodeExecutionError(message)
    raise NonRetriableNodeError(message)


def execute(params: InstagramParams, ctx: NodeContext[InstagramCredentialFields]) -> InstagramOutput:
    """Create the media container, then publish it."""
    creds = ctx.auth
    container = _graph_call(
        ctx,
        f"{creds.account_id}/media",
        {"image_url": params.image_url, "caption": params.caption},
        params.timeout,
        "creating the Instagram media container",
    )
    creation_id = str(container["id"])
    published = _graph_call(
        ctx,
        f"{creds.account_id}/media_publish",
        {"creation_id": creation_id},
        params.timeout,
        "publishing the Instagram post",
    )
    return InstagramOutput(success=True, creation_id=creation_id, post_id=str(published["id"]))


def check_credential(creds: InstagramCredentialFields, http: httpx.Client) -> str:
    """Read the account's username: needs a valid token, changes nothing."""
    response = send(
        http,
        "GET",
        creds.url(creds.account_id),
        what="the Graph API",
        params={"fields": "username"},
        headers=creds.headers(),
        timeout=20,
    )
    raise_for_graph_error(response, "reading the Instagram account")
    return f"connected to Instagram account @{response.json().get('username', creds.account_id)}"


credential = CredentialType(
    type=CREDENTIAL_TYPE,
    display_name="Instagram Graph API",
    fields=InstagramCredentialFields,
    test=check_credential,
)

node = NodeType(
    type="instagram.publish",
    display_name="Instagram",
    group="action",
    description="Publishes an image with a caption to an Instagram professional account.",
    params=InstagramParams,
    output=InstagramOutput,
    execute=execute,
    credential=credential,
    icon="instagram",
)
