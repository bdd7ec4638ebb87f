"""A hostile crawl of every page route, per demo role, against a real gunicorn in production configuration.

Generated from app.url_map: every GET page and POST form, with path ids filled with real records of
each kind and with hostile ids; every form is fetched, its CSRF token taken, and submitted with hostile
values in every field, as is every query parameter. Each answer must be a non-5xx, and no HTML answer
may carry the raw script marker. A canary person and crossing with unique names are viewed and
searched throughout; afterwards no gunicorn log (access, error, stderr) may name them.

It prints "attack crawl: N requests, F failures" per role and in total, and writes the counts to
ATTACK_CRAWL_REPORT (default: instance/attack-crawl-<backend>.json) so the issue note can quote them.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import pyotp
import requests
from sqlalchemy import text

from tests.screening.builders import make_person
from tests.security.formparse import forms_of
from tests.security.test_production_server import ROOT, Visitor, _production_env, gunicorn
from tests.tracing.builders import arrive
from tip_cases import demo
from tip_cases.extensions import db

MARKER = "<script>alert(1)</script>"
HOSTILE_VALUES = {
    "script": MARKER,
    "sql": "' OR 1=1--",
    "nul": "a\x00b",
    "surrogate": "\ud800",  # sent percent-encoded as %ED%A0%80
    "long": "L" * 100_000,
    "date_zero": "0000-00-00",
    "date_far": "9999-12-31",
    "date_not_leap": "1900-02-29",
}
HOSTILE_IDS = ["-1", "0", "99999999999999999999", "abc", "%00", "../"]
# Roles crawled, by demo account; admin last, since its forms act on accounts.
ROLES = {"border_officer": "officer", "investigator": "investigator", "manager": "manager", "admin": "admin"}
# Where each integer path argument finds a real record of its kind.
ARG_TABLES = {"case_id": "cases", "cp_id": "case_persons", "evidence_id": "case_evidence", "task_id": "case_tasks",
              "consent_id": "case_consents", "referral_id": "case_referrals", "request_id": "case_closure_requests",
              "flag_id": "flags", "crossing_id": "crossings", "person_id": "persons", "traveller_id": "travellers",
              "post_id": "border_posts", "user_id": "users", "agency_id": "notification_agencies",
              "channel_id": "notification_channels", "outbox_id": "notification_outbox",
              "mail_id": "notification_mailbox", "profile_id": "notification_profiles",
              "rule_id": "notification_rules"}
SKIP_ENDPOINTS = {"static", "bootstrap.static", "auth.logout", "main.health"}
SKIP_ACTIONS = ("/logout",)
CANARY = {"surname": "Qzvarnakel", "given": "Yllowentra", "document": "QZ7391046"}
QUERY_PARAMS = ("q", "page", "post", "status", "from", "to", "days", "kind", "sort", "next")
# A form's fields, 8 at a time, carry the 100k-character value: well under the 1 MB body limit.
LONG_FIELDS_PER_REQUEST = 8


def _encode(data: dict[str, str]) -> bytes:
    """urlencoded as a browser would send it; a lone surrogate becomes %ED%A0%80, which Python cannot encode."""
    return urlencode(data, encoding="utf-8", errors="surrogatepass").encode("ascii")


def _canary_and_ids() -> dict[str, int]:
    """The canary person (protective, discreet) and a crossing of theirs that raises a flag at Maseru Bridge."""
    person = make_person(CANARY["surname"], CANARY["given"], dob="2011-07-19",
                         documents=[("P", CANARY["document"], "LSO")])
    crossing = arrive(CANARY["surname"], CANARY["given"], dob="2011-07-19", sex="F", document=CANARY["document"],
                      post_code="MSB")
    ids = {}
    for arg, table in ARG_TABLES.items():
        ids[arg] = db.session.execute(text(f"SELECT min(id) FROM {table}")).scalar()  # noqa: S608 - our names
    flag = db.session.execute(text("SELECT id FROM flags WHERE crossing_id = :c"), {"c": crossing.id}).scalar()
    target = db.session.execute(text("SELECT id FROM users WHERE username = 'investigator2'")).scalar()
    ids.update(person_id=person.id, crossing_id=crossing.id, traveller_id=crossing.traveller_id,
               user_id=target, **({"flag_id": flag} if flag else {}))
    db.session.commit()
    return {k: v for k, v in ids.items() if v is not None}


def _paths(app, ids: dict[str, int]) -> list[tuple[str, str, str]]:
    """(endpoint, method, path) for every page route: real ids, then each hostile id in each id slot."""
    out = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIP_ENDPOINTS or rule.endpoint.startswith(("api.", "notifications_api.")):
            continue
        methods = sorted(rule.methods - {"HEAD", "OPTIONS"})

        def build(values, rule=rule):
            path = rule.rule
            for arg, value in values.items():
                path = re.sub(r"<(?:[^:<>]+:)?" + arg + r"(?:\([^)]*\))?>", str(value), path)
            return path

        real = {}
        for arg in rule.arguments:
            conv = type(rule._converters[arg]).__name__
            if "Integer" in conv:
                real[arg] = ids.get(arg, 1)
            elif "Any" in conv:
                real[arg] = "activate"  # the harmless one of admin.user_op's choices
            elif arg == "key":
                real[arg] = "cases"
            else:
                real[arg] = "x"
        variants = [build(real)]
        for arg in rule.arguments:
            variants += [build(real | {arg: hostile}) for hostile in HOSTILE_IDS]
        for method in methods:
            out += [(rule.endpoint, method, path) for path in dict.fromkeys(variants)]
    return out


class Crawl:
    def __init__(self, visitor: Visitor, role: str):
        self.visitor, self.role = visitor, role
        self.requests, self.failures, self.statuses = 0, [], Counter()

    def send(self, method: str, path: str, label: str, **kw) -> requests.Response | None:
        self.requests += 1
        try:
            resp = self.visitor.request(method, path, **kw)
        except requests.RequestException as exc:
            self.failures.append((self.role, method, path[:120], label, f"{type(exc).__name__}: {str(exc)[:120]}"))
            return None
        self.statuses[resp.status_code // 100 * 100] += 1
        if resp.status_code >= 500:
            self.failures.append((self.role, method, path[:120], label, resp.status_code))
        elif "html" in resp.headers.get("Content-Type", "") and MARKER in resp.text:
            self.failures.append((self.role, method, path[:120], label, "reflected the raw script marker"))
        return resp

    def hostile_queries(self, path: str, names: set[str]) -> None:
        names = (names | set(QUERY_PARAMS)) - {"csrf_token"}
        base = path.split("?")[0]
        for label, value in HOSTILE_VALUES.items():
            if label == "long":
                value = value[:6000]  # a URL beyond gunicorn's 8 KB request line is refused before the app
                for name in names:
                    self.send("GET", f"{base}?{_encode({name: value}).decode()}", f"query_{label}_{name}")
                continue
            self.send("GET", f"{base}?{_encode(dict.fromkeys(sorted(names), value)).decode()}", f"query_{label}")

    def hostile_form(self, form, token: str) -> None:
        names = [n for n in [*form.fields, *form.options] if n != "csrf_token"]
        headers = {"Content-Type": "application/x-www-form-urlencoded"}
        for label, value in HOSTILE_VALUES.items():
            groups = ([names[i:i + LONG_FIELDS_PER_REQUEST] for i in range(0, len(names), LONG_FIELDS_PER_REQUEST)]
                      if label == "long" else [names]) or [[]]
            for group in groups:
                data = {"csrf_token": token, **dict(form.fields), **dict.fromkeys(group, value)}
                if form.files:
                    files = {f: ("hostile.txt", value.encode("utf-8", "surrogatepass")) for f in form.files}
                    fields = {k: (None, v.encode("utf-8", "surrogatepass")) for k, v in data.items()}
                    self.send("POST", form.action, f"form_{label}", files={**fields, **files})
                else:
                    self.send("POST", form.action, f"form_{label}", data=_encode(data), headers=dict(headers))


def _sign_in(base: str, username: str) -> Visitor:
    visitor = Visitor(base)
    resp = visitor.submit("/login", {"username": username, "password": demo.DEMO_PASSWORD})
    assert resp.status_code == 302 and "/login/verify" in resp.headers["Location"], resp.text[:300]
    secret = next(s for u, *_rest, s in demo.DEMO_USERS if u == username)
    resp = visitor.submit("/login/verify", {"code": pyotp.TOTP(secret).now()})
    assert resp.status_code == 302 and "/login" not in resp.headers["Location"], resp.text[:300]
    return visitor


def _crawl_role(app, base: str, role: str, ids: dict[str, int]) -> Crawl:
    crawl = Crawl(_sign_in(base, ROLES[role]), role)
    pages, forms_seen = [], set()
    for _endpoint, method, path in _paths(app, ids):
        if method != "GET":
            continue
        resp = crawl.send("GET", path, "page")
        if resp is not None and resp.status_code == 200 and "html" in resp.headers.get("Content-Type", ""):
            pages.append((path, resp.text))
    # The canary is searched for wherever a search box is, and viewed by id above.
    for path in ("/screening/persons", "/screening/crossings", "/tracing/travellers", "/cases/", "/screening/queue"):
        for q in (CANARY["surname"], f"{CANARY['given']} {CANARY['surname']}", CANARY["document"]):
            crawl.send("GET", f"{path}?{urlencode({'q': q})}", "canary_search")
    for path, html in pages:
        forms = forms_of(html, urlsplit(path).path)
        get_names = {n for f in forms if f.method == "GET" for n in [*f.fields, *f.options]}
        crawl.hostile_queries(path, get_names)
        token = next((f.fields["csrf_token"] for f in forms if "csrf_token" in f.fields), None)
        for form in forms:
            key = (form.action, tuple(sorted(form.fields)), tuple(form.files))
            if form.method != "POST" or form.action.startswith(SKIP_ACTIONS) or key in forms_seen or not token:
                continue
            forms_seen.add(key)
            crawl.hostile_form(form, form.fields.get("csrf_token", token))
    # Every POST route, whether or not a page showed its form, with real and hostile ids.
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', crawl.visitor.request("GET", "/").text)[1]
    for _endpoint, method, path in _paths(app, ids):
        if method == "GET" or path.startswith(SKIP_ACTIONS):
            continue
        crawl.send(method, path, "route", data=_encode({"csrf_token": token, "q": MARKER}),
                   headers={"Content-Type": "application/x-www-form-urlencoded", "X-CSRFToken": token})
    home = crawl.visitor.request("GET", "/")
    assert home.status_code == 200, f"{role} was signed out during the crawl"  # so the crawl ran signed in
    crawl.pages, crawl.forms = len(pages), len(forms_seen)
    return crawl


def test_hostile_crawl_of_every_page_per_role_against_gunicorn(app, database_url, tmp_path):
    demo.load()
    ids = _canary_and_ids()
    env = _production_env(database_url, RATELIMIT_API="100000 per minute", RATELIMIT_SIGN_IN="1000 per minute",
                          RATELIMIT_TOTP="1000 per minute", RATELIMIT_ACK_LINK="100000 per minute",
                          NOTIFY_DEMO_RECEIVER="0")
    backend = "postgresql" if database_url.startswith("postgresql") else "sqlite"
    started = time.monotonic()
    crawls = []
    with gunicorn(env, tmp_path, ("--workers", "2", "--threads", "4")) as (base, access, error):
        for role in ROLES:
            crawl = _crawl_role(app, base, role, ids)
            crawls.append(crawl)
            print(f"attack crawl [{backend}] {role}: {crawl.requests} requests, {len(crawl.failures)} failures "
                  f"({crawl.pages} pages, {crawl.forms} forms; statuses {dict(sorted(crawl.statuses.items()))})")
    elapsed = time.monotonic() - started
    logs = {p.name: p.read_text(errors="replace") for p in (access, error, tmp_path / "stderr.log") if p.exists()}
    leaks = [(name, word) for name, body in logs.items() for word in CANARY.values() if word.lower() in body.lower()]
    tracebacks = [name for name, body in logs.items() if "Traceback" in body]
    total = sum(c.requests for c in crawls)
    failures = [f for c in crawls for f in c.failures]
    print(f"attack crawl [{backend}] total: {total} requests, {len(failures) + len(leaks)} failures "
          f"({len(leaks)} log leaks) in {elapsed:.0f} s")
    report = Path(os.environ.get("ATTACK_CRAWL_REPORT", ROOT / "instance" / f"attack-crawl-{backend}.json"))
    report.parent.mkdir(parents=True, exist_ok=True)
    report.write_text(json.dumps({
        "backend": backend, "seconds": round(elapsed), "requests": total, "failures": len(failures) + len(leaks),
        "log_leaks": len(leaks),
        "roles": {c.role: {"requests": c.requests, "failures": len(c.failures), "pages": c.pages, "forms": c.forms,
                           "statuses": {str(k): v for k, v in sorted(c.statuses.items())}} for c in crawls},
    }, indent=2))
    # The crawl really reached the app signed in, and the logs were really written.
    assert all(c.pages >= 5 and c.statuses[200] >= 20 for c in crawls), [(c.role, c.pages) for c in crawls]
    assert sum(c.forms for c in crawls) >= 20
    assert "GET /screening/persons HTTP/1.1" in logs["access.log"]
    assert not failures, "\n".join(map(str, failures[:60]))
    assert not leaks, leaks
    assert not tracebacks, {n: logs[n][logs[n].find("Traceback"):][:3000] for n in tracebacks}


def test_a_crossing_with_a_rule_based_risk_flag_renders(app, client, login_as):
    """Found by the crawl: a risk flag (no matched person, no features) made the crossing page a 500."""
    crossing = arrive(CANARY["surname"], CANARY["given"], dob="2011-07-19", sex="F", document=CANARY["document"],
                      post_code="MSB")
    risk = [f for f in crossing.flags if not f.features]
    assert risk, "the unaccompanied minor raises a rule-based flag"
    resp = login_as("investigator").get(f"/screening/crossings/{crossing.id}")
    assert resp.status_code == 200
    assert risk[0].reason in resp.get_data(as_text=True)
