"""Headquarters side of the post-node watchlist: publication, signed documents per post, the API, revocation,
and the same flags at headquarters and at a post for the same list (both database backends)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from screening import services, watchlist
from screening.engine.normalize import parse_partial_date
from screening.postnode import PostWatchlist
from screening.watchlist_format import ENTRY_FIELDS, DocumentRefused, verify
from tests.factories import make_api_client
from tests.screening.builders import NOW, make_person, new_crossing
from tip_cases import accounts
from tip_cases.extensions import db
from tip_cases.models import AuditEvent


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _people():
    """A discreet protective entry, an open suspect entry (with a case note), and one to expire later."""
    palesa = make_person(documents=[("P", "RA123456", "LSO")], aliases=[("Mokoena", "Lesedi")])
    thabo = make_person("Letsie", "Thabo Michael", dob="1985-07-02", sex="M", category="suspect",
                        alert_kind="suspect", discreet=False, reason="Recruiter named by three victims",
                        action="Hold for questioning; call the TIP unit")
    thabo.notes = "case note: lives with his aunt in Mafeteng"
    thabo.place_of_birth = "Mafeteng"
    db.session.commit()
    short = make_person("Ramone", "Lineo", dob="1999-01-20", review_date=NOW.date() + timedelta(days=3))
    return palesa, thabo, short


def test_publish_records_baseline_then_added_changed_expired(app):
    palesa, thabo, short = _people()
    first = watchlist.publish(now=NOW)
    db.session.commit()
    assert (first.seq, first.added, first.changed, first.expired, first.baseline) == (1, 3, 0, 0, True)
    assert watchlist.publish(now=NOW) is None  # nothing changed: no empty delta

    newcomer = make_person("Nthabiseng", "Mpho", dob="2010-05-05")
    data = services.PersonData(surname="Letsie", given_names="Thabo", sex="M", dob=parse_partial_date("1985-07-02"),
                               nationality="LSO", category="suspect", alert_kind="suspect", discreet=False,
                               screening_active=True, review_date=None, alert_reason="Recruiter",
                               officer_action="Hold for questioning", source="national_list")
    services.update_person(thabo, data, expected_version=thabo.version, actor=None, now=NOW)
    db.session.commit()
    later = NOW + timedelta(days=5)  # Lineo's review date has passed: she expires
    second = watchlist.publish(now=later)
    db.session.commit()
    assert (second.seq, second.added, second.changed, second.expired) == (2, 1, 1, 1)

    head, docs = watchlist.delta_documents("MSB", 1, now=later)
    assert head == 2 and len(docs) == 1
    payload = verify(docs[0], watchlist.trusted_keys())
    assert (payload["type"], payload["seq"], payload["prev_seq"], payload["post"]) == ("delta", 2, 1, "MSB")
    assert [e["id"] for e in payload["added"]] == [newcomer.id]
    assert [(e["id"], e["given_names"], e["action"]) for e in payload["changed"]] == \
        [(thabo.id, "Thabo", "Hold for questioning")]
    assert payload["expired"] == [short.id]
    assert db.session.execute(select(AuditEvent.detail).where(AuditEvent.action == "watchlist.publish")
                              .order_by(AuditEvent.id)).scalars().all() == \
        [{"added": 3, "changed": 0, "expired": 0}, {"added": 1, "changed": 1, "expired": 1}]


def test_extract_is_signed_for_the_clients_post_and_minimised(app, client):
    palesa, thabo, short = _people()
    watchlist.publish(now=NOW)
    db.session.commit()
    _, token = make_api_client("sani-node", post_code="SNP")

    resp = client.get("/api/v1/watchlist/extract", headers=_auth(token))
    assert resp.status_code == 200
    payload = verify(resp.get_json(), watchlist.trusted_keys())
    assert (payload["type"], payload["post"], payload["seq"]) == ("extract", "SNP", 1)
    entries = {e["id"]: e for e in payload["entries"]}
    assert set(entries) == {palesa.id, thabo.id, short.id}
    for e in entries.values():
        assert set(e) == set(ENTRY_FIELDS)  # nothing outside the profile: no notes, place of birth, reference
    body = resp.get_data(as_text=True)
    assert "Mafeteng" not in body and "case note" not in body
    discreet = entries[palesa.id]
    assert discreet["discreet"] is True and discreet["reason"] == ""  # the officer gets the action only
    assert discreet["action"].startswith("Do not alert companions")
    assert discreet["documents"] == [["P", "RA123456", "LSO"]] and discreet["aliases"] == [["Mokoena", "Lesedi"]]
    assert entries[thabo.id]["reason"] == "Recruiter named by three victims"
    protective = [e for e in entries.values() if e["alert_kind"] == "protective"]
    assert protective and all(e["reason"] == "" and e["action"] for e in protective)  # need to know
    assert db.session.execute(select(AuditEvent.actor_label, AuditEvent.detail)
                              .where(AuditEvent.action == "watchlist.fetch")).one() == \
        ("api:sani-node", {"kind": "extract", "post": "SNP", "entries": 3})

    # The same extract, held by another post, is refused by that post's node.
    other = PostWatchlist("MSB", watchlist.trusted_keys())
    with pytest.raises(DocumentRefused) as refused:
        other.accept_extract(resp.get_json())
    assert refused.value.code == "wrong_post" and "'SNP'" in str(refused.value)


def test_deltas_endpoint_errors_name_the_problem(app, client):
    _people()
    _, token = make_api_client("msb-node", post_code="MSB")
    resp = client.get("/api/v1/watchlist/extract", headers=_auth(token))
    assert resp.status_code == 409 and resp.get_json()["error"] == "not_published"
    watchlist.publish(now=NOW)
    db.session.commit()
    make_person("Nthabiseng", "Mpho", dob="2010-05-05")
    watchlist.publish(now=NOW)
    db.session.commit()

    resp = client.get("/api/v1/watchlist/deltas?after=1", headers=_auth(token))
    body = resp.get_json()
    assert resp.status_code == 200 and body["head"] == 2 and [d["payload"]["seq"] for d in body["deltas"]] == [2]
    assert client.get("/api/v1/watchlist/deltas?after=2", headers=_auth(token)).get_json()["deltas"] == []
    resp = client.get("/api/v1/watchlist/deltas?after=0", headers=_auth(token))
    assert resp.status_code == 410 and resp.get_json()["error"] == "extract_needed"
    resp = client.get("/api/v1/watchlist/deltas?after=7", headers=_auth(token))
    assert resp.status_code == 409 and "only published up to 2" in resp.get_json()["message"]
    resp = client.get("/api/v1/watchlist/deltas?after=-1", headers=_auth(token))
    assert resp.status_code == 422 and resp.get_json()["errors"][0]["field"] == "after"


def test_revoked_unbound_and_anonymous_clients_get_nothing(app, client, runner):
    make_person()
    watchlist.publish(now=NOW)
    db.session.commit()
    qacha, token = make_api_client("qacha-node", post_code="QNK")
    _, unbound = make_api_client("imdms-feed", post_code=None)
    assert client.get("/api/v1/watchlist/deltas?after=1", headers=_auth(token)).status_code == 200

    result = runner.invoke(args=["api-tokens", "revoke", "qacha-node"])
    assert result.exit_code == 0 and "revoked API client qacha-node" in result.output
    for url in ("/api/v1/watchlist/deltas?after=1", "/api/v1/watchlist/extract"):
        resp = client.get(url, headers=_auth(token))
        assert resp.status_code == 403
        body = resp.get_json()
        assert body["error"] == "client_revoked" and "revoked" in body["message"]
        assert "deltas" not in body and "payload" not in body
    denied = db.session.execute(select(AuditEvent.action, AuditEvent.object_id)
                                .where(AuditEvent.outcome == "denied").order_by(AuditEvent.id)).all()
    assert denied == [("api.watchlist.deltas", str(qacha.id)), ("api.watchlist.extract", str(qacha.id))]

    resp = client.get("/api/v1/watchlist/extract", headers=_auth(unbound))
    assert resp.status_code == 403 and resp.get_json()["error"] == "not_a_post_client"
    resp = client.get("/api/v1/watchlist/extract")
    assert resp.status_code == 401 and resp.get_json()["error"] == "unauthorized"
    assert accounts.client_for_token(token) is None


def test_post_node_does_not_serve_the_watchlist(app, client):
    _, token = make_api_client("msb-node", post_code="MSB")
    app.config.update(TSELA_ROLE="post", TSELA_POST_CODE="MSB")
    assert client.get("/api/v1/watchlist/extract", headers=_auth(token)).status_code == 404


def test_post_screens_like_headquarters_for_the_same_list(app):
    """Same identity, same list: the same persons, scores, feature explanations, priority and action."""
    palesa, thabo, _ = _people()
    make_person("Mokoena", "Palesa Grace", dob="2009-04-13", discreet=False, reason="Runaway", action="Call home")
    for i in range(30):  # namesakes, so name-frequency weighting has something to weigh
        make_person("Mokoena", f"Given{i}", dob=f"19{60 + i}-01-0{1 + i % 9}", commit=False)
    db.session.commit()
    watchlist.publish(now=NOW)
    db.session.commit()
    doc = json.loads(json.dumps(watchlist.extract_document("MSB", now=NOW)))  # as it crosses the wire
    post = PostWatchlist("MSB", watchlist.trusted_keys())
    post.accept_extract(doc)

    probes = [new_crossing(surname="Mokoena", given_names="Palesa", dob="2009-03-14"),
              new_crossing(surname="MOKOENA", given_names="Palesa", dob="2009-03-15",
                           document_number="RA123465"),
              new_crossing(surname="Letsie", given_names="Thabo", dob="1985-02-07", document_number=None, sex="M"),
              new_crossing(surname="Mokoena", given_names="Lesedi", dob="2009", document_number=None)]
    stored = services.store_crossings(probes, source="manual", actor=None, now=NOW)
    db.session.commit()
    compared = 0
    for probe, result in zip(probes, stored, strict=True):
        hq = sorted(result.flags, key=lambda f: (-f.score, f.person_id))
        local = sorted(post.screen(probe.identity("probe"), today=NOW.date()), key=lambda f: (-f.score, f.person_id))
        # A discreet entry's reason stays at headquarters (minimisation profile); every other field is equal.
        assert [(f.person_id, f.score, f.priority, f.action, "" if f.person.discreet else f.reason) for f in hq] == \
            [(f.person_id, f.score, f.priority, f.action, f.reason) for f in local]
        assert [f.features for f in hq] == [f.features for f in local]
        compared += len(hq)
    assert compared >= 4  # the probes really flag: the comparison is not of two empty lists
    assert any(f.discreet and f.reason == "" for f in post.screen(probes[0].identity("p"), today=NOW.date()))


def test_cli_publish_export_verify(app, runner, tmp_path):
    make_person()
    result = runner.invoke(args=["watchlist", "publish"])
    assert result.exit_code == 0 and "published watchlist 1 (baseline): 1 added" in result.output
    assert "nothing changed since watchlist 1" in runner.invoke(args=["watchlist", "publish"]).output
    out = tmp_path / "extract.json"
    result = runner.invoke(args=["watchlist", "export", "--post", "SNP", "--out", str(out)])
    assert result.exit_code == 0, result.output
    result = runner.invoke(args=["watchlist", "verify", str(out)])
    assert result.exit_code == 0 and "OK extract 1 for post SNP: 1" in result.output
    doc = json.loads(out.read_text())
    doc["payload"]["entries"][0]["action"] = "Let them pass"
    out.write_text(json.dumps(doc))
    result = runner.invoke(args=["watchlist", "verify", str(out)])
    assert result.exit_code == 1 and "REFUSED (bad_signature)" in result.output
    assert "+1 ~0 -0" in runner.invoke(args=["watchlist", "show"]).output


def test_post_fetch_over_http_catches_up_then_revocation_stops_it(app, tmp_path):
    """A real HTTP server for headquarters and a post node's `flask watchlist fetch` against it."""
    import threading

    from werkzeug.serving import make_server

    from tip_cases import create_app

    first = make_person().id
    watchlist.publish(now=NOW)
    db.session.commit()
    _, token = make_api_client("msb-node", post_code="MSB")
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        post_app = create_app("testing", {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'post.db'}", "TSELA_ROLE": "post",
            "TSELA_POST_CODE": "MSB", "POST_EXTRACT_PATH": str(tmp_path / "post.bin"),
            "HQ_URL": f"http://127.0.0.1:{server.server_port}", "HQ_API_TOKEN": token})

        def fetch():
            with post_app.app_context():  # the test's own context is headquarters'
                return post_app.test_cli_runner().invoke(args=["watchlist", "fetch"])

        result = fetch()
        assert result.exit_code == 0, result.output
        assert "applied extract 1: 1 entries" in result.output and "up to date at watchlist 1" in result.output

        second = make_person("Nthabiseng", "Mpho", dob="2010-05-05").id
        watchlist.publish(now=NOW)
        db.session.commit()
        result = fetch()
        assert result.exit_code == 0, result.output
        assert "applied delta 2: 1 added, 0 changed, 0 expired" in result.output

        accounts.revoke_api_client("msb-node")
        db.session.commit()
        make_person("Ramone", "Lineo", dob="1999-01-20")
        watchlist.publish(now=NOW)
        db.session.commit()
        result = fetch()
        assert result.exit_code == 1 and "403" in result.output and "revoked" in result.output
        with post_app.app_context():
            from screening.postnode import get_post_watchlist

            held = get_post_watchlist()
            assert held.seq == 2 and sorted(held.entries) == [first, second]
    finally:
        server.shutdown()
        thread.join(5)
