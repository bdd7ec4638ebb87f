"""Post node: refuses bad documents with a reason and keeps the last good one, applies deltas, keeps its
watchlist encrypted at rest, and screens offline (SQLite only: a post node runs on SQLite)."""

from __future__ import annotations

import copy
import json
import zlib
from datetime import date

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from screening.engine.matching import Document, Identity
from screening.engine.normalize import PartialDate
from screening.postnode import EncryptedStore, PostWatchlist, StoreError, new_key_text, parse_key
from screening.watchlist_format import PAYLOAD_FORMAT, DocumentRefused, key_id, make_entry, raw_public, sign

TODAY = date(2026, 11, 20)
HQ_KEY = Ed25519PrivateKey.generate()
TRUSTED = {key_id(raw_public(HQ_KEY.public_key())): HQ_KEY.public_key()}


def entry(pid, surname, given, dob=(2009, 3, 14, "day"), *, discreet=False, documents=(), review=None, **kw):
    return make_entry(id=pid, surname=surname, given_names=given, aliases=kw.pop("aliases", []),
                      dob=PartialDate(*dob) if dob else None, sex=kw.pop("sex", "F"), nationality="LSO",
                      documents=list(documents), category=kw.pop("category", "missing_person"),
                      alert_kind="protective", discreet=discreet, action=kw.pop("action", "Call the CGPU"),
                      reason=kw.pop("reason", "Reported missing"), review_date=review)


BASE = [entry(1, "Mokoena", "Palesa", documents=[("P", "RA123456", "LSO")], discreet=True),
        entry(2, "Letsie", "Thabo", (1985, 7, 2, "day"), sex="M", category="suspect", action="Hold"),
        entry(3, "Ramone", "Lineo", (1999, 1, 20, "day"))]


def extract(seq=1, entries=BASE, post="SNP", key=HQ_KEY):
    return sign({"format": PAYLOAD_FORMAT, "type": "extract", "post": post, "seq": seq, "issued_at": "x",
                 "flag_threshold": 0.8, "entries": list(entries)}, key)


def delta(seq, prev=None, *, added=(), changed=(), expired=(), post="SNP", key=HQ_KEY):
    return sign({"format": PAYLOAD_FORMAT, "type": "delta", "post": post, "seq": seq,
                 "prev_seq": seq - 1 if prev is None else prev, "issued_at": "x", "flag_threshold": 0.8,
                 "added": list(added), "changed": list(changed), "expired": list(expired)}, key)


def probe(surname, given, dob=(2009, 3, 14, "day"), sex="F", document=None):
    return Identity(id="c", surname=surname, given_names=given, dob=PartialDate(*dob) if dob else None, sex=sex,
                    nationality="LSO", documents=[Document("P", document, "LSO")] if document else [])


def hits(post, *args, **kw):
    return [f.person_id for f in post.screen(probe(*args, **kw), today=TODAY)]


@pytest.fixture
def store(tmp_path):
    return EncryptedStore(tmp_path / "post-watchlist.bin", parse_key(new_key_text()))


@pytest.fixture
def post(store):
    node = PostWatchlist("SNP", TRUSTED, store)
    node.accept_extract(extract())
    return node


def _kept(post, store, seq=1):
    """The last good watchlist is still held, in memory and on disk, and still screens."""
    assert post.seq == seq
    assert store.load()["seq"] == seq
    assert hits(post, "Mokoena", "Palesa") == [1]


def test_tampered_signature_is_refused_and_last_good_kept(post, store):
    doc = delta(2, added=[entry(4, "Nthabiseng", "Mpho")])
    doc["payload"]["added"][0]["action"] = "Let them pass"
    with pytest.raises(DocumentRefused) as refused:
        post.accept_delta(doc)
    assert refused.value.code == "bad_signature" and "altered" in str(refused.value)
    forged = extract(5, key=Ed25519PrivateKey.generate())
    with pytest.raises(DocumentRefused) as refused:
        post.accept_extract(forged)
    assert refused.value.code == "unknown_key" and "does not trust" in str(refused.value)
    _kept(post, store)
    assert hits(post, "Nthabiseng", "Mpho") == []


def test_wrong_post_is_refused(post, store):
    for doc, accept in ((extract(2, post="QNK"), post.accept_extract), (delta(2, post="QNK"), post.accept_delta)):
        with pytest.raises(DocumentRefused) as refused:
            accept(doc)
        assert refused.value.code == "wrong_post" and "'QNK'" in str(refused.value) and "'SNP'" in str(refused.value)
    _kept(post, store)


def test_replayed_and_gapped_sequences_are_refused(post, store):
    assert post.accept_delta(delta(2, added=[entry(4, "Nthabiseng", "Mpho")])) == (1, 0, 0)
    with pytest.raises(DocumentRefused) as refused:  # the same delta again
        post.accept_delta(delta(2, added=[entry(4, "Nthabiseng", "Mpho")]))
    assert refused.value.code == "replay" and "already applied" in str(refused.value)
    with pytest.raises(DocumentRefused) as refused:  # an old extract: would silently drop delta 2
        post.accept_extract(extract(2))
    assert refused.value.code == "replay" and "not newer" in str(refused.value)
    with pytest.raises(DocumentRefused) as refused:  # 3 is missing
        post.accept_delta(delta(4, expired=[1]))
    assert refused.value.code == "gap" and "holds 2" in str(refused.value)
    with pytest.raises(DocumentRefused) as refused:  # right number, but it claims to follow another
        post.accept_delta(delta(3, prev=1, expired=[1]))
    assert refused.value.code == "gap"
    _kept(post, store, seq=2)
    assert hits(post, "Nthabiseng", "Mpho", (2009, 3, 14, "day")) == [4]


def test_delta_adds_changes_and_expires_entries(post, store):
    assert hits(post, "Ramone", "Lineo", (1999, 1, 20, "day")) == [3]
    renamed = entry(2, "Letsie", "Thabang", (1985, 7, 2, "day"), sex="M", category="suspect", action="Arrest")
    assert post.accept_delta(delta(2, added=[entry(4, "Nthabiseng", "Mpho", (2010, 5, 5, "day"))],
                                   changed=[renamed], expired=[3])) == (1, 1, 1)
    assert hits(post, "Nthabiseng", "Mpho", (2010, 5, 5, "day")) == [4]
    assert hits(post, "Ramone", "Lineo", (1999, 1, 20, "day")) == []
    thabang = post.screen(probe("Letsie", "Thabang", (1985, 7, 2, "day"), sex="M"), today=TODAY)
    assert [(f.person_id, f.action) for f in thabang] == [(2, "Arrest")]
    assert sorted(post.entries) == [1, 2, 4]
    # What is on disk is what is held: a restarted node screens the same.
    restarted = PostWatchlist("SNP", TRUSTED, store)
    assert restarted.load_store() and restarted.seq == 2 and sorted(restarted.entries) == [1, 2, 4]
    assert [f.features for f in restarted.screen(probe("Letsie", "Thabang", (1985, 7, 2, "day"), sex="M"),
                                                 today=TODAY)] == [f.features for f in thabang]


def test_review_date_expires_an_entry_locally_between_syncs(store):
    node = PostWatchlist("SNP", TRUSTED, store)
    node.accept_extract(extract(entries=[entry(9, "Ramone", "Lineo", (1999, 1, 20, "day"), review=date(2026, 11, 25))]))
    assert [f.person_id for f in node.screen(probe("Ramone", "Lineo", (1999, 1, 20, "day")), today=TODAY)] == [9]
    assert node.screen(probe("Ramone", "Lineo", (1999, 1, 20, "day")), today=date(2026, 11, 26)) == []


def test_discreet_entry_shows_the_action_only(post):
    [flag] = post.screen(probe("Mokoena", "Palesa", document="RA123456"), today=TODAY)
    assert flag.discreet and flag.reason == "" and flag.action == "Call the CGPU" and flag.score >= 0.99
    assert any("document" in line.lower() for line in flag.explanations)


def test_store_is_unreadable_without_its_key(post, store):
    blob = store.path.read_bytes()
    for secret in (b"Mokoena", b"Palesa", b"RA123456", b"Call the CGPU"):
        assert secret not in blob
    with pytest.raises(zlib.error):
        zlib.decompress(blob[16:])  # not merely compressed
    wrong = EncryptedStore(store.path, parse_key(new_key_text()))
    with pytest.raises(StoreError, match="wrong POST_EXTRACT_KEY"):
        wrong.load()
    with pytest.raises(StoreError, match="wrong POST_EXTRACT_KEY"):
        PostWatchlist("SNP", TRUSTED, wrong).load_store()
    flipped = bytearray(blob)
    flipped[-1] ^= 1
    store.path.write_bytes(bytes(flipped))
    with pytest.raises(StoreError, match="altered"):
        store.load()
    store.path.write_bytes(blob)
    assert json.dumps(store.load()["entries"][0]).count("Mokoena") == 1
    with pytest.raises(StoreError, match="for post 'SNP'"):
        PostWatchlist("QNK", TRUSTED, store).load_store()


def test_transport_reformatting_does_not_break_the_signature(store):
    node = PostWatchlist("SNP", TRUSTED, store)
    doc = json.loads(json.dumps(extract(), indent=2, sort_keys=False))
    assert node.accept_extract(doc) == 1
    reordered = copy.deepcopy(extract(2))
    reordered["payload"] = dict(reversed(list(reordered["payload"].items())))
    assert node.accept_extract(reordered) == 2


@pytest.fixture
def post_app(tmp_path):
    from tip_cases import create_app

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'post.db'}",
                                 "TSELA_ROLE": "post", "TSELA_POST_CODE": "MSB",
                                 "POST_EXTRACT_PATH": str(tmp_path / "post-watchlist.bin"),
                                 "AUDIT_CHECKPOINT_PATH": str(tmp_path / "cp.jsonl")})
    return app


def test_post_cli_apply_refuses_with_reason_and_screens_offline(post_app, tmp_path):
    from screening import watchlist

    with post_app.app_context():
        key = watchlist.signing_key()  # the testing config's fixed key: this node trusts it
    runner = post_app.test_cli_runner()
    good = tmp_path / "extract.json"
    good.write_text(json.dumps(extract(1, post="MSB", key=key)))
    result = runner.invoke(args=["watchlist", "apply", str(good)])
    assert result.exit_code == 0 and "applied extract 1: 3 entries" in result.output
    bad = tmp_path / "delta.json"
    doc = delta(2, post="MSB", key=key, added=[entry(4, "Nthabiseng", "Mpho")])
    doc["payload"]["seq"] = 3
    bad.write_text(json.dumps({"head": 3, "deltas": [doc]}))
    result = runner.invoke(args=["watchlist", "apply", str(bad)])
    assert result.exit_code == 1
    assert "REFUSED (bad_signature)" in result.output and "kept watchlist 1" in result.output
    result = runner.invoke(args=["watchlist", "screen", "--surname", "Mokoena", "--given-names", "Palesa",
                                 "--dob", "2009-03-14", "--document", "RA123456"])
    assert result.exit_code == 0, result.output
    assert "1 flag(s)" in result.output and "action: Call the CGPU" in result.output
    assert "reason:" not in result.output  # discreet
    assert "post MSB: watchlist 1" in runner.invoke(args=["watchlist", "show"]).output
    assert runner.invoke(args=["watchlist", "publish"]).exit_code == 1  # headquarters only


def test_post_role_needs_its_post_code(tmp_path):
    from tip_cases import create_app

    with pytest.raises(RuntimeError, match="TSELA_POST_CODE"):
        create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "TSELA_ROLE": "post"})
    with pytest.raises(RuntimeError, match="TSELA_ROLE must be one of"):
        create_app("testing", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{tmp_path / 'p.db'}", "TSELA_ROLE": "hq"})
