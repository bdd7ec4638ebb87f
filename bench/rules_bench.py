"""The rules stage of `screening resolve` (issue 10): travellers judged a second, over a backlog and again.

Runs on a copy of a database already loaded (for example by `bench.scale_bench.load`): the copy is made with
`CREATE DATABASE ... TEMPLATE`, so the loaded one keeps no flags. A seeded sample of travellers is marked due
and `handlers.due_rules` (what `flask --app tip_cases screening resolve` runs for the travellers it changed)
is timed twice: first with the findings still to raise (a backlog: what a first resolution after a bulk import
meets), then again on the same travellers with nothing left to raise (the steady state).

    .venv/bin/python -m bench.rules_bench --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/tsela_r1m --due 3000
"""

from __future__ import annotations

import argparse
import random
import resource
import time

import psycopg
from sqlalchemy import func, select, update


def _admin(url: str) -> tuple[str, str]:
    base, name = url.rsplit("/", 1)
    return base.replace("postgresql+psycopg://", "postgresql://") + "/postgres", name


def copy_database(url: str) -> str:
    admin, name = _admin(url)
    copy = f"{name}_rules_bench"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{copy}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{copy}" TEMPLATE "{name}"')
    return url.rsplit("/", 1)[0] + "/" + copy


def drop_database(url: str) -> None:
    admin, name = _admin(url)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def run(url: str, due: int, seed: int) -> None:
    from bench.scale_bench import NOW, _app
    from screening import handlers
    from screening.models import Flag, Traveller
    from tip_cases.extensions import db

    app = _app(url)
    with app.app_context():
        s = db.session
        ids = list(s.execute(select(Traveller.id).order_by(Traveller.id)).scalars())
        pick = random.Random(seed).sample(ids, min(due, len(ids)))
        for label in ("backlog", "again"):
            s.execute(update(Traveller).where(Traveller.patterns_due.is_(True)).values(patterns_due=False))
            s.execute(update(Traveller).where(Traveller.id.in_(pick)).values(patterns_due=True))
            s.commit()
            before = s.execute(select(func.count()).select_from(Flag)).scalar_one()
            wall, cpu = time.perf_counter(), time.process_time()
            raised = handlers.due_rules(NOW)
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            after = s.execute(select(func.count()).select_from(Flag)).scalar_one()
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
            print(f"{label}: {len(pick):,} travellers due, {raised:,} flags raised ({after - before:,} stored) in "
                  f"{wall:.1f} s wall, {cpu:.1f} s CPU: {len(pick) / wall:.1f} travellers/s; peak {peak:.0f} MiB",
                  flush=True)
        db.engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pg-url", required=True, help="a loaded database (left unchanged: a copy is used)")
    parser.add_argument("--due", type=int, default=3000, help="travellers marked due")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args(argv)
    copy = copy_database(args.pg_url)
    try:
        run(copy, args.due, args.seed)
    finally:
        drop_database(copy)


if __name__ == "__main__":
    main()
