"""Each role signs in through a real browser with its second factor and reaches its home page."""

from __future__ import annotations

import pytest

from tests import factories

pytestmark = pytest.mark.e2e

HOME_HEADINGS = {
    "border_officer": "Border post: Maseru Bridge",
    "investigator": "Investigations",
    "manager": "Management overview",
    "admin": "Administration",
}


def sign_in(page, base, user):
    page.goto(base + "/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/verify**")
    page.get_by_label("6-digit code").fill(factories.next_totp(user))
    page.get_by_role("button", name="Verify").click()


@pytest.mark.parametrize("role", list(HOME_HEADINGS))
def test_role_signs_in_with_second_factor(app, live_server, page, role):
    user = factories.make_user(role)
    sign_in(page, live_server, user)
    heading = page.get_by_test_id("home-heading")
    assert HOME_HEADINGS[role] in heading.inner_text()
    assert role.replace("_", " ") in page.get_by_test_id("whoami").inner_text()
    # The navigation offers only what the role may do.
    nav = page.get_by_test_id("main-nav")
    assert (nav.get_by_test_id("nav-people").count() == 1) == (role == "admin")
    assert (nav.get_by_test_id("nav-audit").count() == 1) == (role in ("admin", "manager"))
    # Signing out really ends the session.
    page.get_by_role("button", name="Sign out").click()
    page.goto(live_server + "/")
    assert "/login" in page.url


def test_wrong_code_is_explained(app, live_server, page):
    user = factories.make_user("investigator")
    page.goto(live_server + "/login")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(factories.PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_label("6-digit code").fill("123456")
    page.get_by_role("button", name="Verify").click()
    assert "not valid" in page.locator("main").inner_text()
