"""Light pages for a border post's slow link, measured in a real Chromium with the demo data.

- After the first load (static files now in the browser's cache), every page of each demo role's
  navigation transfers at most 150 KB, counted from Chromium's own network events (bytes on the wire,
  headers included), and static files are not fetched again.
- On a link throttled to 256 kbit/s each way with 300 ms latency (Chromium's network emulation), the
  officer's queue and capture pages are ready, their main table or form visible, within 3 s.
"""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from tests.e2e.test_navigation_fit import sign_in_demo
from tip_cases import demo
from tip_cases.extensions import db
from tip_cases.models import User

pytestmark = pytest.mark.e2e

BUDGET = 150 * 1024
ROLES = ("officer", "investigator", "manager", "admin")
NAV_LINKS = """() => [...document.querySelectorAll('[data-testid="main-nav"] a[data-testid^="nav-"]')]
  .map(a => a.getAttribute('href')).filter(h => h && h.startsWith('/'))"""
SLOW = {"offline": False, "latency": 300, "downloadThroughput": 32000, "uploadThroughput": 32000}


class Traffic:
    """Bytes Chromium received per request, from the DevTools protocol's Network events."""

    def __init__(self, page):
        self.cdp = page.context.new_cdp_session(page)
        self.cdp.send("Network.enable")
        self.urls, self.bytes, self.cached = {}, {}, set()
        self.cdp.on("Network.requestWillBeSent", lambda e: self.urls.__setitem__(e["requestId"], e["request"]["url"]))
        self.cdp.on("Network.requestServedFromCache", lambda e: self.cached.add(e["requestId"]))
        self.cdp.on("Network.loadingFinished",
                    lambda e: self.bytes.__setitem__(e["requestId"], e["encodedDataLength"]))

    def reset(self):
        self.urls.clear()
        self.bytes.clear()
        self.cached.clear()

    def fetched(self) -> dict[str, int]:
        """URL -> bytes over the network (requests answered from the browser's cache count 0)."""
        return {self.urls.get(r, r): n for r, n in self.bytes.items() if r not in self.cached}


@pytest.fixture
def demo_data(app):
    demo.load()
    db.session.commit()


@pytest.mark.parametrize("locale", ["en", "st"])
def test_every_navigation_page_after_the_first_transfers_at_most_150_kb(app, demo_data, live_server, browser,
                                                                          locale):
    for user in db.session.execute(select(User).where(User.username.in_(ROLES))).scalars():
        user.locale = locale
    db.session.commit()
    report, too_heavy, static_refetched = [], [], []
    for username in ROLES:
        context = browser.new_context(viewport={"width": 1366, "height": 768})
        page = context.new_page()
        page.set_default_timeout(20000)
        traffic = Traffic(page)
        sign_in_demo(page, live_server, username)  # the first load: static files reach the cache here
        seen = {u for u in traffic.fetched() if "/static/" in u}
        assert any("bootstrap.min.css" in u for u in seen), seen
        paths = list(dict.fromkeys(["/", *page.evaluate(NAV_LINKS)]))
        assert len(paths) >= 4, (username, paths)
        for path in paths:
            traffic.reset()
            resp = page.goto(live_server + path, wait_until="load")
            assert resp.status == 200, (username, path, resp.status)
            page.wait_for_load_state("networkidle")
            fetched = traffic.fetched()
            total = sum(fetched.values())
            assert fetched, (username, path, "no network traffic seen: the measurement is broken")
            report.append(f"{locale} {username} {path}: {total / 1024:.1f} KB in {len(fetched)} request(s)")
            if total > BUDGET:
                too_heavy.append(f"{username} {path}: {total / 1024:.1f} KB {fetched}")
            # A page's own script may come on its first visit; nothing already fetched may come again.
            static_refetched += [f"{username} {path}: {u}" for u in fetched if u in seen]
            seen |= {u for u in fetched if "/static/" in u}
        context.close()
    print("\n".join(report))
    assert not too_heavy, "\n".join(too_heavy)
    assert not static_refetched, "static files fetched again instead of from the cache:\n" + \
        "\n".join(static_refetched)


def test_static_files_are_cached_and_versioned(app, live_server, client):
    """A static file is cacheable for a year under a URL that changes with its content."""
    import requests

    html = requests.get(live_server + "/login", timeout=10).text
    for needle in ("/static/app.css?v=", "/bootstrap/static/css/bootstrap.min.css?v="):
        assert needle in html, needle
    start = html.index("/static/app.css?v=")
    url = html[start:html.index('"', start)]
    resp = requests.get(live_server + url, timeout=10)
    assert resp.status_code == 200 and "max-age=31536000" in resp.headers["Cache-Control"], resp.headers
    assert "no-store" not in resp.headers["Cache-Control"]
    page = requests.get(live_server + "/login", timeout=10)
    assert "max-age=31536000" not in page.headers.get("Cache-Control", "")  # pages are never cached so


@pytest.mark.parametrize("path,ready", [("/screening/queue", "main table"),
                                        ("/screening/capture", "form[data-capture] textarea[name=mrz]")])
def test_officer_pages_ready_within_3_s_on_256_kbit_300_ms(app, demo_data, live_server, browser, path, ready):
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    page = context.new_page()
    page.set_default_timeout(20000)
    traffic = Traffic(page)
    sign_in_demo(page, live_server, "officer")  # first load on the fast link, as the day's first page would be
    traffic.cdp.send("Network.emulateNetworkConditions", SLOW)
    # The throttle is real: a 100 KB body could not arrive in under 3 s at 32000 bytes/s.
    traffic.reset()
    start = time.monotonic()
    page.goto(live_server + path, wait_until="domcontentloaded")
    page.locator(ready).first.wait_for(state="visible", timeout=10000)
    elapsed = time.monotonic() - start
    total = sum(traffic.fetched().values())
    print(f"{path}: ready in {elapsed:.2f} s over 256 kbit/s + 300 ms, {total / 1024:.1f} KB transferred")
    assert elapsed >= 0.3, "the 300 ms latency was not applied"
    assert elapsed <= 3.0, f"{path} ready after {elapsed:.2f} s"
    context.close()
