"""At 1366x768, a border-post laptop's screen, every demo role's navigation is one line and no page
overflows sideways: measured in a real Chromium on each role's home and main pages, with the demo data,
in English and in Sesotho (whose words are longer)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests import factories
from tip_cases import demo
from tip_cases.extensions import db
from tip_cases.models import User

pytestmark = pytest.mark.e2e

WIDTH, HEIGHT = 1366, 768

# The demo accounts (README) and the main pages each role reaches from its navigation.
ROLES = {
    "officer": ["/", "/screening/queue", "/screening/capture", "/screening/crossings"],
    "investigator": ["/", "/cases/", "/tracing/travellers", "/tracing/patterns", "/screening/trace"],
    "manager": ["/", "/reports/", "/reports/statistics", "/reports/export/cases", "/cases/?saved=awaiting"],
    "admin": ["/", "/admin/users", "/admin/posts", "/notifications/agencies", "/admin/audit",
              "/notifications/jobs"],
}

MEASURE = """() => {
  const nav = document.querySelector('[data-testid="main-nav"]');
  const sel = '.navbar-brand, .nav-link, .nav-more summary, [data-testid="whoami"], .nav-account .btn';
  const items = [...nav.querySelectorAll(sel)]
    .filter(e => e.offsetParent !== null);
  const tops = items.map(e => Math.round(e.getBoundingClientRect().top + e.getBoundingClientRect().height / 2));
  return {navHeight: nav.getBoundingClientRect().height, lines: new Set(tops.map(t => Math.round(t / 8))).size,
          spread: Math.max(...tops) - Math.min(...tops), count: items.length,
          scrollWidth: document.documentElement.scrollWidth,
          navRight: Math.max(...items.map(e => e.getBoundingClientRect().right))};
}"""


def sign_in_demo(page, base, username):
    user = db.session.execute(select(User).where(User.username == username)).scalar_one()
    page.goto(base + "/login")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(demo.DEMO_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/login/verify**")
    page.get_by_label("6-digit code").fill(factories.next_totp(user))
    page.get_by_role("button", name="Verify").click()
    page.get_by_test_id("home-heading").wait_for()


@pytest.fixture
def demo_data(app):
    demo.load()
    db.session.commit()


@pytest.mark.parametrize("locale", ["en", "st"])
def test_each_roles_pages_fit_a_border_laptop_screen(app, demo_data, live_server, browser, locale):
    for user in db.session.execute(select(User).where(User.username.in_(ROLES))).scalars():
        user.locale = locale
    db.session.commit()
    problems, measured = [], []
    for username, paths in ROLES.items():
        context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
        page = context.new_page()
        page.set_default_timeout(20000)
        sign_in_demo(page, live_server, username)
        for path in paths:
            resp = page.goto(live_server + path)
            assert resp.status == 200, (username, path, resp.status)
            assert page.get_attribute("html", "lang") == locale, (username, path)
            m = page.evaluate(MEASURE)
            measured.append(f"{locale} {username} {path}: nav {m['navHeight']:.0f}px high, "
                            f"items spread {m['spread']}px, page {m['scrollWidth']}px wide")
            assert m["count"] >= 5, (username, path, m)  # the bar is really laid out horizontally
            if m["spread"] > 6 or m["navHeight"] > 64:
                problems.append(f"{username} {path}: navigation on more than one line {m}")
            if m["scrollWidth"] > WIDTH or m["navRight"] > WIDTH:
                problems.append(f"{username} {path}: wider than {WIDTH}px {m}")
        context.close()
    print("\n".join(measured))
    assert not problems, "\n".join(problems)


def test_more_menu_opens_from_the_keyboard(app, demo_data, live_server, browser):
    context = browser.new_context(viewport={"width": WIDTH, "height": HEIGHT})
    page = context.new_page()
    sign_in_demo(page, live_server, "manager")
    more = page.get_by_test_id("nav-more")
    assert not page.get_by_test_id("nav-audit").is_visible()
    more.locator("summary").focus()
    page.keyboard.press("Enter")
    assert page.get_by_test_id("nav-audit").is_visible()
    # The open menu stays inside the screen.
    box = page.locator(".nav-more-menu").bounding_box()
    assert box["x"] + box["width"] <= WIDTH
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.testid") == "nav-cases"
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert page.url.startswith(live_server + "/cases/")  # the first "More" entry for a manager: Cases
    context.close()
