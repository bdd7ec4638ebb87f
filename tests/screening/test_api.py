"""The JSON API: batches with per-item results, idempotency, scoping, review, errors naming fields."""

from __future__ import annotations

import json

from sqlalchemy import func, select

from screening.models import Crossing, Flag, MatchJudgement
from tests import factories
from tests.screening.builders import crossing_item, make_person


def _post(client, token, body, key=None):
    headers = {"Authorization": f"Bearer {token}"}
    if key:
        headers["Idempotency-Key"] = key
    return client.post("/api/v1/crossings", data=json.dumps(body), headers=headers,
                       content_type="application/json")


def test_batch_accepts_flags_and_rejects_per_item(app, client, db_session):
    person = make_person()
    _, token = factories.make_api_client(post_code="MSB")
    body = {"crossings": [
        crossing_item("A1"),  # the missing girl
        crossing_item("A2", surname="Ndlovu", given_names="Sipho", dob="1980-01-02", sex="M",
                      document_number="ZA9988776"),
        crossing_item("A3", sex="Q"),  # invalid sex
        crossing_item("A4", surname="", given_names="", document_number=None),  # neither name nor document
    ]}
    resp = _post(client, token, body)
    assert resp.status_code == 200, resp.get_data(as_text=True)
    data = resp.get_json()
    assert (data["accepted"], data["duplicates"], data["rejected"]) == (2, 0, 2)
    first, second, bad_sex, nameless = data["results"]
    assert first["status"] == "accepted" and len(first["flags"]) == 1
    flag = first["flags"][0]
    assert flag["person_id"] == person.id and flag["priority"] == "urgent" and flag["discreet"] is True
    assert "Child and Gender Protection Unit" in flag["action"]
    # A missing child's alert is need to know and does not name border systems: the action, not the why.
    assert flag["restricted"] is True and flag["explanations"] == [] and flag["features"] == []
    assert flag["reason"] == "" and "Reported missing" not in json.dumps(data)
    assert second["status"] == "accepted" and second["flags"] == []
    assert bad_sex["errors"][0]["field"] == "crossings[2].sex"
    assert "name" in nameless["errors"][0]["message"]
    assert db_session.scalar(select(func.count()).select_from(Crossing)) == 2
    stored = db_session.get(Flag, flag["id"])
    assert stored.border_post.code == "MSB" and stored.status == "new"


def test_duplicates_and_idempotency_key(app, client, db_session):
    _, token = factories.make_api_client(post_code="MSB")
    body = {"crossings": [crossing_item("B1"), crossing_item("B2")]}
    first = _post(client, token, body, key="k-1")
    replay = _post(client, token, body, key="k-1")
    assert replay.get_data() == first.get_data() and replay.headers["Idempotent-Replayed"] == "true"
    other = _post(client, token, {"crossings": [crossing_item("B3")]}, key="k-1")
    assert other.status_code == 422 and other.get_json()["errors"][0]["field"] == "Idempotency-Key"
    again = _post(client, token, body).get_json()  # no key: stored items come back as duplicates
    assert [r["status"] for r in again["results"]] == ["duplicate", "duplicate"]
    assert again["results"][0]["crossing_id"] == first.get_json()["results"][0]["crossing_id"]
    assert db_session.scalar(select(func.count()).select_from(Crossing)) == 2


def test_client_bound_to_a_post_cannot_submit_for_another(app, client):
    _, token = factories.make_api_client(post_code="MSB")
    data = _post(client, token, {"crossings": [crossing_item("C1", post_code="MPB")]}).get_json()
    assert data["results"][0]["status"] == "rejected"
    assert data["results"][0]["errors"][0]["field"] == "crossings[0].border_post"
    assert "MSB" in data["results"][0]["errors"][0]["message"]


def test_envelope_errors_name_the_field(app, client):
    _, token = factories.make_api_client()
    resp = _post(client, token, {"crossings": [crossing_item()] * 1001})
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "crossings"
    resp = client.post("/api/v1/crossings", data="{not json", headers={"Authorization": f"Bearer {token}"})
    assert resp.status_code == 400
    assert client.post("/api/v1/crossings", json={"crossings": []}).status_code == 401


def test_flags_list_scoped_and_review_records_judgement(app, client, db_session):
    make_person()
    _, msb = factories.make_api_client(post_code="MSB")
    _, mpb = factories.make_api_client(post_code="MPB")
    flag_id = _post(client, msb, {"crossings": [crossing_item("D1")]}).get_json()["results"][0]["flags"][0]["id"]
    listed = client.get("/api/v1/flags?status=new", headers={"Authorization": f"Bearer {msb}"}).get_json()
    assert [f["id"] for f in listed["flags"] if f["kind"] == "identity"] == [flag_id]  # risk flags too
    from tip_cases.models import AuditEvent

    listed_audit = db_session.scalars(select(AuditEvent).where(AuditEvent.action == "flag.list")).all()
    assert listed_audit and flag_id in listed_audit[-1].detail["ids"]
    assert listed_audit[-1].actor_label.startswith("api:")
    other = client.get("/api/v1/flags", headers={"Authorization": f"Bearer {mpb}"}).get_json()
    assert other["flags"] == []
    # another post's client cannot review (no IDOR), nor read the crossing
    denied = client.post(f"/api/v1/flags/{flag_id}/review", headers={"Authorization": f"Bearer {mpb}"},
                         json={"decision": "acknowledge", "officer": "x"})
    assert denied.status_code == 404  # like a flag that does not exist: no existence oracle
    bad = client.post(f"/api/v1/flags/{flag_id}/review", headers={"Authorization": f"Bearer {msb}"},
                      json={"decision": "not_same_person", "officer": "Lt. Moloi"})
    assert bad.status_code == 422 and bad.get_json()["errors"][0]["field"] == "body"
    ok = client.post(f"/api/v1/flags/{flag_id}/review", headers={"Authorization": f"Bearer {msb}"},
                     json={"decision": "not_same_person", "officer": "Lt. Moloi", "reason": "Different mother"})
    assert ok.status_code == 200 and ok.get_json()["status"] == "not_same_person"
    assert db_session.scalar(select(func.count()).select_from(MatchJudgement)) == 1
    # the same traveller crossing again is not flagged again
    again = _post(client, msb, {"crossings": [crossing_item("D2")]}).get_json()
    assert again["results"][0]["status"] == "accepted" and again["results"][0]["flags"] == []
    bad_query = client.get("/api/v1/flags?since=yesterday", headers={"Authorization": f"Bearer {msb}"})
    assert bad_query.status_code == 422 and bad_query.get_json()["errors"][0]["field"] == "since"


def test_get_crossing_is_own_only_and_audited(app, client, db_session):
    from tip_cases.models import AuditEvent

    _, a = factories.make_api_client(post_code="MSB")
    _, b = factories.make_api_client(post_code="MSB")
    cid = _post(client, a, {"crossings": [crossing_item("E1")]}).get_json()["results"][0]["crossing_id"]
    resp = client.get(f"/api/v1/crossings/{cid}", headers={"Authorization": f"Bearer {a}"})
    assert resp.status_code == 200 and resp.get_json()["external_id"] == "E1"
    assert client.get(f"/api/v1/crossings/{cid}", headers={"Authorization": f"Bearer {b}"}).status_code == 404
    assert client.get("/api/v1/crossings/999999", headers={"Authorization": f"Bearer {a}"}).status_code == 404
    actions = db_session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "crossing")).all()
    assert "crossing.view" in actions and "crossing.create" in actions


def test_openapi_document_comes_from_the_models(app, client):
    _, token = factories.make_api_client()
    spec = client.get("/api/v1/openapi.json", headers={"Authorization": f"Bearer {token}"}).get_json()
    assert spec["openapi"].startswith("3.")
    crossing = spec["components"]["schemas"]["CrossingIn"]
    assert "external_id" in crossing["required"] and crossing["properties"]["direction"]["enum"] == ["entry", "exit"]
    assert client.get("/api/v1/openapi.json").status_code == 401


def test_docs_page_renders_the_spec_for_signed_in_staff(app, login_as):
    officer = login_as("border_officer")
    html = officer.get("/api/v1/docs").get_data(as_text=True)
    assert "/api/v1/crossings" in html and "Idempotency-Key" in html and 'id="schema-CrossingIn"' in html
    # a browser session may read the docs but not write through the API (no CSRF on /api)
    assert officer.client.post("/api/v1/crossings", json={"crossings": []}).status_code == 401


def test_batch_flag_bodies_explain_the_match_when_the_alert_names_border_systems(app, client, db_session):
    """The same crossing, against an alert that names the border systems: the explanations come back."""
    make_person(need_to_know_roles=["system"], contact="CGPU duty officer, 2231 7263")
    _, token = factories.make_api_client(post_code="MSB")
    flag = _post(client, token, {"crossings": [crossing_item("N1")]}).get_json()["results"][0]["flags"][0]
    assert flag["restricted"] is False and flag["reason"] == "Reported missing by her family"
    assert any("date of birth" in e.lower() for e in flag["explanations"])
    assert flag["contact"] == "CGPU duty officer, 2231 7263"
    assert flag["expected_action"].endswith("Whom to call: CGPU duty officer, 2231 7263.")


def test_a_batch_chosen_as_deadlock_victim_is_run_again_and_stored_once(app, client, db_session, monkeypatch):
    """PostgreSQL rolls back one of two deadlocked writers; the API runs the batch again from the start (the
    whole transaction was undone) instead of answering 500. After three such failures it answers 503 and
    says nothing was stored, and nothing was."""
    from psycopg import errors as pg_errors
    from sqlalchemy.exc import OperationalError

    from screening import api

    _, token = factories.make_api_client(post_code="MSB")
    real = api._process_batch
    failures = {"left": 1}

    def victim(*args, **kwargs):
        result = real(*args, **kwargs)  # the batch's writes happen, then the commit-time victim is simulated
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("INSERT ...", {}, pg_errors.DeadlockDetected("deadlock detected"))
        return result

    monkeypatch.setattr(api, "_process_batch", victim)
    resp = _post(client, token, {"crossings": [crossing_item("DL1"), crossing_item("DL2")]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.get_json()["accepted"] == 2
    assert db_session.scalar(select(func.count()).select_from(Crossing).where(
        Crossing.external_id.in_(["DL1", "DL2"]))) == 2  # once each: the first attempt's rows were rolled back

    failures["left"] = 3
    resp = _post(client, token, {"crossings": [crossing_item("DL3")]})
    assert resp.status_code == 503 and resp.get_json()["error"] == "busy"
    assert "nothing of this request was stored" in resp.get_json()["message"]
    assert db_session.scalar(select(func.count()).select_from(Crossing).where(Crossing.external_id == "DL3")) == 0
