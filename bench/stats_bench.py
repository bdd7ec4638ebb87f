"""Statistics benchmark: the managers' statistics over 1,000,000 crossings, live queries against rollups.

Run: .venv/bin/python -m bench.stats_bench [--url postgresql+psycopg://postgres@127.0.0.1:5432/tsela_stats]
       [--crossings 1000000] [--cases 1000] [--repeats 15] [--skip-load]

It DROPS and recreates the public schema of the given database, migrates it and bulk-loads
crossings, flags and cases with COPY (bench.dashboard_bench.load; the rollup triggers run during the
COPY, as they would for any writer), checks that the rollups match a full rebuild, then times the
statistics service for 12 months and all posts (and for one post, and the dashboard's per-day
counts) both ways: live (stats.statistics(f, live=True), today's queries over crossings) and from
the rollups (the default). It asserts that both give identical tables. Target: p95 < 1 s.
"""

from __future__ import annotations

import argparse
import time
from datetime import timedelta

import sqlalchemy as sa

from bench.dashboard_bench import load, pct

DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/tsela_stats"
TARGET_P95_MS = 1000.0


def _time(fn, repeats: int) -> tuple[list[float], object]:
    fn()  # warm-up: plans and caches
    times, out = [], None
    for _ in range(repeats):
        t = time.perf_counter()
        out = fn()
        times.append((time.perf_counter() - t) * 1000)
    return times, out


def measure(url: str, repeats: int) -> None:
    from tip_cases import create_app
    from tip_cases.extensions import db, utcnow
    from tip_cases.reports import rollups, stats

    app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": url, "SERVER_NAME": "localhost"})
    with app.app_context():
        sizes = {t: db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one()  # noqa: S608
                 for t in ("crossings", "stat_crossings_daily", "stat_crossings_people", "stat_traveller_days",
                           "stat_flags_daily")}
        print("rows: " + ", ".join(f"{k} {v:,}" for k, v in sizes.items()))
        today = utcnow().astimezone(stats._tz()).date()
        f = stats.Filters(start=today - timedelta(days=364), end=today)
        one_post = stats.Filters(start=f.start, end=f.end, post_id=stats.posts()[0].id)
        now = utcnow()
        results = {}
        for label, call in (
                ("statistics, 12 months, all posts", lambda live: (lambda: stats.statistics(f, live=live))),
                ("statistics, 12 months, one post", lambda live: (lambda: stats.statistics(one_post, live=live))),
                ("dashboard, 90 days", lambda live: (lambda: stats.dashboard(now, 90, live=live).per_day))):
            for live in (True, None):
                times, out = _time(call(live), repeats)
                db.session.rollback()
                results[(label, live)] = out
                name = "live   " if live else "rollups"
                verdict = "" if "statistics" not in label else (
                    " OK" if pct(times, 0.95) < TARGET_P95_MS else " MISSES target")
                print(f"{label:34s} {name} n={len(times):3d}  p50 {pct(times, 0.5):7.1f} ms  "
                      f"p95 {pct(times, 0.95):7.1f} ms{verdict}", flush=True)
            assert results[(label, True)] == results[(label, None)], f"{label}: rollups differ from live"
        print("rollups and live queries give identical tables: yes")
        t = time.perf_counter()
        rollups.rebuild(db.session, now=utcnow())
        db.session.commit()
        print(f"full rebuild (flask reports rollup --rebuild): {time.perf_counter() - t:.1f} s")
        assert stats.statistics(f) == results[("statistics, 12 months, all posts", True)]
        db.session.remove()
        db.engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--url", default=DEFAULT_URL)
    ap.add_argument("--crossings", type=int, default=1_000_000)
    ap.add_argument("--cases", type=int, default=1_000)
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--skip-load", action="store_true", help="reuse the data already loaded")
    args = ap.parse_args()
    if not args.skip_load:
        t = time.perf_counter()
        print(f"loading {args.crossings:,} crossings over 365 days by COPY (rollup triggers on) ...", flush=True)
        load(args.url, args.crossings, args.cases, 365)
        print(f"loaded in {time.perf_counter() - t:.0f} s", flush=True)
    measure(args.url, args.repeats)


if __name__ == "__main__":
    main()
