"""Batch resolution out of core (issue 10): DuckDB single machine and Dask local mode vs in-memory resolve.

For each size: generates crossings with `bench.generate` (as bench/tracing_bench.py: one person per 5
crossings, 365 days, the default noise model), writes them as TSV, then runs each method in its own
subprocess that streams the TSV: `memory` (today's `resolve`, every record in a list), `duckdb`
(`resolve_out_of_core`, shards resolved one at a time in the process) and `dask` (the same, shards
and the blocking keys mapped over a `dask.distributed.LocalCluster` of worker processes). Prints stage times, component
statistics, wall and CPU, peak RSS of all the method's processes (sampled every 0.2 s with psutil, the
Dask workers included) and pairwise P/R/F1 against the generator's truth and against in-memory
`resolve` on the same data.

    .venv/bin/python -m bench.resolve_scale_bench --crossings 100000 1000000
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COLUMNS = ("external_id", "surname", "given_names", "date_of_birth", "sex", "nationality", "document_type",
           "document_number", "document_country", "address", "person_id")


def _cell(v) -> str:
    return "" if v is None else str(v).replace("\t", " ").replace("\n", " ")


def make_data(n: int, seed: int, per_person: int, names: str, path: Path) -> float:
    """Write the crossings TSV row by row (`iter_crossings`): 20M rows as a list would not fit."""
    from bench.generate import generate_persons, iter_crossings

    t0 = time.perf_counter()
    persons = generate_persons(max(n // per_person, 1), seed=seed, names=names)
    rows = iter_crossings(persons, n, seed=seed + 1, start=datetime(2025, 1, 1, tzinfo=UTC), days=365)
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(_cell(r[c]) for c in COLUMNS) + "\n")
    return time.perf_counter() - t0


# A crossings TSV (COLUMNS) or an assignment (crossing id, traveller key) read as (id, k), without quoting
# (names hold quotes); `names` is a parameter: the crossings' columns, or the first and last of them.
_READ = ("CREATE TABLE {} AS SELECT external_id AS id, person_id AS k FROM read_csv(?, delim='\\t', header=false, "
         "quote='', escape='', all_varchar=true, names=?)")


def file_metrics(truth: Path, predicted: Path) -> dict[str, float]:
    """`resolve.pairwise_metrics` in DuckDB over two TSV files: at 20M crossings the truth and each
    assignment as Python dicts take gigabytes in the driver. truth: the crossings TSV (its person_id), or an
    assignment taken as the reference; predicted: an assignment."""
    import duckdb

    from screening.engine.resolve import pair_scores

    assignment = [COLUMNS[0], COLUMNS[-1]]
    con = duckdb.connect()
    con.execute("SET memory_limit='2GB'")
    con.execute(_READ.format("t"), [str(truth), list(COLUMNS) if truth.name.startswith("crossings_") else assignment])
    con.execute(_READ.format("p"), [str(predicted), assignment])
    tp, pp, tt, n_t, n_p = con.execute("""
        WITH j AS (SELECT t.k AS tk, p.k AS pk FROM t JOIN p USING (id))
        SELECT (SELECT sum(n * (n - 1) // 2) FROM (SELECT count(*) AS n FROM j GROUP BY tk, pk)),
               (SELECT sum(n * (n - 1) // 2) FROM (SELECT count(*) AS n FROM p GROUP BY k)),
               (SELECT sum(n * (n - 1) // 2) FROM (SELECT count(*) AS n FROM t GROUP BY k)),
               (SELECT count(*) FROM t), (SELECT count(*) FROM j)""").fetchone()
    con.close()
    if n_t != n_p:
        raise RuntimeError(f"{predicted}: {n_p:,} crossings assigned of {n_t:,}")
    return pair_scores(int(tp or 0), int(pp or 0), int(tt or 0))


def stream_records(path: Path):
    """TravellerRecords as the app builds them (`screening.records.record_of`), one at a time."""
    from screening.engine.matching import Document
    from screening.engine.normalize import parse_partial_date
    from screening.engine.resolve import TravellerRecord

    dates: dict = {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            cid, sur, given, dob, sex, nat, dtype, dnum, dcountry, address, _pid = line.rstrip("\n").split("\t")
            if dob and dob not in dates:
                dates[dob] = parse_partial_date(dob)
            docs = (Document(dtype or None, dnum, dcountry or None),) if dnum else ()
            yield TravellerRecord(cid, sur, given, dates.get(dob), sex or None, nat or None, docs, address)


class PeakRSS:
    """Largest sum of RSS over this process and all its descendants, sampled in a thread."""

    def __init__(self, every: float = 0.2) -> None:
        import psutil

        self._me = psutil.Process()
        self.peak = 0
        self._stop = threading.Event()
        self._every = every
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def sample(self) -> None:
        import psutil

        total = 0
        for p in [self._me, *self._me.children(recursive=True)]:
            try:
                total += p.memory_info().rss
            except psutil.Error:
                continue
        self.peak = max(self.peak, total)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self._every)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        self.sample()
        return self.peak


def _cpu() -> float:
    import resource

    own, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + kids.ru_utime + kids.ru_stime


def worker(kind: str, data: Path, out: Path, work: Path, args) -> dict:
    from screening.engine.resolve import ResolveConfig, resolve
    from screening.engine.resolve_batch import BatchStats, resolve_out_of_core

    peak = PeakRSS()
    wall, cpu0 = time.perf_counter(), _cpu()
    stats = BatchStats()
    if args.progress:  # a long run: the stages finished so far, every 30 s (the figures come at the end)
        def report() -> None:
            while True:
                time.sleep(30)
                args.progress.write_text(json.dumps({"wall": time.perf_counter() - wall, "peak_mib": peak.peak / 2**20,
                                                     "stats": stats.__dict__}))

        threading.Thread(target=report, daemon=True).start()
    extra: dict = {}
    if kind == "memory":
        pairs = resolve(list(stream_records(data)), ResolveConfig()).items()
    elif kind == "duckdb":
        pairs = resolve_out_of_core(stream_records(data), ResolveConfig(), workdir=work / "duckdb",
                                    memory_limit=args.memory_limit, shard_crossings=args.shard_crossings,
                                    component_cap=args.component_cap, stats=stats, processes=args.processes)
    else:
        from dask.distributed import Client, LocalCluster, as_completed

        from screening.engine.resolve_batch import profile_keys, resolve_shard

        cluster = LocalCluster(n_workers=args.dask_workers, threads_per_worker=1, processes=True,
                               dashboard_address=None, memory_limit=args.dask_worker_memory)
        client = Client(cluster)
        extra["dask_workers"] = args.dask_workers

        def bounded_map(fn, items):
            """At most two tasks per worker in flight: the driver holds only those."""
            items = iter(items)
            pending = as_completed()
            for _ in range(2 * args.dask_workers):
                nxt = next(items, None)
                if nxt is not None:
                    pending.add(client.submit(fn, *nxt, pure=False))
            for fut in pending:
                result = fut.result()
                fut.release()
                nxt = next(items, None)
                if nxt is not None:
                    pending.add(client.submit(fn, *nxt, pure=False))
                yield result

        pairs = resolve_out_of_core(stream_records(data), ResolveConfig(), workdir=work / "dask",
                                    memory_limit=args.memory_limit, shard_crossings=args.shard_crossings,
                                    map_shards=lambda shards: bounded_map(resolve_shard, shards),
                                    map_keys=lambda batches: bounded_map(profile_keys, batches),
                                    component_cap=args.component_cap, stats=stats)
    n = 0
    with out.open("w", encoding="utf-8") as f:
        for c, k in pairs:
            f.write(f"{c}\t{k}\n")
            n += 1
    wall = time.perf_counter() - wall
    cpu_driver = _cpu() - cpu0
    if kind == "dask":
        worker_cpu = sum(sum(v) for v in client.run(_worker_cpu).values())
        extra["worker_cpu_seconds"] = worker_cpu
        client.close()
        cluster.close()
    cpu = cpu_driver + extra.get("worker_cpu_seconds", 0)
    return {"kind": kind, "crossings": n, "seconds": wall, "cpu_seconds": cpu,
            "peak_mib": peak.stop() / 2**20, "stats": stats.__dict__, **extra}


def _worker_cpu() -> tuple[float, float]:
    import resource

    u = resource.getrusage(resource.RUSAGE_SELF)
    return (u.ru_utime, u.ru_stime)


def run_worker(kind: str, data: Path, out: Path, work: Path, args) -> dict:
    cmd = [sys.executable, "-m", "bench.resolve_scale_bench", "--worker", kind, "--data", str(data), "--out",
           str(out), "--work", str(work), "--memory-limit", args.memory_limit, "--shard-crossings",
           str(args.shard_crossings), "--dask-workers", str(args.dask_workers),
           "--dask-worker-memory", args.dask_worker_memory, "--processes", str(args.processes),
           *(["--progress", str(args.progress)] if args.progress else []),
           *(["--component-cap", str(args.component_cap)] if args.component_cap is not None else [])]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, env=env, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_assignment(path: Path) -> dict[str, str]:
    with path.open(encoding="utf-8") as f:
        return dict(line.rstrip("\n").split("\t") for line in f)


def run(n: int, args, work: Path) -> None:
    data = (args.data_dir or work) / f"crossings_{n}_{args.names}_s{args.seed}_p{args.per_person}.tsv"
    if data.exists():
        gen_note = f"reused {data}"
    else:
        # In a child process: 4M persons' dicts would stay in this one's heap while the methods run.
        done = subprocess.run([sys.executable, "-m", "bench.resolve_scale_bench", "--generate", str(n),
                               "--data", str(data), "--seed", str(args.seed), "--per-person",
                               str(args.per_person), "--names", args.names],
                              capture_output=True, text=True, cwd=ROOT, check=False,
                              env={**os.environ, "PYTHONPATH": str(ROOT)})
        if done.returncode != 0:
            raise RuntimeError(f"generation failed:\n{done.stderr[-3000:]}")
        gen_note = f"generated in {float(done.stdout.strip().splitlines()[-1]):.0f} s"
    print(f"\n== {n:,} crossings, ~{n // args.per_person:,} persons ({args.names} names), {gen_note}, "
          f"load {os.getloadavg()[0]:.1f} ==", flush=True)
    results, assigned = {}, {}
    for kind in args.methods:
        out = work / f"{kind}.tsv"
        load = os.getloadavg()[0]
        r = run_worker(kind, data, out, work, args)
        r["load"] = load
        assigned[kind] = out
        results[kind] = r
        m = file_metrics(data, out)
        line = (f"{kind:>7}: wall {r['seconds']:7.1f} s  CPU {r['cpu_seconds']:7.1f} s  peak RSS (all processes) "
                f"{r['peak_mib']:7.0f} MiB  P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}  "
                f"load {load:.1f}")
        if "memory" in assigned and kind != "memory":
            same = file_metrics(assigned["memory"], out)
            line += (f"  vs in-memory: P {same['precision']:.4f} R {same['recall']:.4f} F1 {same['f1']:.4f}, "
                     f"identical keys {read_assignment(assigned['memory']) == read_assignment(out)}")
        print(line, flush=True)
        s = r["stats"]
        if kind != "memory":
            sec = s["seconds"]
            print(f"         DuckDB stage {sec.get('stage', 0):.1f} s, keys {sec.get('keys', 0):.1f} s, components "
                  f"{sec.get('components', 0):.1f} s, shards resolved "
                  f"{sec.get('resolve', 0):.1f} s; {s['profiles']:,} profiles, {s['edges']:,} profile-key edges, "
                  f"{s['components']:,} components, largest {s['largest_component']:,} crossings; "
                  f"{s['shards']} shards, largest {s['largest_shard']:,} crossings", flush=True)
            if args.component_cap is not None:
                print(f"         component cap {args.component_cap:,}: {s['over_cap_components']} components over it, "
                      f"crossings re-decomposed by tier {s['tier_crossings']} (largest piece after each "
                      f"{s['tier_largest']}), last resort "
                      f"{s['last_resort_pieces']} pieces ({s['last_resort_crossings']:,} crossings); "
                      f"{s['pieces']:,} pieces, largest {s['largest_piece']:,} crossings", flush=True)
    print(json.dumps({"crossings": n, "load_end": os.getloadavg(), "results": results}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crossings", type=int, nargs="+", default=[100_000])
    parser.add_argument("--per-person", type=int, default=5)
    parser.add_argument("--names", default="realistic", choices=("realistic", "namesakes"))
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--methods", nargs="+", default=["memory", "duckdb", "dask"],
                        choices=("memory", "duckdb", "dask"))
    parser.add_argument("--memory-limit", default="1GB", help="DuckDB memory_limit (it spills beyond)")
    parser.add_argument("--shard-crossings", type=int, default=150_000)
    parser.add_argument("--component-cap", type=int, default=None,
                        help="hierarchical blocking: components over this many crossings are cut on stronger keys")
    parser.add_argument("--processes", type=int, default=1,
                        help="duckdb method: keys and shards over a local process pool of this many workers")
    parser.add_argument("--dask-workers", type=int, default=2)
    parser.add_argument("--dask-worker-memory", default="1.5GiB")
    parser.add_argument("--worker", choices=("memory", "duckdb", "dask"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--generate", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--progress", type=Path, default=None,
                        help="write the stages finished so far to this JSON file every 30 s")
    parser.add_argument("--data-dir", type=Path, default=None,
                        help="keep the generated TSV here and reuse it on the next run (20M takes a while)")
    args = parser.parse_args(argv)
    if args.generate:
        print(make_data(args.generate, args.seed, args.per_person, args.names, args.data))
        return
    if args.worker:
        print(json.dumps(worker(args.worker, args.data, args.out, args.work, args)))
        return
    print(f"resolve scale benchmark (issue 10), seed {args.seed}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    for n in args.crossings:
        with tempfile.TemporaryDirectory(prefix="resolve_scale_bench_") as tmp:
            run(n, args, Path(tmp))


if __name__ == "__main__":
    main()
