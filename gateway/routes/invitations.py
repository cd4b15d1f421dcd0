"""``/api/invitations``: administrators invite people to sign up (``CONNECTFLOW_SIGNUP=invite``).

An invitation is a link bound to one e-mail address, usable once, expiring after
``CONNECTFLOW_INVITATION_DAYS``; its token is shown only in the answer that created it. Members get
404 on every route here, like for another user's object. E-mailing the link is up to the admin.
"""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, HTTPException, Request, Response

from connectflow_dagster.config import get_settings
from connectflow_dagster.store.invitations import create_invitation, delete_invitation, list_invitations
from connectflow_dagster.store.models import Invitation
from gateway.deps import AdminUser, SessionDep
from gateway.schemas.auth import InvitationCreate, InvitationPublic, InvitationsPublic

router = APIRouter(prefix="/api/invitations", tags=["auth"])


def _public(row: Invitation, url: str | None = None) -> InvitationPublic:
    return InvitationPublic(
        id=row.id,
        email=row.email,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used=row.used_at is not None,
        url=url,
    )


@router.post("", status_code=201, response_model=InvitationPublic)
def invite(
    body: InvitationCreate, request: Request, session: SessionDep, admin: AdminUser
) -> InvitationPublic:
    """Create a sign-up link for one address (shown once: hand it to the person)."""
    days = request.app.state.gateway_settings.invitation_days
    new = create_invitation(session, admin.id, body.email, ttl=dt.timedelta(days=days))
    session.commit()
    base = (get_settings().public_url or str(request.base_url)).rstrip("/")
    return _public(new.invitation, f"{base}/ui/sign-up?invitation={new.token}")


@router.get("", response_model=InvitationsPublic)
def invitations(session: SessionDep, admin: AdminUser) -> InvitationsPublic:
    """Every invitation, newest first, without their links."""
    rows = list_invitations(session)
    return InvitationsPublic(data=[_public(r) for r in rows], count=len(rows))


@router.delete("/{invitation_id}", status_code=204)
def revoke(invitation_id: str, session: SessionDep, admin: AdminUser) -> Response:
    """Revoke an invitation (its link stops working)."""
    if not delete_invitation(session, invitation_id):
        raise HTTPException(404, f"invitation '{invitation_id}' not found")
    session.commit()
    return Response(status_code=204)
