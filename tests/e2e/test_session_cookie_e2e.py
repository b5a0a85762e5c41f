"""End to end in headless Chromium: a sign-in survives a reload through an HttpOnly cookie, and
sign-out revokes it server-side.

The whole desk runs the way ``make run`` does, with ``DESK_AUTH=on`` and a users file. Signed
in, the browser holds ``paperdesk_session`` (HttpOnly, SameSite=Lax, expiring), and a reload
shows Home again. Sign out, reload: the sign-in form. The old cookie value put into a fresh
browser context (a copied cookie) is signed out too, because its session is gone from Redis.
"""

from __future__ import annotations

import time

import pytest

from app.ops.session_cookie import COOKIE_NAME
from app.ops.sign_in import make_hash_line
from tests.e2e.desk import launch_chromium, running_desk

pytestmark = pytest.mark.e2e

PASSWORD = "e2e-cookie-desk-pass"
VIEWPORT = {"width": 1400, "height": 900}


def _session_cookies(context) -> list[dict]:
    return [c for c in context.cookies() if c["name"] == COOKIE_NAME]


def _expect_sign_in_form(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
    assert page.get_by_role("heading", name="Home", exact=True).count() == 0


def _expect_home_signed_in(page) -> None:
    from playwright.sync_api import expect

    expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=60_000)
    expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)


def _wait_for_cookie(context, timeout_s: float = 30) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        found = _session_cookies(context)
        if found:
            return found[0]
        time.sleep(0.2)
    raise AssertionError(f"no {COOKIE_NAME} cookie after sign-in; cookies: {context.cookies()}")


def _document_cookie(page, timeout_s: float = 30) -> str:
    """``document.cookie`` as the page's scripts see it, once the sign-in's own reload is over.

    The page reloads itself right after the browser swaps the one-time code for the cookie, so
    the cookie can appear while that navigation is under way; an evaluate then loses its
    execution context and is tried again on the reloaded page.
    """
    from playwright.sync_api import Error

    deadline = time.monotonic() + timeout_s
    while True:
        try:
            page.wait_for_load_state("load")
            return page.evaluate("document.cookie")
        except Error as exc:
            if "Execution context was destroyed" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_sign_in_survives_reload_and_sign_out_revokes_the_cookie(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    users = tmp_path / "users"
    users.write_text(make_hash_line("trader", PASSWORD) + "\n")
    env = {"DESK_AUTH": "on", "DESK_USERS": str(users), "DESK_SESSION_HOURS": "12"}
    with running_desk(tmp_path / "state", extra_env=env) as desk, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            page.goto(desk.url)
            _expect_sign_in_form(page)
            page.get_by_label("User").fill("trader")
            page.get_by_label("Password", exact=True).fill(PASSWORD)
            page.get_by_role("button", name="Sign in").click()
            _expect_home_signed_in(page)

            cookie = _wait_for_cookie(context)
            assert cookie["httpOnly"] is True and cookie["sameSite"] == "Lax" and cookie["path"] == "/"
            lifetime = cookie["expires"] - time.time()
            assert 11.9 * 3600 < lifetime <= 12 * 3600 + 60, lifetime  # expiring, DESK_SESSION_HOURS
            assert _document_cookie(page).find(COOKIE_NAME) == -1  # scripts cannot read it
            assert PASSWORD not in cookie["value"]
            old_value = cookie["value"]

            page.reload()
            _expect_home_signed_in(page)  # still signed in after a reload
            page.goto(f"{desk.url}/risk")
            expect(page.get_by_role("heading", name="Risk", exact=True)).to_be_visible(timeout=60_000)

            page.get_by_role("button", name="Sign out").click()
            _expect_sign_in_form(page)
            expect(page.get_by_text("You have signed out.")).to_be_visible(timeout=30_000)
            page.reload()
            _expect_sign_in_form(page)  # signed out stays signed out

            copied = browser.new_context(viewport=VIEWPORT)
            copied.add_cookies([{"name": COOKIE_NAME, "value": old_value, "url": desk.url}])
            thief = copied.new_page()
            thief.goto(desk.url)
            _expect_sign_in_form(thief)  # the old cookie's session was revoked server-side
            assert thief.get_by_text("Signed in as").count() == 0

            forged = browser.new_context(viewport=VIEWPORT)
            forged.add_cookies([{"name": COOKIE_NAME, "value": old_value[:-4] + "AAAA", "url": desk.url}])
            other = forged.new_page()
            other.goto(desk.url)
            _expect_sign_in_form(other)  # a tampered signature is refused
            log = desk.log.read_text()
            assert PASSWORD not in log and old_value not in log
        finally:
            browser.close()
