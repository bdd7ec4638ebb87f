"""Do two API workers store more crossings a second than one? (issue 10: the API target is for two workers.)

Run: .venv/bin/python -m bench.api_workers_bench --crossings 200000 --pg-url URL --workers 1 2 --batch 25
       [--posted 5000]

Uses a database `bench.scale_bench` loaded with --crossings (reused, as `--reuse` does), starts gunicorn with
each worker count in turn, and posts `--posted` new crossings by the stored people in batches of `--batch`,
one client per worker (two warm-up batches per client first); prints crossings/s and the load average.
"""

from __future__ import annotations

import argparse
import os
import time

from bench.scale_bench import DEFAULT_URL, Server, bodies_of, post_all, reuse, traffic


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crossings", type=int, default=200_000, help="what the database was loaded with")
    ap.add_argument("--pg-url", default=DEFAULT_URL)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--batch", type=int, default=25)
    ap.add_argument("--posted", type=int, default=5000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--port", type=int, default=8790)
    args = ap.parse_args(argv)
    persons, figures = reuse(args.pg_url, args.crossings, args.seed)
    for workers in args.workers:
        server = Server(args.pg_url, workers, args.port + workers, "database")
        try:
            items = traffic(persons, args.posted + 2 * workers * args.batch, seed=workers * 11 + 3,
                            prefix=f"W{workers}-{time.time_ns()}-")
            bodies = bodies_of(items, args.batch)
            post_all(server.port, figures["token"], bodies[:2 * workers], workers)
            n, sec, _ = post_all(server.port, figures["token"], bodies[2 * workers:], workers)
            print(f"workers {workers}, batches of {args.batch}: {n:,} crossings in {sec:.1f} s = {n / sec:.0f}/s "
                  f"(load average {os.getloadavg()[0]:.1f})", flush=True)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
