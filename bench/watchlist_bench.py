"""Post-node watchlist benchmark: extract build and load for N persons of interest, delta publish and apply.

Run: .venv/bin/python -m bench.watchlist_bench [--db sqlite|postgresql] [--pg-url URL] [--persons 100000]
       [--changes 1000] [--probes 1000]
Headquarters runs in-process (WSGI test client); the post is a PostWatchlist with its encrypted store in a
temporary folder. The PostgreSQL database named by --pg-url (default $TEST_DATABASE_URL) is wiped first.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url")
    parser.add_argument("--persons", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1000, help="persons changed, expired and added for the delta")
    parser.add_argument("--probes", type=int, default=1000)
    args = parser.parse_args()

    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from flask_migrate import upgrade
    from sqlalchemy import insert, update

    from bench.api_bench import _load_persons, _prepare_database
    from bench.generate import generate_persons, noisy_observation, person_to_identity
    from screening import watchlist
    from screening.models import Person
    from screening.postnode import EncryptedStore, PostWatchlist, new_key_text, parse_key
    from tip_cases import accounts, create_app
    from tip_cases.extensions import db

    folder = Path(tempfile.mkdtemp(prefix="tsela-watchlist-bench-"))
    seed = Ed25519PrivateKey.generate().private_bytes_raw()

    url = _prepare_database(args.db, args.pg_url)
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False,
                                     "WATCHLIST_SIGNING_KEY": base64.b64encode(seed).decode()})
    with app.app_context():
        upgrade()
        t = time.perf_counter()
        people = _load_persons(args.persons, seed=11)
        print(f"{args.persons:,} persons of interest loaded in {time.perf_counter() - t:.1f} s ({args.db})")
        _, token = accounts.create_api_client("bench-post", "SNP")
        db.session.commit()
        trusted = watchlist.trusted_keys()

        t = time.perf_counter()
        pub = watchlist.publish(now=datetime.now(UTC))
        db.session.commit()
        publish_s = time.perf_counter() - t
        print(f"publish baseline ({pub.added:,} entries): {publish_s:.2f} s")
        from screening.screener import Screener

        t = time.perf_counter()
        Screener().build(db.session, datetime.now(UTC).date())
        print(f"for comparison, headquarters' own screening index build: {time.perf_counter() - t:.2f} s")
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"}
    t = time.perf_counter()
    resp = client.get("/api/v1/watchlist/extract", headers=headers)
    body = resp.get_data()
    extract_s = time.perf_counter() - t
    assert resp.status_code == 200, body[:300]
    print(f"extract build + sign + serve (GET /api/v1/watchlist/extract): {extract_s:.2f} s, "
          f"{len(body) / 1e6:.1f} MB JSON")

    store = EncryptedStore(folder / "post-watchlist.bin", parse_key(new_key_text()))
    post = PostWatchlist("SNP", trusted, store)
    t = time.perf_counter()
    doc = json.loads(body)
    parse_s = time.perf_counter() - t
    t = time.perf_counter()
    post.accept_extract(doc)
    accept_s = time.perf_counter() - t
    print(f"post load: parse {parse_s:.2f} s + verify, index and encrypted save {accept_s:.2f} s "
          f"= {parse_s + accept_s:.2f} s; store {store.path.stat().st_size / 1e6:.1f} MB")
    t = time.perf_counter()
    restarted = PostWatchlist("SNP", trusted, store)
    restarted.load_store()
    print(f"post restart (decrypt + index from the store): {time.perf_counter() - t:.2f} s, "
          f"{len(restarted.entries):,} entries")
    del restarted

    rng = random.Random(3)
    n = args.changes
    ids = rng.sample(range(1, args.persons + 1), n)
    changed, expired = ids[: n // 2], ids[n // 2: n // 2 + n // 4]
    with app.app_context():
        for pid in changed:
            db.session.execute(update(Person).where(Person.id == pid).values(officer_action="Refer to CGPU now"))
        db.session.execute(update(Person).where(Person.id.in_(expired)).values(screening_active=False))
        now = datetime.now(UTC)
        fresh = generate_persons(n - len(changed) - len(expired), seed=99, id_offset=0)
        db.session.execute(insert(Person), [
            {"id": args.persons + 1 + i, "surname": p["surname"], "given_names": p["given_names"], "sex": p["sex"],
             "nationality": p["nationality"], "category": "suspect", "alert_kind": "suspect", "discreet": False,
             "screening_active": True, "alert_reason": "benchmark", "officer_action": "Refer",
             "source": "national_list", "version": 1, "created_at": now, "updated_at": now}
            for i, p in enumerate(fresh)])
        db.session.commit()
        t = time.perf_counter()
        pub = watchlist.publish(now=datetime.now(UTC))
        db.session.commit()
        print(f"publish delta {pub.seq} (+{pub.added} ~{pub.changed} -{pub.expired}): {time.perf_counter() - t:.2f} s")
        db.session.remove()
    t = time.perf_counter()
    resp = client.get(f"/api/v1/watchlist/deltas?after={post.seq}", headers=headers)
    fetch_s = time.perf_counter() - t
    deltas = resp.get_json()["deltas"]
    t = time.perf_counter()
    for d in deltas:
        post.accept_delta(d)
    apply_s = time.perf_counter() - t
    print(f"delta fetch {fetch_s * 1000:.0f} ms ({len(resp.get_data()) / 1e3:.0f} kB); "
          f"apply (verify, patch index, encrypted save) {apply_s:.2f} s; post now at {post.seq}")

    probes = [person_to_identity(noisy_observation(p, rng)) for p in rng.sample(people, args.probes)]
    times = []
    flagged = 0
    for p in probes:
        t = time.perf_counter()
        flagged += bool(post.screen(p))
        times.append((time.perf_counter() - t) * 1000)
    p95 = statistics.quantiles(times, n=100)[94]
    print(f"post screening: {args.probes} noisy probes of listed persons, p50 {statistics.median(times):.2f} ms, "
          f"p95 {p95:.2f} ms, flagged {flagged / args.probes:.1%}")


if __name__ == "__main__":
    main()
