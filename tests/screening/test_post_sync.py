"""Store and forward in one process: headquarters served over real HTTP (werkzeug, SQLite) in a thread, a
post node (SQLite) syncing to it. Resend after a crash, rejected items kept, revocation, conflicts, the
headquarters overview and the overdue reminder. The two-process proof is test_post_sync_processes.py."""

from __future__ import annotations

import shutil
import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from werkzeug.serving import make_server

from screening import postsync, postsync_hq
from screening.models import Crossing, Flag
from screening.postsync_models import PostFlag, PostNode, PostOutbox
from tests.conftest import IsolatedClient, IsolatedRunner, login
from tip_cases.extensions import db, utcnow


class HQ:
    """Headquarters on its own SQLite file, served on a loopback port; `run(fn)` works in its app context."""

    def __init__(self, app):
        self.app = app
        self.server = make_server("127.0.0.1", 0, app, threaded=True)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def run(self, fn):
        with self.app.app_context():
            try:
                return fn()
            finally:
                db.session.remove()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()
        with self.app.app_context():
            db.engine.dispose()


@pytest.fixture
def hq(sqlite_template, tmp_path):
    from screening import watchlist
    from tests.factories import make_api_client, make_user
    from tests.screening.builders import make_person
    from tip_cases import create_app

    path = tmp_path / "hq.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "SERVER_NAME": "localhost",
                                 "AUDIT_CHECKPOINT_PATH": str(tmp_path / "cp.jsonl")})
    app.test_client_class = IsolatedClient
    server = HQ(app)

    def setup():
        make_person("Mokoena", "Palesa", dob="2009-03-14", documents=[("P", "RA123456", "LSO")])
        watchlist.publish(now=utcnow())
        make_user("manager", post_code="SNP", username="snp-manager")
        make_user("border_officer", post_code="SNP", username="snp-officer")
        _, token = make_api_client("snp-node", "SNP")
        db.session.commit()
        return token

    server.token = server.run(setup)
    yield server
    server.stop()


@pytest.fixture
def post(hq, sqlite_template, tmp_path):
    """The post node's app (its context is the test's), its watchlist fetched, and a capture client."""
    from tests.factories import make_api_client
    from tip_cases import create_app

    path = tmp_path / "post.db"
    shutil.copyfile(sqlite_template, path)
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "TSELA_ROLE": "post",
                                 "TSELA_POST_CODE": "SNP", "HQ_URL": hq.url, "HQ_API_TOKEN": hq.token,
                                 "POST_EXTRACT_PATH": str(tmp_path / "post.bin"), "SERVER_NAME": "localhost",
                                 "AUDIT_CHECKPOINT_PATH": str(tmp_path / "cp-post.jsonl")})
    app.test_client_class = IsolatedClient
    app.test_cli_runner_class = IsolatedRunner
    with app.app_context():
        fetched = app.test_cli_runner().invoke(args=["watchlist", "fetch"])
        assert fetched.exit_code == 0, fetched.output
        _, app.counter_token = make_api_client("snp-counter", "SNP")
        yield app
        db.session.remove()
        db.engine.dispose()


PALESA = {"surname": "MOKOENA", "given_names": "PALESA", "sex": "F", "date_of_birth": "2009-03-14",
          "nationality": "LSO", "document_type": "P", "document_number": "RA123456", "document_country": "LSO"}


def capture(app, *items):
    body = {"crossings": [{"external_id": f"C{i}", "direction": "exit", "crossed_at": "2026-11-20T10:15:00+02:00",
                           **item} for i, item in enumerate(items)]}
    resp = app.test_client().post("/api/v1/crossings", json=body,
                                  headers={"Authorization": f"Bearer {app.counter_token}"})
    assert resp.status_code == 200, resp.get_json()
    return resp.get_json()["results"]


def sync(app, **kw):
    return postsync.sync(base_url=app.config["HQ_URL"], token=app.config["HQ_API_TOKEN"], **kw)


def hq_count(hq, model=Crossing):
    return hq.run(lambda: db.session.execute(select(func.count()).select_from(model)).scalar_one())


def test_resend_after_a_crash_between_hq_answer_and_local_mark_doubles_nothing(hq, post):
    results = capture(post, PALESA, {"surname": "Other", "given_names": "Person", "sex": "M"})
    assert results[0]["flags"][0]["person_id"] and results[1]["flags"] == []
    report = sync(post)
    assert (report.sent, report.crossings, report.hq_flags, report.remaining) == (1, 2, 1, 0)
    assert hq_count(hq) == 2 and hq_count(hq, Flag) == 1
    # The post dies after HQ committed but before the post marked the row: it is pending again on restart.
    row = db.session.execute(select(PostOutbox)).scalar_one()
    row.state, row.sent_at = "pending", None
    db.session.commit()
    again = sync(post)
    assert again.sent == 1 and again.hq_flags == 1  # HQ replayed its first answer (same key, same bytes)
    assert hq_count(hq) == 2 and hq_count(hq, Flag) == 1
    flag = db.session.execute(select(PostFlag)).scalar_one()
    assert flag.origin == "post" and flag.hq_flag_id is not None and flag.hq_status == "new"


def test_link_down_keeps_everything_queued_with_the_error(hq, post):
    capture(post, PALESA)
    post.config["HQ_URL"] = "http://127.0.0.1:9"  # nothing listens there
    with pytest.raises(postsync.SyncError, match="unreachable"):
        sync(post)
    row = db.session.execute(select(PostOutbox)).scalar_one()
    assert row.state == "pending" and row.last_error.startswith("headquarters unreachable")
    out = post.test_cli_runner().invoke(args=["post", "outbox"])
    assert "1 waiting" in out.output and "unreachable" in out.output


def test_an_item_headquarters_rejects_stays_in_the_outbox_with_its_reason(hq, post):
    from tests.factories import make_api_client

    # The node was given a client bound to another post by mistake: HQ refuses the crossing for SNP.
    _, wrong = hq.run(lambda: make_api_client("msb-client", "MSB"))
    post.config["HQ_API_TOKEN"] = wrong
    capture(post, PALESA)
    report = sync(post)
    assert report.rejected == 1 and hq_count(hq) == 0
    row = db.session.execute(select(PostOutbox)).scalar_one()
    assert row.state == "rejected" and "may only submit crossings for MSB" in row.last_error
    shown = post.test_cli_runner().invoke(args=["post", "outbox"])
    assert "rejected" in shown.output and "MSB" in shown.output
    retried = post.test_cli_runner().invoke(args=["post", "retry", str(row.id)])
    assert retried.exit_code == 0
    post.config["HQ_API_TOKEN"] = hq.token
    assert sync(post).sent == 1 and hq_count(hq) == 1


def test_a_revoked_post_gets_nothing_and_keeps_its_queue(hq, post):
    from tip_cases import accounts

    def revoke():
        accounts.revoke_api_client("snp-node")
        db.session.commit()

    hq.run(revoke)
    capture(post, PALESA)
    with pytest.raises(postsync.SyncError, match="403"):
        sync(post)
    row = db.session.execute(select(PostOutbox)).scalar_one()
    assert row.state == "pending" and "revoked" in row.last_error and hq_count(hq) == 0
    fetch = post.test_cli_runner().invoke(args=["watchlist", "fetch"])
    assert fetch.exit_code != 0 and "revoked" in fetch.output


def test_a_person_added_while_offline_is_found_at_hq_and_the_post_is_told(hq, post):
    from tests.screening.builders import make_person

    def add_and_publish():
        make_person("Nthabiseng", "Mpho", dob="2010-05-05", documents=[("P", "RB777777", "LSO")])
        from screening import watchlist

        watchlist.publish(now=utcnow())
        db.session.commit()

    hq.run(add_and_publish)
    mpho = {"surname": "Nthabiseng", "given_names": "Mpho", "sex": "F", "date_of_birth": "2010-05-05",
            "document_type": "P", "document_number": "RB777777", "document_country": "LSO"}
    assert capture(post, mpho)[0]["flags"] == []  # not on the post's watchlist yet
    assert sync(post).hq_flags == 1
    told = db.session.execute(select(PostFlag)).scalar_one()
    assert told.origin == "hq" and told.hq_flag_id and told.action.startswith("Do not alert")
    listed = post.test_client().get("/api/v1/post/flags", headers={"Authorization": f"Bearer {post.counter_token}"})
    assert [f["origin"] for f in listed.get_json()["flags"]] == ["hq"]
    # The same sync brought the watchlist up to date: her next crossing is flagged at the post, offline.
    from screening.postnode import get_post_watchlist

    assert get_post_watchlist().seq == 2
    assert capture(post, {**mpho, "external_id": "C-again", "surname": "NTHABISENG"})[0]["flags"][0]["origin"] == "post"


def test_a_sync_with_nothing_to_send_still_reports_the_node(hq, post):
    report = sync(post)
    assert (report.sent, report.watchlist) == (0, "watchlist 1")
    assert hq.run(lambda: db.session.execute(select(PostNode.watchlist_seq, PostNode.backlog)).one()) == (1, 0)


def _decide_at_post(post, flag_id, decision, reason):
    return post.test_client().post(f"/api/v1/post/flags/{flag_id}/review",
                                   json={"decision": decision, "officer": "Insp. Moloi", "reason": reason},
                                   headers={"Authorization": f"Bearer {post.counter_token}"})


def test_a_decision_at_the_post_reaches_hq(hq, post):
    capture(post, PALESA)
    sync(post)
    pf = db.session.execute(select(PostFlag)).scalar_one()
    resp = _decide_at_post(post, pf.id, "confirm", "Birth certificate seen")
    assert resp.status_code == 200 and resp.get_json()["status"] == "confirmed"
    assert db.session.execute(select(PostOutbox).where(PostOutbox.kind == "decision")).scalar_one().state == "pending"
    hq_id = db.session.get(PostFlag, pf.id).hq_flag_id
    sync(post)
    flag = hq.run(lambda: (lambda f: (f.status, f.conflict_at, [e.action for e in f.events]))(
        db.session.get(Flag, hq_id)))
    assert flag == ("confirmed", None, ["raised", "confirmed"])


def test_decided_at_both_ends_while_apart_keeps_both_and_shows_the_conflict(hq, post):
    from screening.services import review_flag
    from tip_cases.models import User

    capture(post, PALESA)
    sync(post)
    pf = db.session.execute(select(PostFlag)).scalar_one()
    hq_id, pf_id = pf.hq_flag_id, pf.id

    def decide_at_hq():
        flag = db.session.get(Flag, hq_id)
        officer = db.session.execute(select(User).where(User.username == "snp-officer")).scalar_one()
        review_flag(flag, "confirm", actor=officer, now=utcnow(), reason="Mother confirmed by phone")
        db.session.commit()

    hq.run(decide_at_hq)
    assert _decide_at_post(post, pf_id, "not_same_person", "Different mother's name").status_code == 200
    sync(post)
    pf = db.session.get(PostFlag, pf_id)
    assert (pf.status, pf.hq_status, pf.conflict) == ("not_same_person", "confirmed", True)

    def hq_view():
        flag = db.session.get(Flag, hq_id)
        return flag.status, flag.conflict_at is not None, [(e.action, e.actor_label) for e in flag.events]

    status, conflict, history = hq.run(hq_view)
    assert status == "confirmed" and conflict  # nothing overwritten
    assert [a for a, _ in history] == ["raised", "confirmed", "not_same_person"]
    assert history[2][1] == "api:snp-node (Insp. Moloi)"


    def manager_sees_and_settles():
        manager = db.session.execute(select(User).where(User.username == "snp-manager")).scalar_one()
        browser = login(hq.app.test_client(), manager)
        page = browser.get("/posts/nodes").get_data(as_text=True)
        assert 'data-testid="conflict-count">1<' in page and f"/screening/flags/{hq_id}" in page
        flag_page = browser.get(f"/screening/flags/{hq_id}").get_data(as_text=True)
        assert 'data-testid="conflict-badge"' in flag_page and "Different mother" in flag_page \
            and "Mother confirmed by phone" in flag_page
        resp = browser.submit(f"/screening/flags/{hq_id}/settle", {"keep": "post", "note": "Post saw the papers"},
                              page=f"/screening/flags/{hq_id}")
        assert resp.status_code == 302
        flag = db.session.get(Flag, hq_id)
        return flag.status, flag.conflict_at, [e.action for e in flag.events]

    assert hq.run(manager_sees_and_settles) == ("not_same_person", None,
                                                 ["raised", "confirmed", "not_same_person", "settled"])


def test_hq_overview_shows_each_node_and_only_managers_and_admins_open_it(hq, post):
    capture(post, PALESA)
    sync(post)
    from tests.factories import make_user

    def pages():
        node = db.session.execute(select(PostNode)).scalar_one()
        assert node.watchlist_seq == 1 and node.backlog == 1 and abs(node.clock_drift_seconds) < 5
        manager = login(hq.app.test_client(), make_user("manager"))
        page = manager.get("/posts/nodes").get_data(as_text=True)
        officer = login(hq.app.test_client(), make_user("border_officer", post_code="SNP"))
        return page, officer.get("/posts/nodes").status_code

    page, officer_status = hq.run(pages)
    assert 'data-post="SNP"' in page and "snp-node" in page and "not synced in time" not in page
    assert officer_status == 403


def test_a_silent_post_reminds_its_managers_once(hq, post):
    from notifications.models import OutboxMessage

    capture(post, PALESA)
    sync(post)

    def remind():
        node = db.session.execute(select(PostNode)).scalar_one()
        node.last_sync_at = utcnow() - timedelta(hours=7)
        db.session.commit()
        first = postsync_hq.remind_overdue(now=utcnow())
        db.session.commit()
        second = postsync_hq.remind_overdue(now=utcnow())
        db.session.commit()
        msgs = db.session.execute(select(OutboxMessage).where(OutboxMessage.event == "post.sync_overdue")).scalars()
        return first, second, [(m.address, m.payload.get("reason")) for m in msgs]

    first, second, msgs = hq.run(remind)
    assert (first, second) == (1, 0)
    assert msgs == [("manager@example.test", "post SNP has not synced with headquarters for 7 hours")]


def test_the_officer_at_the_post_sees_the_flag_at_once_with_the_link_down(hq, post):
    from tests.factories import make_user

    post.config["HQ_URL"] = "http://127.0.0.1:9"  # the link is down
    [result] = capture(post, PALESA)
    officer = login(post.test_client(), make_user("border_officer", post_code="SNP"))
    page = officer.get(f"/screening/crossings/{result['crossing_id']}").get_data(as_text=True)
    assert 'data-testid="post-flag"' in page and "Do not alert companions" in page
    assert "Queued for headquarters" in page and "Reported missing" not in page  # discreet: no reason
    post.config["HQ_URL"] = hq.url
    sync(post)
    page = officer.get(f"/screening/crossings/{result['crossing_id']}").get_data(as_text=True)
    assert "At headquarters as flag 1." in page


def test_a_flag_the_post_raised_and_hq_did_not_is_added_with_the_posts_evidence(hq, post):
    from screening.models import Person

    def stop_screening():  # headquarters stops screening her after the post's last watchlist
        person = db.session.execute(select(Person)).scalar_one()
        person.screening_active = False
        db.session.commit()

    hq.run(stop_screening)
    [result] = capture(post, PALESA)
    assert result["flags"][0]["origin"] == "post"
    report = sync(post, watchlist=False)
    assert report.hq_flags == 1

    def adopted():
        flag = db.session.execute(select(Flag)).scalar_one()
        return ([(e.actor_label, e.action, e.note) for e in flag.events], [f["explanation"] for f in flag.features])

    events, explanations = hq.run(adopted)
    assert events == [("post:SNP", "raised", "raised at the post while offline, score 1.00")]
    assert explanations and all(isinstance(e, str) and e for e in explanations)
    assert db.session.execute(select(PostFlag)).scalar_one().hq_flag_id is not None


def test_another_posts_client_cannot_decide_this_posts_flags(hq, post):
    import json
    import urllib.request

    from tests.factories import make_api_client

    capture(post, PALESA)
    sync(post)
    ext = db.session.execute(select(PostOutbox)).scalar_one().body["crossings"][0]["external_id"]
    _, other = hq.run(lambda: make_api_client("msb-node", "MSB"))
    body = {"decisions": [{"external_id": ext, "person_id": 1, "decision": "not_same_person", "officer": "X",
                           "reason": "not him", "decided_at": "2026-12-03T10:00:00+02:00"}]}
    req = urllib.request.Request(f"{hq.url}/api/v1/post/decisions", data=json.dumps(body).encode(),  # noqa: S310
                                 method="POST",
                                 headers={"Authorization": f"Bearer {other}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback
        answer = json.loads(resp.read())
    assert answer["results"][0]["status"] == "rejected" and "no flag at headquarters" in answer["results"][0]["message"]
    assert hq.run(lambda: [(f.status, len(f.events)) for f in db.session.execute(select(Flag)).scalars()]) \
        == [("new", 1)]


def test_the_officer_decides_at_the_post_in_the_browser_and_hq_gets_it(hq, post):
    from tests.factories import make_user

    [result] = capture(post, PALESA)
    user = make_user("border_officer", post_code="SNP")
    officer = login(post.test_client(), user)
    page_url = f"/screening/crossings/{result['crossing_id']}"
    flag_id = result["flags"][0]["id"]
    refused = officer.submit(f"/screening/post-flags/{flag_id}/decide", {"decision": "confirm"}, page=page_url,
                             follow_redirects=True).get_data(as_text=True)
    assert "say why" in refused and db.session.get(PostFlag, flag_id).status == "new"
    officer.submit(f"/screening/post-flags/{flag_id}/decide", {"decision": "confirm", "reason": "Papers match"},
                   page=page_url)
    page = officer.get(page_url).get_data(as_text=True)
    assert "Decided here: confirmed (Test border_officer)." in page
    outsider = login(post.test_client(), make_user("border_officer", post_code="MSB"))
    assert outsider.submit(f"/screening/post-flags/{flag_id}/decide", {"decision": "acknowledge"},
                           page="/").status_code == 404
    sync(post)
    hq_id = db.session.get(PostFlag, flag_id).hq_flag_id
    assert hq.run(lambda: db.session.get(Flag, hq_id).status) == "confirmed"
