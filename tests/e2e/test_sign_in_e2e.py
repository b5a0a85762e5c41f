"""End to end in headless Chromium: with ``DESK_AUTH=on`` the desk asks for sign-in.

Starts the whole desk the way ``make run`` does, with ``DESK_AUTH=on`` and a users file
(``DESK_USERS``). The very first request of the fresh server names a page URL (``/risk``),
which Streamlit may run without the entrypoint: it must still show only the sign-in form.
Then on Home: a wrong password is refused with a message, the right one shows Home.
"""

from __future__ import annotations

import pytest

from app.ops.sign_in import make_hash_line
from tests.e2e.desk import ROOT, launch_chromium, running_desk

pytestmark = pytest.mark.e2e

ARTIFACTS = ROOT / "artifacts"
PASSWORD = "e2e-paper-desk-pass"


def _sign_in(page, user: str, password: str) -> None:
    page.get_by_label("User").fill(user)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_sign_in_required_wrong_password_refused_right_one_shows_home(tmp_path):
    from playwright.sync_api import expect, sync_playwright

    users = tmp_path / "users"
    users.write_text(make_hash_line("trader", PASSWORD) + "\n")
    env = {"DESK_AUTH": "on", "DESK_USERS": str(users), "DESK_SIGNIN_MAX_FAILURES": "5"}
    with running_desk(tmp_path / "state", extra_env=env) as desk, sync_playwright() as p:
        browser = launch_chromium(p)
        try:
            first = browser.new_page(viewport={"width": 1400, "height": 900})
            first.goto(f"{desk.url}/risk")  # the fresh server's first request names a page
            expect(first.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
            expect(first.get_by_role("button", name="Sign in")).to_be_visible()
            assert first.get_by_role("heading", name="Risk").count() == 0
            assert first.get_by_text("Kill switch").count() == 0
            first.close()

            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(desk.url)
            expect(page.get_by_role("heading", name="Sign in")).to_be_visible(timeout=60_000)
            assert page.get_by_role("heading", name="Home", exact=True).count() == 0
            assert page.get_by_role("link", name="Approvals").count() == 0  # navigation hidden

            _sign_in(page, "trader", "not-the-password")
            expect(page.get_by_text("Wrong user name or password")).to_be_visible(timeout=30_000)
            assert page.get_by_role("heading", name="Home", exact=True).count() == 0
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "sign_in_e2e_refused.png"), full_page=True)

            _sign_in(page, "trader", PASSWORD)
            expect(page.get_by_role("heading", name="Home", exact=True)).to_be_visible(timeout=60_000)
            expect(page.get_by_text("Signed in as")).to_be_visible(timeout=30_000)
            expect(page.get_by_role("button", name="Sign out")).to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "sign_in_e2e_home.png"), full_page=True)
            log = desk.log.read_text()
            assert PASSWORD not in log and "not-the-password" not in log
        finally:
            browser.close()
