"""Generated from the URL map: every route, as every role, with malformed input never answers 500."""

from __future__ import annotations

import io
import re

import pytest
from flask import url_for

from tests.conftest import csrf_from, login
from tests.factories import make_user
from tests.security.builders import make_world

SKIP = {"static", "bootstrap.static", "auth.logout"}
HUGE_ID = 99999999999999999999  # beyond BIGINT: must be a 404, not a database overflow error

# Which world record each URL argument names.
ARG_IDS = {"case_id": "case", "cp_id": "case_person", "evidence_id": "evidence", "task_id": "task",
           "flag_id": "flag", "crossing_id": "crossing", "person_id": "person", "traveller_id": "traveller",
           "agency_id": "agency", "channel_id": "channel", "rule_id": "rule", "outbox_id": "outbox",
           "consent_id": "consent", "referral_id": "referral", "request_id": "request"}

NAME_RE = re.compile(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', re.S)
FILE_RE = re.compile(r'<input[^>]*type="file"[^>]*name="([^"]+)"|<input[^>]*name="([^"]+)"[^>]*type="file"', re.S)

# Field values a careless or hostile user sends: huge, negative, out of range, wrong type, unknown choices.
VARIANTS = {
    "empty": None,
    "huge": "x" * 3000,
    "negative": "-99999999999999999999999",
    "bad_date": "2026-02-31",
    "unknown": "zz_unknown",
    "html": "<script>alert(1)</script>",
}
BAD_FILES = {
    "empty": b"",
    "binary": b"\xff\xfe\x00\x81garbage\x00\xc3(",
    "bad_csv": b"surname,given_names\n\"unterminated,\x00\n,,,,,,,,\n",
    "bad_mrz": b"P<LSOMOKOENA<<PALESA<<<<<<<<<<<<<<<<<<<<<<<<\nNOTANMRZLINE\n",
}


def _url(rule, world, *, huge=False):
    values = {}
    for arg in rule.arguments:
        conv = rule._converters[arg].__class__.__name__
        if "Integer" in conv:
            values[arg] = HUGE_ID if huge else world.ids.get(ARG_IDS.get(arg, ""), 1)
        elif "Any" in conv:
            values[arg] = "deactivate"
        elif arg == "key":
            values[arg] = "no-such-table"
        else:
            values[arg] = "zz_unknown"
    return url_for(rule.endpoint, **values)


def _payloads(names, files, token):
    for label, value in VARIANTS.items():
        data = {"csrf_token": token}
        if value is not None:
            if label == "huge":
                # Stay under the test client's 500 KB in-memory body, which it never closes once spooled.
                value = value[:max(300, 400_000 // max(len(names), 1))]
            data.update({n: value for n in names if not n.endswith("csrf_token")})
        for fname in files:
            data[fname] = (io.BytesIO(BAD_FILES["binary"]), "x.pdf")
        yield label, data
    for label, content in BAD_FILES.items():
        data = {"csrf_token": token, **{n: "" for n in names if not n.endswith("csrf_token")}}
        for fname in files or ["file", "upload", "csv"]:
            data[fname] = (io.BytesIO(content), "upload.csv")
        yield f"file_{label}", data


def _fuzz(app, browser, world, pages):
    failures = []
    token = csrf_from(browser.get("/account/password").get_data(as_text=True))

    def check(method, url, label, **kw):
        try:
            resp = browser.client.open(url, method=method, **kw)
        except Exception as exc:  # noqa: BLE001 - the point is to list every crash, not stop at the first
            failures.append((method, url, label, f"{type(exc).__name__}: {str(exc)[:160]}"))
            return None
        resp.get_data()
        resp.close()  # file downloads hold the file open until closed
        if resp.status_code >= 500:
            failures.append((method, url, label, resp.status_code))
        return resp

    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP]
    all_names: set[str] = set()
    page_names: dict[str, tuple[set[str], set[str]]] = {}
    for rule in rules:
        url = _url(rule, world)
        if "GET" in rule.methods:
            resp = check("GET", url, "plain")
            check("GET", _url(rule, world, huge=True), "huge_id")
            if resp is not None and resp.status_code == 200 and resp.mimetype == "text/html":
                html = resp.get_data(as_text=True)
                names = set(NAME_RE.findall(html))
                files = {a or b for a, b in FILE_RE.findall(html)}
                page_names[url] = (names, files)
                all_names |= names
                bad = {n: "zz_unknown" for n in names} | {"page": "-5", "per_page": "abc", "post": "ZZZ",
                                                          "from": "2026-13-45", "to": "x", "q": "x" * 5000}
                check("GET", url, "bad_query", query_string=bad)
                check("GET", url, "bad_query_huge", query_string={"page": str(HUGE_ID), "days": str(HUGE_ID)})
    for rule in rules:
        methods = sorted(rule.methods - {"GET", "HEAD", "OPTIONS"})
        for method in methods:
            url = _url(rule, world)
            names, files = page_names.get(url, (all_names, set()))
            check(method, _url(rule, world, huge=True), "huge_id", data={"csrf_token": token})
            for label, data in _payloads(names or all_names, files, token):
                check(method, url, label, data=data, content_type="multipart/form-data")
            check(method, url, "json_wrong_types", json={"version": "abc", "title": ["x"], "status": {"a": 1}},
                  headers={"X-CSRFToken": token})
            check(method, url, "not_json", data=b"\xff{not json", content_type="application/json",
                  headers={"X-CSRFToken": token})
    return failures


@pytest.mark.parametrize("role", ["border_officer", "investigator", "manager", "admin"])
def test_no_route_answers_500_to_malformed_input(app, client, role):
    world = make_world(app)
    user = world.users["owner"] if role == "investigator" else make_user(role)
    browser = login(client, user)
    failures = _fuzz(app, browser, world, pages={})
    assert not failures, "\n".join(map(str, failures))


FIELD_GARBAGE = ["x" * 3000, "-99999999999999999999999", "2026-02-31", "zz_unknown", "", "0", "1e309"]


@pytest.mark.parametrize("role", ["border_officer", "investigator", "manager", "admin"])
def test_each_form_field_alone_malformed_never_answers_500(app, client, role):
    """Submit every form on every page as the browser would, with one field at a time made hostile.

    The other fields keep their page values, so validation passes them and the bad value reaches the
    service code, where an unchecked int(), date or choice would otherwise turn into a 500.
    """
    from urllib.parse import urlsplit

    from tests.security.formparse import forms_of

    world = make_world(app)
    user = world.users["owner"] if role == "investigator" else make_user(role)
    browser = login(client, user)
    failures, seen = [], set()
    pages = [_url(r, world) for r in app.url_map.iter_rules()
             if "GET" in r.methods and r.endpoint not in SKIP and not r.endpoint.startswith("api.")]
    for page in pages:
        resp = browser.get(page)
        html = resp.get_data(as_text=True)
        resp.close()
        if resp.status_code != 200 or resp.mimetype != "text/html":
            continue
        for form in forms_of(html, urlsplit(page).path):
            if form.method != "POST" or form.action in ("/logout",) or (form.action, tuple(form.fields)) in seen:
                continue
            seen.add((form.action, tuple(form.fields)))
            for name in [n for n in form.fields if not n.endswith("csrf_token")]:
                for bad in FIELD_GARBAGE:
                    data = dict(form.fields, **{name: bad})
                    for fname in form.files:
                        data[fname] = (io.BytesIO(b"%PDF-1.4 not really"), "x.pdf")
                    try:
                        r = browser.client.post(form.action, data=data, content_type="multipart/form-data")
                        r.close()
                    except Exception as exc:  # noqa: BLE001
                        failures.append((form.action, name, bad[:20], type(exc).__name__))
                        continue
                    if r.status_code >= 500:
                        failures.append((form.action, name, bad[:20], r.status_code))
    assert len(seen) > (1 if role == "border_officer" else 15)
    assert not failures, "\n".join(map(str, failures))
