"""Gateway settings (``CONNECTFLOW_*`` like the engine's): cookies, limits and OAuth providers.

The engine's ``connectflow_dagster.config.Settings`` keeps the shared ones (home, database, secret key,
host and port); these only matter to the HTTP surface. Read when ``create_app()`` runs.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class GatewaySettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CONNECTFLOW_", extra="ignore")

    max_body_bytes: int = Field(default=1_048_576, gt=0, description="Larger request bodies get 413.")
    session_days: int = Field(default=14, gt=0, description="How long a sign-in lasts.")
    cookie_secure: bool | None = Field(
        default=None, description="Secure cookies; default: when the request or public URL is https."
    )
    sign_in_attempts: int = Field(default=10, gt=0, description="Failed sign-ins allowed per window.")
    sign_in_window_seconds: int = Field(default=300, gt=0)
    signup: Literal["open", "invite", "closed"] = Field(
        default="invite",
        description="Who may create an account once the first one (the owner) exists: anyone (open), "
        "holders of an administrator's invitation (invite), nobody (closed).",
    )
    sign_up_attempts: int = Field(
        default=10, gt=0, description="Sign-up attempts allowed per client address."
    )
    sign_up_window_seconds: int = Field(default=3600, gt=0)
    invitation_days: int = Field(default=7, gt=0, description="How long an invitation link stays usable.")

    github_client_id: str | None = None
    github_client_secret: SecretStr | None = None
    github_oauth_url: str = Field(
        default="https://github.com/login/oauth", description="Authorize/token endpoints' base."
    )
    github_api_url: str = "https://api.github.com"

    google_client_id: str | None = None
    google_client_secret: SecretStr | None = None
    google_discovery_url: str = "https://accounts.google.com/.well-known/openid-configuration"

    @property
    def oauth_providers(self) -> list[str]:
        """Providers whose client id and secret are both configured."""
        out = []
        if self.github_client_id and self.github_client_secret:
            out.append("github")
        if self.google_client_id and self.google_client_secret:
            out.append("google")
        return out
