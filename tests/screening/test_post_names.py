"""Feeds' own spellings of post names resolve to the post; a doubtful one is refused per item, saying why."""

from __future__ import annotations

import io
import json

from sqlalchemy import select

from screening import services
from screening.models import Crossing
from tests import factories
from tests.conftest import csrf_from
from tests.screening.builders import crossing_item
from tip_cases.models import AuditEvent, BorderPost, PostAlias


def _post_batch(client, token, items):
    return client.post("/api/v1/crossings", data=json.dumps({"crossings": items}),
                       headers={"Authorization": f"Bearer {token}"}, content_type="application/json")


def test_api_batch_resolves_the_feeds_spellings_and_refuses_doubtful_ones_per_item(app, client, db_session):
    _, token = factories.make_api_client(post_code=None)  # a national feed, not bound to a post
    resp = _post_batch(client, token, [
        crossing_item("S1", post_code="Sephapo's Gate", surname="Ndlovu", document_number="ZA1"),
        crossing_item("S2", post_code="Moshoeshoe I Airport", surname="Ndlovu", document_number="ZA2"),
        crossing_item("S3", post_code="Van Rooyens Gate", surname="Ndlovu", document_number="ZA3"),
        crossing_item("S4", post_code="Ma Bridge", surname="Ndlovu", document_number="ZA4"),
        crossing_item("S5", post_code="Durban Harbour", surname="Ndlovu", document_number="ZA5"),
    ])
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert (data["accepted"], data["rejected"]) == (3, 2)
    stored = {c.external_id: c.border_post.code for c in db_session.scalars(select(Crossing))}
    assert stored == {"S1": "SPG", "S2": "MIA", "S3": "VRG"}

    ambiguous, unknown = data["results"][3], data["results"][4]
    [err] = ambiguous["errors"]
    assert err["field"] == "crossings[3].border_post" and err["code"] == "ambiguous_post"
    assert {"code": "MSB", "name": "Maseru Bridge"} in err["candidates"]
    assert {"code": "PKB", "name": "Peka Bridge"} in err["candidates"]
    assert "'Ma Bridge' could be any of" in err["message"] and "Maseru Bridge (MSB)" in err["message"]
    [err] = unknown["errors"]
    assert err["field"] == "crossings[4].border_post" and err["code"] == "unknown_post"
    known = {p["code"] for p in err["known_posts"]}
    assert known == set(db_session.scalars(select(BorderPost.code)))
    assert "'Durban Harbour' is not a known border post" in err["message"]
    assert "Sephapho's Gate (SPG)" in err["message"]


def test_an_alias_added_by_an_admin_resolves_at_once(app, client, login_as, db_session):
    _, token = factories.make_api_client(post_code=None)
    refused = _post_batch(client, token, [crossing_item("K1", post_code="Ladybrand Bridge")]).get_json()
    assert refused["results"][0]["errors"][0]["code"] == "unknown_post"

    admin = login_as("admin")
    msb = db_session.scalar(select(BorderPost).where(BorderPost.code == "MSB"))
    resp = admin.submit(f"/admin/posts/{msb.id}", {
        "code": "MSB", "name": "Maseru Bridge", "kind": "road", "district": "Maseru",
        "counterpart": msb.counterpart, "active": "y", "other_spellings": "Ladybrand Bridge\nMaseru Border Post\n"})
    assert resp.status_code == 302, resp.get_data(as_text=True)[:800]
    db_session.expire_all()
    assert sorted(a.alias for a in db_session.scalars(select(PostAlias).where(PostAlias.border_post_id == msb.id))) \
        == ["Ladybrand Bridge", "Maseru Border Post"]
    event = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "post.save")
                               .order_by(AuditEvent.id.desc())).first()
    assert event.object_id == str(msb.id) and event.actor_user_id == admin.user.id
    assert event.detail == {"aliases_added": ["Ladybrand Bridge", "Maseru Border Post"], "aliases_removed": []}
    assert "Ladybrand Bridge; Maseru Border Post" in admin.get("/admin/posts").get_data(as_text=True)

    accepted = _post_batch(client, token, [crossing_item("K2", post_code="ladybrand bridge")]).get_json()
    assert accepted["accepted"] == 1
    assert db_session.scalar(select(Crossing).where(Crossing.external_id == "K2")).border_post.code == "MSB"


def test_an_alias_that_names_another_post_is_refused_and_nothing_is_saved(app, login_as, db_session):
    admin = login_as("admin")
    msb = db_session.scalar(select(BorderPost).where(BorderPost.code == "MSB"))
    page = admin.get(f"/admin/posts/{msb.id}").get_data(as_text=True)
    assert "Other spellings" in page
    resp = admin.client.post(f"/admin/posts/{msb.id}", data={
        "csrf_token": csrf_from(page), "code": "MSB", "name": "Maseru Bridge (renamed)", "kind": "road",
        "other_spellings": "Sephapo's Gate\nMaputsoe bridge"})
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "already names Sephapho&#39;s Gate (SPG)" in html and "already names Maputsoe Bridge (MPB)" in html
    db_session.expire_all()
    assert db_session.get(BorderPost, msb.id).name == "Maseru Bridge"
    assert db_session.get(BorderPost, msb.id).alias_names == []


def test_alias_form_needs_a_csrf_token(app, login_as, db_session):
    admin = login_as("admin")
    msb = db_session.scalar(select(BorderPost).where(BorderPost.code == "MSB"))
    resp = admin.client.post(f"/admin/posts/{msb.id}", data={"code": "MSB", "name": "Maseru Bridge", "kind": "road",
                                                              "other_spellings": "Anything"})
    assert resp.status_code == 400
    db_session.expire_all()
    assert db_session.get(BorderPost, msb.id).alias_names == []


def test_csv_import_resolves_spellings_and_explains_refusals_by_line(app, db_session):
    header = "external_id,surname,given_names,sex,date_of_birth,nationality,direction,border_post,crossed_at\n"
    rows = ["V1,Ndlovu,Sipho,M,1980-01-02,ZAF,entry,Van Rooyens Gate,2026-11-01T08:00:00+02:00\n",
            "V2,Ndlovu,Sipho,M,1980-01-02,ZAF,exit,Ma Bridge,2026-11-01T09:00:00+02:00\n",
            "V3,Ndlovu,Sipho,M,1980-01-02,ZAF,exit,Atlantis,2026-11-01T10:00:00+02:00\n"]
    summary = services.import_csv(io.StringIO(header + "".join(rows)), actor=None,
                                  now=_now())
    db_session.commit()
    assert summary.inserted == 1
    assert db_session.scalar(select(Crossing).where(Crossing.external_id == "V1")).border_post.code == "VRG"
    reasons = dict(summary.rejected)
    assert "could be any of" in reasons[3] and "Peka Bridge (PKB)" in reasons[3]
    assert "'Atlantis' is not a known border post" in reasons[4] and "Tele Bridge (TLB)" in reasons[4]


def _now():
    from datetime import UTC, datetime

    return datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
