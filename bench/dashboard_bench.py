"""Dashboard benchmark: the managers' dashboard over 1,000,000 crossings and 10,000 cases in PostgreSQL.

Run: .venv/bin/python -m bench.dashboard_bench [--url postgresql+psycopg://postgres@127.0.0.1:5432/tsela_reports]
       [--crossings 1000000] [--cases 10000] [--span-days 365] [--requests 40] [--skip-load]

It DROPS and recreates the public schema of the given database, migrates it, bulk-loads crossings
from bench/generate.py with COPY (plus flags, cases, persons in cases, tasks, referrals and closure
requests), then signs in as a manager through the real login pages and times GET /reports/ (the
whole request: queries and rendering), printing p50/p95/max. Target: p95 < 500 ms.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from bench.generate import BORDER_POSTS as GEN_POSTS
from bench.generate import generate_crossings, generate_persons

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tsela_reports"
TARGET_P95_MS = 500.0


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def _copy(conn, table: sa.Table, rows: list[dict], now: datetime) -> int:
    """COPY rows into a table, filling the model's Python-side defaults that COPY would skip."""
    if not rows:
        return 0
    present = set(rows[0]) if rows else set()
    cols = [c for c in table.columns if c.name in present or (c.default is not None and not c.primary_key)]
    names = [c.name for c in cols]
    defaults = {}
    for c in cols:
        if c.default is not None:
            arg = c.default.arg
            defaults[c.name] = (now if callable(arg) else arg)
    buf_rows = []
    for r in rows:
        values = []
        for c in cols:
            v = r.get(c.name, defaults.get(c.name))
            if isinstance(v, (list, dict)):
                v = json.dumps(v)
            values.append(v)
        buf_rows.append(values)
    raw = conn.connection.dbapi_connection
    with raw.cursor() as cur, cur.copy(f'COPY "{table.name}" ({", ".join(names)}) FROM STDIN') as copy:
        for values in buf_rows:
            copy.write_row(values)
    return len(rows)


def load(url: str, n_crossings: int, n_cases: int, span_days: int, seed: int = 7) -> None:
    from flask_migrate import upgrade

    from tip_cases import create_app
    from tip_cases.extensions import db

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()
    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url})
    with app.app_context():
        upgrade()
        db.engine.dispose()

    from screening.models import Crossing, Flag, Person, Traveller
    from tip_cases.cases import models as cm
    from tip_cases.models import BorderPost, User

    rng = random.Random(seed)
    now = datetime.now(UTC)
    start = now - timedelta(days=span_days)
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        posts = {name: pid for pid, name in conn.execute(sa.select(BorderPost.id, BorderPost.name))}
        # The generator's post codes differ from the reference data's; its names are the same.
        gen_to_id = {code: posts.get(name, next(iter(posts.values()))) for code, name, _share in GEN_POSTS}

        t = time.perf_counter()
        persons = generate_persons(20_000, seed=seed)
        # Each generated person is one traveller, as identity resolution would group them; 2 % of
        # crossings stay unlinked (not yet resolved) and count as persons of their own.
        traveller_rows = []
        for p in persons:
            parts = [int(x) for x in p["date_of_birth"].split("-")] if p["date_of_birth"] else []
            traveller_rows.append({
                "id": p["person_id"] + 1, "surname": p["surname"], "given_names": p["given_names"],
                "sex": p["sex"], "nationality": p["nationality"], "dob_year": parts[0] if parts else None,
                "dob_month": parts[1] if len(parts) > 1 else None, "dob_day": parts[2] if len(parts) > 2 else None,
                "dob_precision": ["year", "month", "day"][len(parts) - 1] if parts else None})
        _copy(conn, Traveller.__table__, traveller_rows, now)
        from sqlalchemy.orm import Session

        from screening import partitions

        # History goes straight to its month's partition, not to the default one (PostgreSQL, 0022).
        partitions.add_months(Session(bind=conn), start, now)
        loaded = 0
        chunk = 100_000
        flag_rows = []
        statuses = ["new", "acknowledged", "acknowledged", "confirmed", "not_same_person", "not_same_person",
                    "escalated"]
        next_id = 1
        while loaded < n_crossings:
            n = min(chunk, n_crossings - loaded)
            rows = []
            for r in generate_crossings(persons, n, seed=seed + loaded, start=start, days=span_days):
                dob = r["date_of_birth"] or ""
                parts = [int(p) for p in dob.split("-")] if dob else []
                at = datetime.fromisoformat(r["crossed_at"])
                rows.append({
                    "id": next_id, "source": "bench", "external_id": r["external_id"] + f"-{loaded}",
                    "border_post_id": gen_to_id[r["border_post"]], "direction": r["direction"], "crossed_at": at,
                    "surname": r["surname"], "given_names": r["given_names"], "sex": r["sex"],
                    "nationality": r["nationality"], "document_type": r["document_type"] or None,
                    "document_number": r["document_number"] or None, "document_country": r["document_country"] or None,
                    "dob_year": parts[0] if parts else None, "dob_month": parts[1] if len(parts) > 1 else None,
                    "dob_day": parts[2] if len(parts) > 2 else None,
                    "dob_precision": ["year", "month", "day"][len(parts) - 1] if parts else None, "created_at": at,
                    "traveller_id": None if next_id % 50 == 0 else r["person_id"] + 1})
                if rng.random() < 0.01:  # 1 % of crossings raise a flag
                    status = rng.choice(statuses)
                    acked = None if status == "new" else at + timedelta(minutes=rng.expovariate(1 / 12))
                    flag_rows.append({"crossing_id": next_id, "border_post_id": rows[-1]["border_post_id"],
                                      "score": 0.85, "status": status, "created_at": at, "acknowledged_at": acked,
                                      "kind": "identity", "priority": "normal", "reason": "", "action": ""})
                next_id += 1
            _copy(conn, Crossing.__table__, rows, now)
            loaded += n
            print(f"  crossings: {loaded:,} ({time.perf_counter() - t:.0f} s)", flush=True)
        _copy(conn, Flag.__table__, flag_rows, now)
        print(f"  flags: {len(flag_rows):,}", flush=True)

        # Investigators, persons of interest and cases.
        from tip_cases.security import hash_password

        pw = hash_password("bench-password-not-used")
        users = [{"id": 1000 + i, "username": f"inv{i}", "full_name": f"Investigator {i}", "role": "investigator",
                  "password_hash": pw} for i in range(20)]
        _copy(conn, User.__table__, users, now)
        person_rows, cp_rows, case_rows, task_rows, ref_rows, cr_rows = [], [], [], [], [], []
        kinds = ["trafficking", "trafficking", "smuggling", "both"]
        case_statuses = ["Active", "Active", "FollowUp", "Closed", "ClosedReferred"]
        stages = ["identification", "investigation", "referred_for_prosecution", "in_court"]
        pid = 1
        for i in range(1, n_cases + 1):
            opened = start + timedelta(seconds=rng.randrange(span_days * 86400))
            status = rng.choice(case_statuses)
            case_rows.append({"id": i, "reference": f"TIP-B-{i:06d}", "kind": rng.choice(kinds), "status": status,
                              "stage": "closed" if status.startswith("Closed") else rng.choice(stages),
                              "priority": "normal", "title": f"Bench case {i}", "owner_id": rng.choice(users)["id"],
                              "opened_at": opened})
            for role in ("victim", "perpetrator") if rng.random() < 0.5 else ("victim",):
                person_rows.append({"id": pid, "surname": "Bench", "given_names": f"P{pid}",
                                    "sex": rng.choice("FM"), "nationality": rng.choice(["LSO", "LSO", "ZAF"]),
                                    "dob_year": rng.randint(1960, 2012), "dob_month": 1, "dob_day": 1,
                                    "dob_precision": "day", "category": role, "alert_kind": "information"})
                cp_rows.append({"case_id": i, "person_id": pid, "role": role,
                                "exploitation_types": [rng.choice(["ForcedLabour", "SexualExploitation"])]
                                if role == "victim" else None,
                                "perpetrator_role": "Transporter" if role == "perpetrator" else None})
                pid += 1
            for _ in range(2):
                task_rows.append({"case_id": i, "title": "Follow up", "assignee_id": rng.choice(users)["id"],
                                  "due_on": (opened + timedelta(days=rng.randint(1, 60))).date(),
                                  "completed_at": opened if rng.random() < 0.6 else None})
            if rng.random() < 0.3:
                ref_rows.append({"case_id": i, "organisation": "Shelter", "reason": "AdditionalServicesRequired",
                                 "referred_on": opened.date(), "ack_due_at": opened + timedelta(days=3),
                                 "status": rng.choice(["sent", "acknowledged", "accepted"])})
            if status == "Active" and rng.random() < 0.02:
                cr_rows.append({"case_id": i, "target_status": "Closed", "reason": "Done",
                                "requested_by_id": users[0]["id"], "decision": "pending"})
        _copy(conn, Person.__table__, person_rows, now)
        _copy(conn, cm.Case.__table__, case_rows, now)
        _copy(conn, cm.CasePerson.__table__, cp_rows, now)
        _copy(conn, cm.CaseTask.__table__, task_rows, now)
        _copy(conn, cm.Referral.__table__, ref_rows, now)
        _copy(conn, cm.ClosureRequest.__table__, cr_rows, now)
        for table in ("crossings", "flags", "persons", "cases", "travellers"):
            sql = f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))"  # noqa: S608
            conn.execute(sa.text(sql))
        print(f"  cases: {len(case_rows):,}, persons in cases: {len(cp_rows):,}, tasks: {len(task_rows):,}, "
              f"referrals: {len(ref_rows):,}, closures pending: {len(cr_rows):,}", flush=True)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="AUTOCOMMIT").execute(sa.text("VACUUM ANALYZE"))
    engine.dispose()


def measure(url: str, n_requests: int, path, role: str = "manager", post_code: str | None = None,
            warmup: int = 3, cold: list[float] | None = None) -> list[float]:
    """Milliseconds of n_requests GETs of path (a str, or a function of the request number) signed in as role,
    after `warmup` requests (their times go to `cold` when given)."""
    from tests import factories
    from tests.conftest import IsolatedClient, login
    from tip_cases import create_app
    from tip_cases.extensions import db

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "localhost"})
    app.test_client_class = IsolatedClient  # each request in its own app context, as in production
    with app.app_context():
        user = factories.make_user(role, post_code=post_code, username=f"bench{role[:4]}{time.time_ns()}")
        client = app.test_client()
        browser = login(client, user)
        times = []
        for i in range(n_requests + warmup):
            t = time.perf_counter()
            resp = browser.get(path(i) if callable(path) else path)
            elapsed = (time.perf_counter() - t) * 1000
            assert resp.status_code == 200, resp.status_code
            if i >= warmup:  # warm-up: the first requests compile templates and fill caches
                times.append(elapsed)
            elif cold is not None:
                cold.append(elapsed)
        db.session.remove()
        db.engine.dispose()
    return times


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--crossings", type=int, default=1_000_000)
    ap.add_argument("--cases", type=int, default=10_000)
    ap.add_argument("--span-days", type=int, default=365, help="crossings spread over this many days up to now")
    ap.add_argument("--requests", type=int, default=40)
    ap.add_argument("--skip-load", action="store_true", help="reuse the data already loaded")
    args = ap.parse_args()
    if not args.skip_load:
        t = time.perf_counter()
        print(f"loading {args.crossings:,} crossings over {args.span_days} days and {args.cases:,} cases ...")
        load(args.url, args.crossings, args.cases, args.span_days)
        print(f"loaded in {time.perf_counter() - t:.0f} s")
    for path, label in (("/reports/", "dashboard (30 days)"), ("/reports/?days=90", "dashboard (90 days, the longest)"),
                        ("/reports/statistics", "statistics (12 months, all posts)")):
        times = measure(args.url, args.requests if "statistics" not in path else max(5, args.requests // 4), path)
        p95 = pct(times, 0.95)
        verdict = "" if "statistics" in path else (" OK" if p95 < TARGET_P95_MS else " MISSES target")
        print(f"{label:36s} n={len(times):3d}  p50 {pct(times, 0.5):7.1f} ms  p95 {p95:7.1f} ms  "
              f"max {max(times):7.1f} ms{verdict}", flush=True)


if __name__ == "__main__":
    main()
