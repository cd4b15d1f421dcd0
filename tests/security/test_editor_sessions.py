"""Finding 4 (issue 11): the editor could be joined to someone else's session.

A victim opening an attacker's link (``…?bokeh_session_id=<the attacker's live session>``) landed in
the attacker's Panel session, and every page carried the httpOnly ``cf_session`` cookie inside its
Bokeh token. Now a session id is bound to the browser that created it (``ui.session_binding``) and the
cookie stays on the server. Headless Chromium against the real gateway; two browser contexts are two
people.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

pytestmark = pytest.mark.browser

TOKEN = re.compile(r'"token"\s*:\s*"([A-Za-z0-9_\-\.]+)"')


def _token(html: str) -> str:
    found = TOKEN.search(html)
    assert found is not None, "no Bokeh token in the page"
    return found.group(1)


def _session_id(html: str) -> str:
    from bokeh.util.token import get_session_id

    return get_session_id(_token(html))


def _cookie(context: Any, name: str) -> str:
    [value] = [c["value"] for c in context.cookies() if c["name"] == name]
    return value


def _second_person(browser_page: Any, base: str, email: str) -> Any:
    """Another browser (its own cookies), signed up through the sign-up page."""
    from playwright.sync_api import expect

    context = browser_page.context.browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.goto(f"{base}/ui/sign-up")
    page.locator(".cf-auth-name input").fill("Victim")
    page.locator(".cf-auth-email input").fill(email)
    page.locator(".cf-auth-password input").fill("correct horse battery staple")
    page.locator(".cf-auth-submit button").click()
    page.wait_for_url(re.compile(r"/ui/workflows$"))
    expect(page.locator(".cf-user")).to_contain_text("Victim")
    return page


def test_a_victim_opening_an_attackers_editor_link_gets_a_session_of_their_own(
    live_gateway, browser_page, sign_up
):
    from playwright.sync_api import expect

    base = live_gateway.url
    attacker = browser_page
    sign_up("attacker@example.com", "Mallory")
    csrf = {"X-CSRF-Token": _cookie(attacker.context, "cf_csrf")}
    created = attacker.request.post(
        f"{base}/api/workflows", data={"name": "Mallory's private flow"}, headers=csrf
    )
    assert created.ok, created.text()
    answer = attacker.goto(f"{base}/ui/workflows")
    assert answer is not None and answer.ok
    attacker_html = answer.text()
    expect(attacker.locator("body")).to_contain_text("Mallory's private flow")
    attacker_session = _session_id(attacker_html)

    victim = _second_person(browser_page, base, "victim@example.com")
    try:
        link = f"{base}/ui/workflows?bokeh_session_id={attacker_session}"
        answer = victim.goto(link)
        assert answer is not None and answer.status == 200
        victim_html = answer.text()
        assert _session_id(victim_html) != attacker_session
        expect(victim.locator(".cf-user")).to_contain_text("Victim")
        expect(victim.locator("body")).not_to_contain_text("Mallory's private flow")
        # The attacker's page still shows the attacker's own list, untouched.
        expect(attacker.locator("body")).to_contain_text("Mallory's private flow")
        expect(attacker.locator(".cf-user")).to_contain_text("Mallory")

        # No page carries the httpOnly sign-in cookie, neither in its HTML nor in its Bokeh token.
        from bokeh.util.token import get_token_payload

        for page, html in ((attacker, attacker_html), (victim, victim_html)):
            secret = _cookie(page.context, "cf_session")
            assert secret not in html and secret not in page.content()
            payload = get_token_payload(_token(html))
            assert "cf_session" not in payload.get("cookies", {})
            assert not any(k.lower() == "cookie" for k in payload.get("headers", {}))

        # The websocket itself: the attacker's session token with the victim's cookie is refused;
        # with the attacker's own cookie it opens (the same check the browser's handshake passes).
        from websockets.exceptions import InvalidStatus
        from websockets.sync.client import connect

        ws_url = base.replace("http", "ws") + "/ui/workflows/ws"
        token = _token(attacker_html)
        with pytest.raises(InvalidStatus):
            connect(
                ws_url,
                subprotocols=["bokeh", token],  # type: ignore[list-item]
                additional_headers={
                    "Cookie": f"cf_session={_cookie(victim.context, 'cf_session')}",
                    "Origin": base,
                },
                open_timeout=30,
            )
        with connect(
            ws_url,
            subprotocols=["bokeh", token],  # type: ignore[list-item]
            additional_headers={
                "Cookie": f"cf_session={_cookie(attacker.context, 'cf_session')}",
                "Origin": base,
            },
            open_timeout=30,
        ) as ws:
            assert ws.subprotocol == "bokeh"
    finally:
        victim.context.close()


FOREIGN_OR_MALFORMED = ["x", "../../etc", "a" * 5000, "a.b", "a-b.c", "é" * 40]


def test_a_malformed_or_empty_session_id_gets_a_fresh_page_or_a_400_never_a_500(
    live_gateway, browser_page, sign_up
):
    """Empty or non-printable ids are refused (400, finding 6); any other id that is not this
    browser's own is replaced by a fresh session."""
    from playwright.sync_api import expect

    base = live_gateway.url
    sign_up("ada@example.com")
    for session_id in FOREIGN_OR_MALFORMED:
        answer = browser_page.goto(f"{base}/ui/workflows?bokeh_session_id={session_id}")
        assert answer is not None, session_id
        assert answer.status in (200, 400), (session_id, answer.status)
        if answer.status == 200:
            assert _session_id(answer.text()) != session_id
    for session_id in ("", "%00"):
        answer = browser_page.goto(f"{base}/ui/workflows?bokeh_session_id={session_id}")
        assert answer is not None and answer.status == 400, session_id
    answer = browser_page.goto(f"{base}/ui/workflows?bokeh_session_id=x")
    assert answer is not None and answer.status == 200
    expect(browser_page.locator(".cf-user")).to_contain_text("Ada Lovelace")
    # Signed out, the sign-in page too.
    anonymous = browser_page.context.browser.new_context()
    try:
        page = anonymous.new_page()
        for session_id in [*FOREIGN_OR_MALFORMED, ""]:
            answer = page.goto(f"{base}/ui/sign-in?bokeh_session_id={session_id}")
            assert answer is not None and answer.status in (200, 400), session_id
        page.goto(f"{base}/ui/sign-in?bokeh_session_id=x")
        expect(page.locator(".cf-auth-email input")).to_be_visible()
    finally:
        anonymous.close()
