"""Trace benchmark (issue 10): does tracing a person cost the same whatever history is stored?

Run: .venv/bin/python -m bench.trace_bench --crossings 200000 [--pg-url URL] [--reuse] [--probes 200]
       [--whole] [--years Y]

Loads N generated crossings into PostgreSQL as `bench.scale_bench` does (or `--reuse`s its database),
then traces `--probes` persons the ways an officer does (in full, as recorded at a crossing, without a
date of birth, by given names alone, by document alone) through `screening.trace.trace`, in this
process, and prints per kind the p50/p95 wall time and crossings read, and this process's RSS before
and after (VmRSS) and its peak (VmHWM). `--whole` also times one trace through the index of every
crossing the Trace page used before session 8 (`trace.crossings_index`), for the before/after figure.
"""

from __future__ import annotations

import argparse
import random
import statistics
import time
from dataclasses import replace

from bench.scale_bench import DEFAULT_URL, _app, load, pct, reuse


def _status(field: str) -> float:
    """This process's VmRSS or VmHWM in MiB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def probes(persons: list[dict], k: int, seed: int) -> list[tuple[str, object]]:
    from bench.generate import noisy_observation, person_to_identity
    from screening.engine.matching import Identity

    rng = random.Random(seed)
    out = []
    for d in rng.sample(persons, min(k, len(persons))):
        full = person_to_identity(d)
        seen = person_to_identity(noisy_observation(d, rng))
        kind = rng.choice(("full", "seen", "no date of birth", "given names", "document"))
        probe = {"full": full, "seen": seen, "no date of birth": replace(seen, dob=None),
                 "given names": Identity(id=0, surname="", given_names=full.given_names, sex=full.sex),
                 "document": Identity(id=0, surname="", given_names="", documents=full.documents)}[kind]
        out.append((kind, probe))
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--crossings", type=int, default=200_000)
    ap.add_argument("--pg-url", default=DEFAULT_URL)
    ap.add_argument("--reuse", action="store_true", help="the database holds a load of --crossings already")
    ap.add_argument("--probes", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--years", type=int, default=1,
                    help="a decade load (bench.scale_bench --years): its people are the generated year's")
    ap.add_argument("--whole", action="store_true", help="also time one trace through an index of all crossings")
    args = ap.parse_args(argv)

    t = time.perf_counter()
    persons, figures = (reuse if args.reuse else load)(args.pg_url, args.crossings, args.seed, years=args.years)
    if not args.reuse:
        print(f"loaded {args.crossings:,} crossings in {time.perf_counter() - t:.0f} s "
              f"(COPY {figures['copy_s']:.0f} s, keys {figures['rebuild_keys_s']:.0f} s, {figures['keys']:,} key rows)")

    from screening import trace
    from tip_cases.extensions import db

    app = _app(args.pg_url)
    with app.app_context():
        work = probes(persons, args.probes, args.seed + 1)
        trace.trace(work[:5], min_score=0.5)  # warm: model, caches, connection
        rss0 = _status("VmRSS")
        times: dict[str, list[float]] = {}
        read: dict[str, list[int]] = {}
        for kind, probe in work:
            t = time.perf_counter()
            trace.trace([("p", probe)], min_score=0.5, limit=100)
            times.setdefault(kind, []).append((time.perf_counter() - t) * 1000)
            read.setdefault(kind, []).append(len(trace.probe_index(db.session, probe)[0]))
            db.session.rollback()
        rss1 = _status("VmRSS")
        print(f"trace through the key table, {args.crossings:,} crossings stored, {len(work)} probes:")
        print(f"  {'kind':<18} {'n':>4} {'p50 ms':>8} {'p95 ms':>8} {'crossings read p50/max':>24}")
        every = []
        for kind in sorted(times):
            ms, rows = times[kind], read[kind]
            every += ms
            print(f"  {kind:<18} {len(ms):>4} {statistics.median(ms):>8.1f} {pct(ms, 0.95):>8.1f} "
                  f"{statistics.median(rows):>14.0f} / {max(rows):,}")
        print(f"  {'all':<18} {len(every):>4} {statistics.median(every):>8.1f} {pct(every, 0.95):>8.1f}")
        print(f"  RSS {rss0:.0f} MiB before the probes, {rss1:.0f} MiB after; peak (VmHWM) {_status('VmHWM'):.0f} MiB")
        if args.whole:
            t = time.perf_counter()
            index, travellers = trace.crossings_index(db.session)
            built = time.perf_counter() - t
            print(f"  before (index of every crossing per trace): built in {built:.1f} s, {len(index):,} crossings; "
                  f"RSS {_status('VmRSS'):.0f} MiB, peak {_status('VmHWM'):.0f} MiB")
            del index, travellers


if __name__ == "__main__":
    main()
