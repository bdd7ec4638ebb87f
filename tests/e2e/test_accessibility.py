"""axe-core (pinned in package.json, installed by `make test`) finds no serious or critical accessibility
violation on any main page of any demo role, in English and in Sesotho, in a real Chromium with the demo
data; and every chart on a page keeps a data table beside it (a screen reader reads the table)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.conftest import IN_CI
from tests.e2e.test_navigation_fit import sign_in_demo
from tip_cases import demo
from tip_cases.extensions import db
from tip_cases.models import User

pytestmark = pytest.mark.e2e

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}

# Pages every role reaches beyond its navigation bar: a record of each kind found by following the first
# link of its list, the search results and the language page. A role that may not open the list is skipped.
DETAILS = [
    ("/screening/queue?status=all", r"/screening/flags/\d+$"),
    ("/screening/crossings", r"/screening/crossings/\d+$"),
    ("/cases/", r"/cases/\d+$"),
    ("/tracing/travellers", r"/tracing/travellers/\d+$"),
    ("/screening/persons", r"/screening/persons/\d+$"),
]
EXTRA = ["/search?q=Mokoena", "/account/language"]

NAV_LINKS = """() => [...document.querySelectorAll('[data-testid="main-nav"] a[data-testid^="nav-"]')]
  .map(a => a.getAttribute('href')).filter(h => h && h.startsWith('/'))"""

LINKS = "() => [...document.querySelectorAll('main a[href]')].map(a => a.getAttribute('href'))"

# Closed <details> (the "More" menu, folded tables) are opened first so that axe checks what they hold.
RUN_AXE = """async () => {
  document.querySelectorAll('details').forEach(d => { d.open = true; });
  const r = await axe.run(document, {resultTypes: ['violations']});
  return r.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
    targets: v.nodes.map(n => n.target.join(' ')).slice(0, 5)}));
}"""

CHARTS = """() => [...document.querySelectorAll('svg.tsela-chart')].map(svg => {
  const box = svg.closest('section');
  const table = box && box.querySelector('table');
  return {name: svg.getAttribute('aria-label') || (svg.querySelector('title') || {}).textContent || '',
          table: !!table, rows: table ? table.querySelectorAll('tbody tr').length : 0,
          caption: table && table.caption ? table.caption.textContent.trim() : ''};
})"""

LOCALES = {"en": ["officer", "investigator", "manager", "admin"], "st": ["officer", "investigator", "manager", "admin"]}


@pytest.fixture
def axe_script():
    if not AXE.exists():
        message = f"{AXE} missing: `make test` installs it (npm ci, from package.json)"
        if IN_CI:
            pytest.fail("CI=true requires the accessibility test to run: " + message)
        pytest.skip(message)
    return AXE


def pages_of(page, base) -> list[str]:
    """Home, every link of the role's navigation (More included), one record of each kind it may open."""
    paths = ["/", *page.evaluate(NAV_LINKS)]
    for listing, pattern in DETAILS:
        resp = page.goto(base + listing)
        if resp.status != 200:
            continue
        first = next((h for h in page.evaluate(LINKS) if re.search(pattern, h.split("?")[0])), None)
        if first:
            paths.append(first)
    paths += [p for p in EXTRA if page.goto(base + p).status == 200]  # search needs its own permission
    return list(dict.fromkeys(paths))


@pytest.mark.parametrize("locale", sorted(LOCALES))
def test_no_serious_violation_on_any_page_of_any_role(app, live_server, browser, axe_script, locale):
    demo.load()
    for user in db.session.execute(select(User).where(User.username.in_(LOCALES[locale]))).scalars():
        user.locale = locale
    db.session.commit()
    violations, checked, charts = [], [], 0
    for username in LOCALES[locale]:
        # The app's CSP forbids inline scripts; only this test's own context lets axe's be injected.
        context = browser.new_context(viewport={"width": 1366, "height": 768}, bypass_csp=True)
        page = context.new_page()
        page.set_default_timeout(20000)
        sign_in_demo(page, live_server, username)
        paths = pages_of(page, live_server)
        kinds = {p.split("?")[0].rstrip("0123456789") for p in paths}
        for must in ("/", "/account/language", *(("/search",) if username in ("investigator", "manager") else ())):
            assert must in kinds, (username, must, paths)
        for path in paths:
            resp = page.goto(live_server + path)
            assert resp.status == 200, (username, path, resp.status)
            assert page.get_attribute("html", "lang") == locale, (username, path)
            page.add_script_tag(path=str(axe_script))
            found = page.evaluate(RUN_AXE)
            checked.append(f"{locale} {username} {path}: {len(found)} violation(s) "
                           f"{sorted({v['id'] + '/' + str(v['impact']) for v in found})}")
            violations += [f"{locale} {username} {path}: {v['id']} ({v['impact']}) {v['help']} at {v['targets']}"
                           for v in found if v["impact"] in BLOCKING]
            for chart in page.evaluate(CHARTS):
                charts += 1
                assert chart["name"], (username, path, "chart without an accessible name", chart)
                assert chart["table"] and chart["rows"] >= 1 and chart["caption"], \
                    (username, path, "chart without its data table", chart)
        context.close()
    print("\n".join(checked))
    assert len(checked) >= 40, checked  # every role's pages were really visited
    assert charts >= 3, "the dashboard, statistics and match model charts were checked"
    assert not violations, "\n".join(violations)


def test_axe_reports_a_violation_it_is_shown(app, live_server, browser, axe_script):
    """The check can fail: a page with an unlabelled field and low-contrast text is reported serious."""
    context = browser.new_context(bypass_csp=True)
    page = context.new_page()
    page.goto(live_server + "/healthz")
    page.set_content('<html lang="en"><body><main><h1>x</h1><input type="text">'
                     '<p style="color:#ccc;background:#fff">faint</p></main></body></html>')
    page.add_script_tag(path=str(axe_script))
    found = {v["id"]: v["impact"] for v in page.evaluate(RUN_AXE)}
    context.close()
    assert found.get("label") in BLOCKING and found.get("color-contrast") in BLOCKING, found
