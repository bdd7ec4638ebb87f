"""Partitioning benchmark (issue 10): how long migration 0022 takes to convert an existing crossings table,
and month-range and by-id queries before and after.

Run: nice -n 10 .venv/bin/python -m bench.partition_bench [--rows 1000000] [--pg-url URL]

The database named by --pg-url (default postgresql+psycopg://postgres@127.0.0.1:5432/partition_bench) is
wiped, migrated to 0021 (crossings not partitioned), and filled by INSERT ... SELECT with --rows crossings
over 24 months at 15 posts, one traveller per 5 crossings and one flag per 1,000 crossings; the rollups
are rebuilt as an installation would hold them. Then the queries are timed, `flask db upgrade` (0022) is
timed, and the same queries are timed again. Every figure is printed with the load average.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time

import sqlalchemy as sa

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/partition_bench"

QUERIES = {
    "one month by post and direction": (
        "SELECT border_post_id, direction, count(*) FROM crossings "
        "WHERE crossed_at >= '2026-03-01 00:00+00' AND crossed_at < '2026-04-01 00:00+00' GROUP BY 1, 2"),
    "three months, distinct travellers": (
        "SELECT count(DISTINCT traveller_id) FROM crossings "
        "WHERE crossed_at >= '2026-01-01 00:00+00' AND crossed_at < '2026-04-01 00:00+00'"),
    "one post, one week": (
        "SELECT id, surname, crossed_at FROM crossings WHERE border_post_id = 3 "
        "AND crossed_at >= '2026-05-04 00:00+00' AND crossed_at < '2026-05-11 00:00+00' ORDER BY crossed_at"),
    "50 newest flags with their crossing (by id)": (
        "SELECT f.id, c.surname, c.crossed_at FROM flags f JOIN crossings c ON c.id = f.crossing_id "
        "ORDER BY f.created_at DESC LIMIT 50"),
    "one crossing by id": "SELECT * FROM crossings WHERE id = :id",
}


def loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def _app(url: str):
    from tip_cases import create_app

    return create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})


def load(url: str, rows: int) -> None:
    from flask_migrate import upgrade

    from tip_cases.extensions import db
    from tip_cases.reports import rollup_sql

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    app = _app(url)
    with app.app_context():
        upgrade(revision="0021_traveller_keys")
        db.engine.dispose()
    engine = sa.create_engine(url)
    t = time.perf_counter()
    with engine.begin() as conn:
        # The triggers skip while the rollups are not built; they are rebuilt once after the load.
        off = conn.execute(sa.text("DELETE FROM stat_rollup_state RETURNING offset_minutes")).scalar_one()
        conn.execute(sa.text(
            "INSERT INTO travellers (surname, given_names, sex, crossing_count, created_at, updated_at) "
            "SELECT 'T' || g, 'G', CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END, 5, now(), now() "
            "FROM generate_series(1, :n) g"), {"n": max(rows // 5, 1)})
        conn.execute(sa.text(
            "INSERT INTO crossings (source, external_id, border_post_id, direction, crossed_at, surname, "
            "given_names, sex, nationality, document_number, dob_year, created_at, traveller_id, consent_document) "
            "SELECT 'bench', 'E' || g, 1 + (g::bigint * 7919) % 15, CASE WHEN g % 2 = 0 THEN 'entry' ELSE 'exit' END, "
            "timestamptz '2025-01-01 00:00+00' + (((g::bigint * 104729) % :n)::float / :n) * interval '730 days', "
            "'S' || (g % 50000), 'G', CASE WHEN g % 2 = 0 THEN 'F' ELSE 'M' END, 'LSO', 'RA' || g, "
            "1950 + g % 60, now(), 1 + g % :t, false FROM generate_series(1, :n) g"),
            {"n": rows, "t": max(rows // 5, 1)})
        conn.execute(sa.text(
            "INSERT INTO flags (kind, crossing_id, border_post_id, score, priority, reason, action, status, "
            "created_at, version) SELECT 'identity', id, border_post_id, 0.9, 'normal', '', '', 'new', crossed_at, 1 "
            "FROM crossings WHERE id % 1000 = 0"))
        conn.execute(sa.text("INSERT INTO stat_rollup_state (id, offset_minutes, rebuilt_at) VALUES (1, :o, now())"),
                     {"o": off})
        for stmt in rollup_sql.rebuild("postgresql"):
            conn.execute(sa.text(stmt))
    print(f"loaded {rows:,} crossings (and rollups) in {time.perf_counter() - t:.1f} s  [load {loadavg()}]",
          flush=True)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def measure(url: str, label: str, rows: int, repeat: int) -> dict[str, tuple[float, float]]:
    engine = sa.create_engine(url)
    rng = random.Random(1)
    out = {}
    with engine.connect() as conn:
        for name, sql in QUERIES.items():
            times = []
            for i in range(repeat + 2):
                t = time.perf_counter()
                conn.execute(sa.text(sql), {"id": rng.randrange(1, rows)}).all()
                if i >= 2:  # two warm-up runs
                    times.append((time.perf_counter() - t) * 1000)
            times.sort()
            p50, p95 = statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]
            out[name] = (p50, p95)
            print(f"{label:7} {name:45} p50 {p50:8.2f} ms  p95 {p95:8.2f} ms  [load {loadavg()}]", flush=True)
    engine.dispose()
    return out


def migrate(url: str) -> float:
    from flask_migrate import upgrade

    from tip_cases.extensions import db

    app = _app(url)
    with app.app_context():
        t = time.perf_counter()
        upgrade()
        took = time.perf_counter() - t
        db.engine.dispose()
    return took


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--pg-url", default=DEFAULT_URL)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()
    load(args.pg_url, args.rows)
    engine = sa.create_engine(args.pg_url)
    with engine.connect() as conn:
        before = conn.execute(sa.text("SELECT count(*), sum(id::bigint), max(id) FROM crossings")).one()
    measure(args.pg_url, "before", args.rows, args.repeat)
    print(f"migration 0022 (convert {args.rows:,} crossings) started  [load {loadavg()}]", flush=True)
    took = migrate(args.pg_url)
    print(f"migration 0022 took {took:.1f} s  [load {loadavg()}]", flush=True)
    with engine.connect() as conn:
        after = conn.execute(sa.text("SELECT count(*), sum(id::bigint), max(id) FROM crossings")).one()
        parts = conn.execute(sa.text("SELECT count(*) FROM pg_inherits WHERE inhparent = 'crossings'::regclass"))
        print(f"rows before {tuple(before)} after {tuple(after)}; partitions {parts.scalar_one()}", flush=True)
    engine.dispose()
    assert tuple(before) == tuple(after), "rows lost or changed"
    with sa.create_engine(args.pg_url).connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(sa.text("VACUUM ANALYZE crossings"))
    measure(args.pg_url, "after", args.rows, args.repeat)


if __name__ == "__main__":
    main()
