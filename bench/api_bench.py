"""End-to-end benchmark: crossings per second through POST /api/v1/crossings (validate, store, screen, flag).

Run: .venv/bin/python -m bench.api_bench [--db sqlite|postgresql] [--pg-url URL] [--persons 10000]
       [--crossings 20000] [--batch 1000] [--poi-share 0.02]
The app runs in-process (WSGI test client, one worker): the figure is what one web worker sustains.
The PostgreSQL database named by --pg-url (default $TEST_DATABASE_URL) is wiped first.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta

TARGET_PER_S = 1000.0


def _prepare_database(kind: str, pg_url: str | None) -> str:
    import sqlalchemy as sa

    if kind == "sqlite":
        path = os.path.join(tempfile.mkdtemp(prefix="tsela-bench-"), "bench.db")
        return f"sqlite:///{path}"
    url = pg_url or os.environ.get("TEST_DATABASE_URL") or "postgresql+psycopg://postgres@127.0.0.1:5432/tsela_bench"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def _load_persons(n: int, seed: int) -> list[dict]:
    """Persons of interest inserted in bulk (the person services are for one-at-a-time edits)."""
    from bench.generate import generate_persons

    people = generate_persons(n, seed=seed)
    insert_persons(people)
    return people


def insert_persons(people: list[dict]) -> None:
    """Generated persons (`bench.generate.generate_persons`) stored as persons of interest, ids from 1, committed."""
    from sqlalchemy import insert

    from screening.engine.normalize import parse_partial_date
    from screening.models import Person, PersonAlias, PersonDocument
    from screening.screener import bump_generation
    from tip_cases.extensions import db

    now = datetime.now(UTC)
    rows, docs, aliases = [], [], []
    for i, p in enumerate(people, start=1):
        dob = parse_partial_date(p["date_of_birth"])
        rows.append({"id": i, "surname": p["surname"], "given_names": p["given_names"], "sex": p["sex"],
                     "dob_year": dob.year, "dob_month": dob.month, "dob_day": dob.day, "dob_precision": dob.precision,
                     "nationality": p["nationality"], "category": "suspect", "alert_kind": "suspect",
                     "discreet": False, "screening_active": True, "alert_reason": "benchmark",
                     "officer_action": "Refer to second line", "source": "national_list", "version": 1,
                     "created_at": now, "updated_at": now})
        docs.append({"person_id": i, "type": p["document_type"], "number": p["document_number"],
                     "country": p["document_country"]})
        aliases += [{"person_id": i, "surname": s, "given_names": g} for s, g in p["aliases"]]
    for table, data in ((Person, rows), (PersonDocument, docs), (PersonAlias, aliases)):
        for start in range(0, len(data), 5000):
            db.session.execute(insert(table), data[start:start + 5000])
    bump_generation(db.session)
    db.session.commit()


def _batches(persons: list[dict], n: int, batch: int, poi_share: float, seed: int) -> list[bytes]:
    from bench.generate import BORDER_POSTS, generate_crossings, generate_persons

    rng = random.Random(seed)
    names = {code: name for code, name, _ in BORDER_POSTS}
    travellers = generate_persons(max(n // 4, 100), seed=seed + 1, id_offset=10_000_000)
    crowd = generate_crossings(travellers, n, seed=seed, start=datetime.now(UTC) - timedelta(days=30))
    hits = generate_crossings(persons, max(1, int(n * poi_share)), seed=seed + 2,
                              start=datetime.now(UTC) - timedelta(days=30))
    rows = crowd[: n - len(hits)] + hits
    rng.shuffle(rows)
    items = []
    for i, r in enumerate(rows):
        items.append({
            "external_id": f"B{i:08d}", "border_post": names[r["border_post"]], "direction": r["direction"],
            "crossed_at": r["crossed_at"], "surname": r["surname"], "given_names": r["given_names"],
            "sex": r["sex"], "date_of_birth": r["date_of_birth"] or None, "nationality": r["nationality"],
            "document_type": r["document_type"], "document_number": r["document_number"] or None,
            "document_country": r["document_country"], "address": r["address"],
        })
    return [json.dumps({"crossings": items[s:s + batch]}).encode() for s in range(0, len(items), batch)]


def _overrides() -> dict:
    """Config overrides from TSELA_BENCH_CONFIG='{"KEY": value}' (e.g. to compare tracing settings)."""
    import json
    import os

    return json.loads(os.environ.get("TSELA_BENCH_CONFIG", "{}"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url")
    parser.add_argument("--persons", type=int, default=10_000)
    parser.add_argument("--crossings", type=int, default=20_000)
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--poi-share", type=float, default=0.02, help="share of crossings by persons of interest")
    args = parser.parse_args()

    from flask_migrate import upgrade

    from tip_cases import accounts, create_app
    from tip_cases.extensions import db

    url = _prepare_database(args.db, args.pg_url)
    # Throughput of one client is the figure: the per-client rate limit (600/min) would cap it.
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, **_overrides()})
    with app.app_context():
        upgrade()
        t = time.perf_counter()
        persons = _load_persons(args.persons, seed=11)
        load_s = time.perf_counter() - t
        _, token = accounts.create_api_client("bench", None)
        db.session.commit()
        bodies = _batches(persons, args.crossings, args.batch, args.poi_share, seed=5)
        db.session.remove()

    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    # The first request builds the in-process index over persons of interest (once per worker).
    warm = json.dumps({"crossings": [{"external_id": "warm-up", "border_post": "Maseru Bridge",
                                      "direction": "entry", "crossed_at": datetime.now(UTC).isoformat(),
                                      "surname": "Warm", "given_names": "Up"}]})
    t = time.perf_counter()
    assert client.post("/api/v1/crossings", data=warm, headers=headers).status_code == 200
    index_s = time.perf_counter() - t

    latencies, accepted, flags = [], 0, 0
    started = time.perf_counter()
    for body in bodies:
        t = time.perf_counter()
        resp = client.post("/api/v1/crossings", data=body, headers=headers)
        latencies.append(time.perf_counter() - t)
        assert resp.status_code == 200, resp.get_data(as_text=True)[:500]
        data = resp.get_json()
        accepted += data["accepted"]
        flags += sum(len(r["flags"]) for r in data["results"])
    total = time.perf_counter() - started
    rate = accepted / total

    print(f"backend: {args.db}  persons of interest: {args.persons:,} (bulk load {load_s:.1f} s)")
    print(f"index build on first request: {index_s * 1000:.0f} ms")
    print(f"crossings: {accepted:,} accepted in {len(bodies)} batches of {args.batch} "
          f"({args.poi_share:.0%} by persons of interest); flags raised: {flags}")
    print(f"batch latency: p50 {statistics.median(latencies) * 1000:.0f} ms, "
          f"max {max(latencies) * 1000:.0f} ms")
    status = "OK" if rate >= TARGET_PER_S else "BELOW TARGET"
    print(f"throughput: {rate:,.0f} crossings/s sustained over {total:.1f} s "
          f"(target >= {TARGET_PER_S:,.0f}/s: {status})")


if __name__ == "__main__":
    main()
