"""The border API with hostile bodies: a 4xx naming the field, never a 500; a post-bound client stays in its post."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.factories import make_api_client
from tests.screening.builders import crossing_item
from tip_cases.extensions import db
from tip_cases.models import AuditEvent

BODIES = [
    b"", b"null", b"[]", b"42", b'"text"', b"\xff\xfe\x00garbage", b'{"crossings": "no"}',
    b'{"crossings": [1, "x", null, []]}', b'{"crossings": [{"surname": 5, "date_of_birth": ["x"]}]}',
    b'{"crossings": [{"external_id": "' + b"x" * 100000 + b'"}]}',
    b'{"crossings": [{"external_id": "a", "crossed_at": "2026-02-31T10:00:00Z", "surname": "A",'
    b' "direction": "sideways", "date_of_birth": "9999-99-99"}]}',
    b'{"crossings": [{"external_id": "a", "crossed_at": 1e309}]}',
    b"{" * 5000,
]


@pytest.mark.parametrize("body", BODIES, ids=range(len(BODIES)))
def test_hostile_crossing_batches_answer_4xx_or_per_item_rejections(app, client, body):
    _, token = make_api_client(post_code="MSB")
    resp = client.post("/api/v1/crossings", data=body, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code in (200, 400, 413, 422), resp.status_code
    payload = resp.get_json()
    if resp.status_code == 200:
        assert payload["accepted"] == 0 and all(r["errors"] for r in payload["results"])
    else:
        assert payload["errors"] and all(e["field"] for e in payload["errors"])


@pytest.mark.parametrize("body", [b"", b"[]", b'{"decision": 5}', b'{"decision": "confirmed", "reason": ["x"]}',
                                  b'{"decision": "nonsense"}', b"\xff"])
def test_hostile_flag_reviews_answer_4xx(app, client, body):
    from tests.cases.builders import make_flag

    flag = make_flag(status="new")
    _, token = make_api_client(post_code="MSB")
    resp = client.post(f"/api/v1/flags/{flag.id}/review", data=body, content_type="application/json",
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code in (400, 422), resp.status_code
    assert resp.get_json()["errors"]


def test_a_post_bound_client_cannot_store_crossings_for_another_post(app, client):
    _, token = make_api_client(post_code="MSB")
    resp = client.post("/api/v1/crossings", json={"crossings": [crossing_item("other-post", post_code="MPB")]},
                       headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 200
    [result] = resp.get_json()["results"]
    assert result["status"] == "rejected" and result["errors"][0]["field"] == "crossings[0].border_post"


def test_api_reads_and_writes_of_crossings_are_audited(app, client):
    _, token = make_api_client(post_code="MSB")
    auth = {"Authorization": f"Bearer {token}"}
    resp = client.post("/api/v1/crossings", json={"crossings": [crossing_item("audited-1")]}, headers=auth)
    crossing_id = resp.get_json()["results"][0]["crossing_id"]
    assert client.get(f"/api/v1/crossings/{crossing_id}", headers=auth).status_code == 200
    actions = db.session.execute(select(AuditEvent.action).where(AuditEvent.object_type == "crossing",
                                                                 AuditEvent.object_id == str(crossing_id))).scalars()
    assert {"crossing.create", "crossing.view"} <= set(actions)


@pytest.mark.parametrize("subject", ["case/abc", "case/²", "case/99999999999999999999", "channel/²",
                                     "channel/99999999999999999999", "nope/1", "flag/-1"])
def test_notification_links_with_forged_subjects_go_home_not_500(app, client, login_as, subject):
    resp = login_as("manager").get(f"/notifications/go/{subject}")
    assert resp.status_code == 302
    assert resp.headers["Location"].endswith("/") or "/cases/" in resp.headers["Location"]


def test_notification_link_to_a_case_still_resolves(app, client, login_as):
    resp = login_as("manager").get("/notifications/go/case/7")
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/cases/7")


@pytest.mark.parametrize("body,field", [
    ({"title": ["x"]}, "title"), ({"title": "x" * 5000}, "title"), ({"summary": {"a": 1}}, "summary"),
    ({"summary": "y" * 100_000}, "summary"), ({"title": None}, "title"), ({"priority": ["urgent"]}, "priority"),
    ({"kind": 7}, "kind"), ({"version": -1}, "version"), ({"version": 10**30}, "version"),
    ({"version": "abc"}, "version")])
def test_json_case_edit_with_wrong_types_is_422_naming_the_field(app, client, login_as, body, field):
    from tests.cases.builders import make_case
    from tests.conftest import csrf_from

    browser = login_as("manager")
    case = make_case()
    token = csrf_from(browser.get(f"/cases/{case.id}/edit").get_data(as_text=True))
    resp = browser.client.patch(f"/cases/{case.id}", json={"version": case.version, **body},
                                headers={"X-CSRFToken": token})
    assert resp.status_code == 422, resp.get_data(as_text=True)[:300]
    assert resp.get_json()["field"] == field


@pytest.mark.parametrize("url", [
    "/cases/new?flag=99999999999999999999", "/cases/new?flag=²", "/cases/1/persons/new?person=99999999999999999999",
    "/cases/1/persons/new?person=²", "/notifications/outbox?agency=99999999999999999999",
    "/notifications/outbox?agency=-5", "/reports/?days=99999999999999999999", "/cases/?page=99999999999999999999",
    "/screening/queue?page=99999999999999999999"])
def test_hostile_query_ids_are_ignored_or_404_never_500(app, client, login_as, url):
    from tests.cases.builders import make_case

    make_case()
    resp = login_as("manager").get(url)
    assert resp.status_code in (200, 302, 404), (url, resp.status_code)


def test_traveller_search_with_a_unicode_digit_is_not_500(app, client, login_as):
    """'²'.isdigit() is True but int('²') fails: search treats it as text."""
    resp = login_as("manager").get("/tracing/travellers?q=²")
    assert resp.status_code == 200 and "Travellers" in resp.get_data(as_text=True)
