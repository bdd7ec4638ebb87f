"""Batch resolution out of core: the same partition as `resolve.resolve`, in bounded memory.

`resolve` holds every record and one `TravellerIndex` in memory (about 1.9 GiB at 10^6 crossings). The
resolver only ever compares a profile with profiles found under its blocking keys, so the crossings fall
into independent groups: connected components of the graph "profile probes a key another profile is
stored under". This module finds those components with DuckDB (embedded, spills to disk under its
`memory_limit`; no hand-written external sort) and resolves them with the unchanged in-memory engine,
a bounded shard of whole components at a time.

Every shard is resolved with the global name frequencies and population (`_GlobalIndex`), and its
records in input order, so placements, ties and traveller keys are those of one global `resolve`: a
unit never meets a traveller of another component (no blocking key in common), and within a component
the relative order of units is the global one. Hash collisions only join components (more work, the
same result).

The blocking graph percolates: its largest component grows faster than the data (790 crossings at
10^5, 123,140 at 10^6 on the bench's generator), and a shard holds whole components. `component_cap`
bounds it: a component over the cap is cut again on its strongest keys only (documents, name pairs
with the exact date, keys few profiles share), which is no longer exact inside that component;
components within the cap stay exact (`_decompose`).

Shards are resolved by a caller-supplied `map_shards` (a Dask client's `map` on a cluster, see
bench/resolve_scale_bench.py), by a local process pool (`processes`), or in this process, one at a
time; the blocking keys likewise (`map_keys`). Keys are Python `hash()` values: every key of one run
must come from one process, from processes forked from it, or from processes started with the same
PYTHONHASHSEED (Dask's nannies set one for all workers).

Long because it is one pipeline over one DuckDB database (staging, keys, components, the cut, shards):
its stages hand each other tables by name, and split into modules they would share those names.

PURE: standard library, DuckDB, SciPy (with NumPy) and the screening engine; no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

from screening.engine.matching import Document, NameFrequencies, Prepared
from screening.engine.memo import memo
from screening.engine.normalize import PartialDate
from screening.engine.postings import exact_ordinal
from screening.engine.resolve import (
    Judgements,
    ResolveConfig,
    TravellerIndex,
    TravellerRecord,
    _date_variants,
    _name_keys,
    _probe_keys,
    gc_paused,
)

if TYPE_CHECKING:
    import numpy as np

# What a key row is: a must-link judgement, an equal normalised profile, a document (the atoms, which
# the cut never takes apart), or any other key of the resolver's `_probe_keys` (names, dates, address).
KIND_MUST, KIND_SIG, KIND_DOC, KIND_KEY = 1, 2, 3, 4

__all__ = ["BatchStats", "profile_keys", "resolve_out_of_core", "resolve_shard", "resolve_shards"]

_BATCH = 50_000


@dataclass
class BatchStats:
    """What a run cost, for the benchmark and the CLI."""

    crossings: int = 0
    profiles: int = 0
    edges: int = 0
    components: int = 0
    largest_component: int = 0  # crossings, of the full blocking graph
    # Hierarchical blocking (`component_cap`): components over the cap, the crossings each tier took
    # apart (tier i keeps what `_TIERS[i - 1]` says) and the largest piece after it, the pieces
    # the last resort cut into chunks and their crossings, and the pieces resolved in the end.
    over_cap_components: int = 0
    tier_crossings: list[int] = field(default_factory=list)
    tier_largest: list[int] = field(default_factory=list)
    last_resort_pieces: int = 0
    last_resort_crossings: int = 0
    pieces: int = 0
    largest_piece: int = 0  # crossings
    shards: int = 0
    largest_shard: int = 0  # crossings
    seconds: dict[str, float] = field(default_factory=dict)


# --- record <-> text -----------------------------------------------------------------------------


def _content(r: TravellerRecord) -> str:
    """Raw content as text: equal for records equal on `raw_key`, so DuckDB groups profiles by it."""
    d = r.dob
    dob = None if d is None else [d.year, d.month, d.day, d.precision]
    docs = [[x.type, x.number, x.country] for x in r.documents]
    return json.dumps([r.surname, r.given_names, dob, r.sex, r.nationality, docs, r.address],
                      ensure_ascii=False, separators=(",", ":"))


@memo(maxsize=1 << 16)  # bounded by the calendar
def _date(year: int, month: int | None, day: int | None, precision: str) -> PartialDate:
    return PartialDate(year, month, day, precision)


def _record(cid: Any, content: str) -> TravellerRecord:
    sur, given, dob, sex, nat, docs, address = json.loads(content)
    return TravellerRecord(cid, sur, given, None if dob is None else _date(*dob), sex, nat,
                           tuple(Document(*x) for x in docs), address)


# --- one shard -----------------------------------------------------------------------------------


class _FrozenFrequencies(NameFrequencies):
    """The global name frequencies: a shard's build must not count its profiles a second time."""

    __slots__ = ()

    def add(self, p) -> None:
        return None


class _GlobalIndex(TravellerIndex):
    """A TravellerIndex that weighs names and the prior as the whole batch does, not as its shard."""

    global_counts: dict[str, int] = {}
    global_total = 0
    global_population = 0

    def __init__(self, config: ResolveConfig | None = None, judgements: Judgements | None = None) -> None:
        super().__init__(config, judgements)
        full = NameFrequencies(self.global_counts, self.global_total)
        f = self.frequencies  # the object the match config holds: filled in place
        f.counts, f.total, f.sum_counts, f.sum_squares = full.counts, full.total, full.sum_counts, full.sum_squares
        f.__class__ = _FrozenFrequencies

    def _rescale_prior(self, crossings: int | None = None) -> None:
        super()._rescale_prior(self.global_population)


def resolve_shard(rows: list[tuple[str, str]], id_type: type, config: ResolveConfig | None,
                  judgements: Judgements | None, counts: dict[str, int], total: int,
                  population: int) -> list[tuple[Any, Any]]:
    """Resolve one shard (rows of (crossing id text, content), in input order) as the global batch would.

    A plain function of picklable arguments, so a distributed engine can run it on any worker.
    """
    _forget_key_helper()  # a worker that resolves shards makes no more keys
    index_cls = type("_ShardIndex", (_GlobalIndex,), {"global_counts": counts, "global_total": total,
                                                     "global_population": population})
    with gc_paused():  # from the decoding on: the records are a third of the objects a shard makes
        records = [_record(id_type(cid), content) for cid, content in rows]
        index = index_cls._build(records, config, judgements)
        del records
        out = list(index.assignment().items())
        del index
        return out


_KeyRows = tuple["dict[str, np.ndarray]", str, str]  # what `profile_keys` returns


def profile_keys(batch: list[tuple], config: ResolveConfig, must_of: dict[str, list[int]]) -> _KeyRows:
    """Key rows (profile, key, stored, kind) as NumPy columns, one a (profile, key), and CSV rows
    (unit, name token) and (profile, name keys, exact date, date variants) for a batch of
    (pid, cid, judged, content).

    The key rows are about 19 a profile (3 x 10^8 at 2 x 10^7 crossings): as columns they cross the
    process boundary and enter DuckDB without being written and parsed as text.
    The third table is what the cut's name-pair keys (`_TIERS`) need; their keys are made in
    DuckDB, only for the profiles of over-cap components, instead of a dozen more key rows per profile.

    A plain function of picklable arguments, so a distributed engine can run it on any worker, as long
    as every worker hashes alike (Dask's nannies start every worker with one PYTHONHASHSEED).
    """
    with gc_paused():
        return _profile_keys(batch, config, must_of)


_HELPER_STRINGS = 1 << 18  # name and address strings a keys worker keeps normalised between batches
_helper: TravellerIndex | None = None


def _key_helper(config: ResolveConfig) -> TravellerIndex:
    """The TravellerIndex whose `_prepare` a keys worker uses, kept between batches.

    Its string caches are what make `_prepare` cheap (a new one per batch of 50,000 profiles cost
    5 of the ~60 us a profile at 10^6). They are emptied past `_HELPER_STRINGS`, so a worker's memory
    does not grow with the batch, and freed when the process turns to shards (`_forget_key_helper`).
    """
    global _helper
    caches = () if _helper is None else (_helper._token_cache, _helper._names_cache, _helper._address_cache)
    if _helper is None or _helper.config != config or sum(map(len, caches)) > _HELPER_STRINGS:
        _helper = TravellerIndex(config)
    return _helper


def _forget_key_helper() -> None:
    """Free the keys helper's strings (the keys stage is over in this process)."""
    global _helper
    _helper = None


def _signature_key(p: Prepared) -> int:
    """Equal normalised profiles (`TravellerIndex._signature`) give one key, in every worker.

    A plain tuple hash would do, but on Python 3.11 hash(None) differs between processes: every
    None becomes "" or () first (no normalised field is ever empty, so nothing new collides). The
    fields are `_signature`'s, spelled out for speed: a field added there must be added here (the
    equality tests against the in-memory `resolve` would show the name counts going wrong).
    """
    d = p.dob
    return _stable_key("sig", p.variants, () if d is None else (d.year, d.month or 0, d.day or 0, d.precision),
                       p.sex or "", p.nationality or "", tuple((n, k, c or "", t or "") for n, k, c, t in p.documents),
                       p.address or "")


def _profile_keys(batch: list[tuple], config: ResolveConfig, must_of: dict[str, list[int]]) -> _KeyRows:
    import numpy as np

    helper = _key_helper(config)
    ft, fd = io.StringIO(), io.StringIO()
    wt, wd = csv.writer(ft), csv.writer(fd)
    pids: list[int] = []
    counts: list[int] = []
    keys: list[int] = []
    stores: list[int] = []
    kinds: list[int] = []
    for pid, cid, is_judged, content in batch:
        p = helper._prepare(_record(cid, content))
        docs, pairs, dates, store = _probe_keys(p, config)
        stored = dict.fromkeys(store)  # documents are among the stored keys
        probed = dict.fromkeys(k for k in pairs + dates if k not in stored)
        atoms = set(docs)
        if is_judged:
            unit = f"j{pid}"
            own = must_of.get(cid, [])
            own_kind = KIND_MUST
        else:
            sig = _signature_key(p)
            own = [sig]  # equal normalised profiles are one profile
            own_kind = KIND_SIG
            unit = str(sig)
        start = len(keys)
        keys += stored
        keys += probed
        stores += [1] * len(stored)
        stores += [0] * len(probed)
        kinds += [KIND_DOC if k in atoms else KIND_KEY for k in stored]
        kinds += [KIND_KEY] * len(probed)
        for k in dict.fromkeys(own):
            if k in stored or k in probed:  # a hash collision: the row takes the stronger kind, stored
                i = start + [*stored, *probed].index(k)
                kinds[i], stores[i] = min(kinds[i], own_kind), 1
            else:
                keys.append(k)
                stores.append(1)
                kinds.append(own_kind)
        pids.append(pid)
        counts.append(len(keys) - start)
        names, ordinal = _name_keys(p), exact_ordinal(p.dob)
        if ordinal is not None and len(names) > 1:
            wd.writerow((pid, " ".join(names), ordinal,
                         " ".join(str(o) for o in _date_variants(p.dob) if o != ordinal)))
        wt.writerow((unit, ""))  # every unit counts in the total, with or without name tokens
        wt.writerows((unit, t) for t in NameFrequencies.tokens_of(p))
    edges = {"pid": np.repeat(np.array(pids, dtype=np.int64), counts), "k": np.array(keys, dtype=np.int64),
             "store": np.array(stores, dtype=np.int8), "kind": np.array(kinds, dtype=np.int8)}
    return edges, ft.getvalue(), fd.getvalue()


# --- the batch -----------------------------------------------------------------------------------

# Hierarchical blocking: the tiers (`_TIERS`), one after another on the pieces still over the cap, keep
# documents, equal profiles and judgements (the atoms, never cut), a name pair (two name keys) and the
# exact date of birth, stored, and probed with the date's variants (day and month swapped, +-1 year),
# and every key of any route that at most 8, then 7, 6, 5, 4, 3 profiles share (`edge.n`, counted once
# over the whole graph); then without those rare keys; then without the variants.
# - A single name key and the exact date (the resolver's own date route) is not a tier: at 2 x 10^7
#   crossings it still held 9,960,802 crossings in one piece (each day's few hundred births share
#   surnames and given names; a date-of-birth slip on one document joins two days), while a name pair
#   and a date is about one person.
# - The rare keys give back what the pair keys alone lose (a year-only date, initials, a swapped name
#   without a document): a key few profiles share is mostly one person's. At 10^6 crossings: pair keys
#   alone recall 0.9912; with keys of <= 6 profiles 0.9956 (pieces of at most 684 crossings); <= 12
#   percolated (one piece of 107,005), hence the descent. One step at a time: a piece that comes under
#   the cap keeps the most rare keys it can. At 2 x 10^7 the steps 8, 6, 3 cut 5.85M crossings at <= 3
#   (recall 0.9819); 8 to 3 by one cut 2.02M at <= 4 and stop there (recall 0.9884; session 16).
# - Tiers that drop the weakest routes one by one (year-0 probes, then +-year and date variants, ...)
#   were tried first and taken out: at 2 x 10^7 they cut 5.2M crossings (year-only dates, no document)
#   off the giant component before the pair keys could place them (recall 0.961; session 14).
# Each tier: (date variants probed, rare keys).
_TIERS = ((True, 8), (True, 7), (True, 6), (True, 5), (True, 4), (True, 3), (True, 0), (False, 0))
_ATOMS = KIND_DOC  # the tiers and the last resort never cut documents, equal profiles or judgements
_RARE = 127  # `edge.n` counts a key's profiles up to this (TINYINT)


def _stable_key(*parts: Any) -> int:
    return hash(parts)


def resolve_out_of_core(records: Iterable[TravellerRecord], config: ResolveConfig | None = None,
                        judgements: Judgements | None = None, **options: Any) -> Iterator[tuple[Any, Any]]:
    """Yield (crossing id, traveller key) for every record, as `resolve(records, config, judgements)`
    would assign them, holding at most one shard (plus DuckDB's `memory_limit`) in memory."""
    for shard in resolve_shards(records, config, judgements, **options):
        yield from shard


def resolve_shards(records: Iterable[TravellerRecord], config: ResolveConfig | None = None,
                   judgements: Judgements | None = None, *, workdir: str | Path | None = None,
                   memory_limit: str = "1GB", threads: int = 2, shard_crossings: int = 150_000,
                   map_shards: Callable[[Iterator[tuple]], Iterator[list[tuple[Any, Any]]]] | None = None,
                   map_keys: Callable[[Iterator[tuple]], Iterator[_KeyRows]] | None = None,
                   component_cap: int | None = None,
                   stats: BatchStats | None = None, processes: int = 1) -> Iterator[list[tuple[Any, Any]]]:
    """`resolve_out_of_core`, one list of (crossing id, traveller key) per shard: no traveller spans two.

    `records` is read once, to the end, before the first shard is yielded. `map_shards` takes an
    iterator of `resolve_shard` argument tuples and yields their results in any order (a distributed
    engine's map); by default shards are resolved here, one after another. `map_keys` likewise maps
    `profile_keys` over batches of profiles (every worker must hash alike: same PYTHONHASHSEED).

    `processes` > 1 (and no `map_shards` / `map_keys`): the keys and the shards are mapped over a
    standard-library process pool of that many workers, forked before DuckDB starts its threads (so
    they hash as this process does); at most two tasks a worker are in flight. Each worker holds its
    shard's index: at 20M, two workers and DuckDB peaked at 3.8 GiB (docs/performance.md, session 16).

    `component_cap` (crossings; None: no cap): hierarchical blocking. A component at or under the cap is
    resolved exactly as without it. One over it is cut again, in DuckDB, on its strongest keys only, tier
    by tier (`_TIERS`: documents, equal profiles and judgements with name pairs and exact dates, and
    keys few profiles share, fewer each tier) until every piece is within the cap; a piece still over
    it is cut into chunks of whole document groups (the last resort, counted in `stats`). Must-link
    judgements and equal profiles are never cut. Results within a cut component are no longer those of
    one global `resolve`: a pair across two pieces is compared only when both pieces fall in one shard
    (the shard's index files every profile under all its keys), so they depend on `shard_crossings`
    (at 10^6 with a cap of 20,000, packing the shards differently moved recall by 0.0001).
    """
    import duckdb

    cfg = config or ResolveConfig()
    judgements = judgements or Judgements()
    stats = stats if stats is not None else BatchStats()
    own_dir = workdir is None
    work = Path(tempfile.mkdtemp(prefix="tsela-resolve-")) if own_dir else Path(workdir)
    work.mkdir(parents=True, exist_ok=True)
    pool = None
    if processes > 1 and map_shards is None and map_keys is None:
        pool = ProcessPoolExecutor(int(processes), mp_context=multiprocessing.get_context("fork"))
        pool.submit(int).result()  # a forking pool starts every worker at the first task: now, before DuckDB
        depth = 2 * int(processes)
        map_keys = partial(_pool_map, pool, profile_keys, depth)
        map_shards = partial(_pool_map, pool, resolve_shard, depth)
    try:
        con = duckdb.connect(str(work / "resolve.duckdb"), config={
            "memory_limit": memory_limit, "threads": int(threads), "temp_directory": str(work / "spill"),
            "preserve_insertion_order": False})
        try:
            yield from _run(con, work, records, cfg, judgements, stats, shard_crossings, map_shards, map_keys,
                            component_cap)
        finally:
            con.close()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
        if own_dir:
            shutil.rmtree(work, ignore_errors=True)
        else:
            (work / "resolve.duckdb").unlink(missing_ok=True)


def _pool_map(pool: ProcessPoolExecutor, fn: Callable, depth: int, items: Iterator[tuple]) -> Iterator[Any]:
    """fn(*args) for each args in the pool, results as they finish, at most `depth` submitted at once."""
    pending: set = set()
    for args in items:
        if len(pending) >= depth:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for f in done:
                yield f.result()
        pending.add(pool.submit(fn, *args))
    while pending:
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for f in done:
            yield f.result()


def _copy_csv(con, table: str, path: Path, columns: str, into: bool = False) -> None:
    """Read a quoted CSV file into a new table, or `into` the existing one, and delete the file."""
    # Table and column names are this module's constants; the path is a parameter.
    head = f"INSERT INTO {table} SELECT" if into else f"CREATE TABLE {table} AS SELECT"
    con.execute(f"{head} * FROM read_csv(?, header=false, columns={columns}, "  # noqa: S608
                "quote='\"', escape='\"', delim=',', strict_mode=false, parallel=true)", [str(path)])
    path.unlink()


def _run(con, work: Path, records, cfg: ResolveConfig, judgements: Judgements, stats: BatchStats,
         shard_crossings: int, map_shards, map_keys, component_cap: int | None) -> Iterator[list[tuple[Any, Any]]]:
    t0 = time.perf_counter()
    judged = judgements.crossings()
    id_type: type = str
    # Tab-separated without quoting (a quarter of csv.writer's cost a row): the content is JSON, which
    # escapes tabs and line breaks. The rare crossing id that holds one goes to a quoted CSV beside it.
    path, odd_path = work / "crossings.tsv", work / "crossings_odd.csv"
    with path.open("w", encoding="utf-8") as f, odd_path.open("w", newline="", encoding="utf-8") as odd:
        write, odd_row = f.write, csv.writer(odd).writerow
        n = odd_rows = 0
        for n, r in enumerate(records, 1):  # noqa: B007
            cid = r.crossing_id
            if n == 1:
                id_type = type(cid)
            if type(cid) is str and ("\t" in cid or "\n" in cid or "\r" in cid):
                odd_row((n, cid, int(cid in judged), _content(r)))
                odd_rows += 1
            else:
                write(f"{n}\t{cid}\t{int(cid in judged)}\t{_content(r)}\n")
    stats.crossings = n
    columns = "{'seq': 'BIGINT', 'cid': 'VARCHAR', 'judged': 'INTEGER', 'content': 'VARCHAR'}"
    # Names and columns are this module's constants; the paths are parameters.
    con.execute("CREATE TABLE crossing (seq BIGINT, cid VARCHAR, judged INTEGER, content VARCHAR)")
    if n > odd_rows:  # DuckDB cannot sniff an empty file
        con.execute(f"""INSERT INTO crossing SELECT * FROM read_csv(?, header=false, columns={columns},
            delim='\t', quote='', escape='', parallel=true)""", [str(path)])  # noqa: S608
    path.unlink()
    if odd_rows:
        _copy_csv(con, "crossing", odd_path, columns, into=True)
    else:
        odd_path.unlink()
    if not n:
        return
    # A profile: unjudged crossings of equal raw content (as `TravellerIndex.build` groups them); a
    # judged crossing is a profile of its own.
    con.execute("""CREATE TABLE profile AS
        SELECT min(seq) AS pid, any_value(cid) AS cid, false AS judged, content FROM crossing
        WHERE judged = 0 GROUP BY content
        UNION ALL SELECT seq, cid, true, content FROM crossing WHERE judged = 1""")
    con.execute("""CREATE TABLE member AS
        SELECT c.seq, p.pid FROM crossing c JOIN profile p ON p.content = c.content AND c.judged = 0 AND NOT p.judged
        UNION ALL SELECT seq, seq FROM crossing WHERE judged = 1""")
    stats.seconds["stage"] = time.perf_counter() - t0

    # Blocking keys, computed by the engine's own functions, and the name tokens of every profile.
    t0 = time.perf_counter()
    must_of: dict[Any, list[int]] = {}
    for pair in judgements.must_link:
        members = sorted(pair, key=repr)
        k = _stable_key("must", *map(repr, members))
        for c in members:
            must_of.setdefault(str(c), []).append(k)
    tokens_path, dates_path = work / "tokens.csv", work / "dates.csv"
    con.execute("CREATE TABLE edge_raw (pid BIGINT, k BIGINT, store TINYINT, kind TINYINT)")
    cur = con.cursor()  # its own connection: the key rows are inserted while it is read
    cur.execute("SELECT pid, cid, judged, content FROM profile")

    def key_args() -> Iterator[tuple]:
        while batch := cur.fetchmany(_BATCH):
            stats.profiles += len(batch)
            yield (batch, cfg, must_of)

    with (cur, tokens_path.open("w", encoding="utf-8") as ft, dates_path.open("w", encoding="utf-8") as fd):
        results = (profile_keys(*a) for a in key_args()) if map_keys is None else map_keys(key_args())
        for edges, tokens, dates in results:
            con.register("edge_batch", edges)
            con.execute("INSERT INTO edge_raw SELECT pid, k, store, kind FROM edge_batch")
            con.unregister("edge_batch")
            ft.write(tokens)
            fd.write(dates)
    _forget_key_helper()  # where the keys were made in this process
    _copy_csv(con, "token", tokens_path, "{'unit': 'VARCHAR', 't': 'VARCHAR'}")
    _copy_csv(con, "pdate", dates_path, "{'pid': 'BIGINT', 'names': 'VARCHAR', 'd': 'INTEGER', "
                                        "'variants': 'VARCHAR'}")
    counts = dict(con.execute("SELECT t, count(DISTINCT unit) FROM token WHERE t IS NOT NULL AND t <> '' "
                              "GROUP BY t").fetchall())
    total = con.execute("SELECT count(DISTINCT unit) FROM token").fetchone()[0]
    stats.seconds["keys"] = time.perf_counter() - t0

    # Connected components of the profile-key graph (`_components`). A key links the profiles probing it
    # to those stored under it, so a key nobody is stored under links nothing.
    t0 = time.perf_counter()
    # `n`: the key's profiles (up to `_RARE`), for the cut's rare keys. Every profile of a key is in one
    # component, so the count over the whole graph is the count within its component.
    # `profile_keys` writes one row a (profile, key): no DISTINCT and no GROUP BY (pid, k) over the
    # 3 x 10^8 key rows of 2 x 10^7 crossings.
    con.execute("""CREATE TABLE ksize AS SELECT k, least(count(*), ?)::TINYINT AS n FROM edge_raw
        GROUP BY k HAVING max(store) = 1 AND count(*) > 1""", [_RARE])
    con.execute("""CREATE TABLE edge AS SELECT e.pid, e.k, e.kind, e.store, s.n
        FROM edge_raw e JOIN ksize s USING (k)""")
    con.execute("DROP TABLE ksize")
    con.execute("DROP TABLE edge_raw")
    con.execute("DROP TABLE token")
    stats.edges = con.execute("SELECT count(*) FROM edge").fetchone()[0]
    _components(con, "edge", "label")
    # Each profile's component (itself without edges) and crossings.
    con.execute("""CREATE TABLE plabel AS SELECT w.pid, coalesce(l.c, w.pid) AS c, w.n
        FROM (SELECT pid, count(*) AS n FROM member GROUP BY pid) w LEFT JOIN label l USING (pid)""")
    stats.components, stats.largest_component = con.execute(
        "SELECT count(*), max(n) FROM (SELECT c, sum(n) AS n FROM plabel GROUP BY c)").fetchone()
    if component_cap is not None:
        _decompose(con, int(component_cap), stats)
    con.execute("CREATE TABLE comp AS SELECT m.seq, p.c FROM member m JOIN plabel p USING (pid)")
    con.execute("CREATE TABLE comp_size AS SELECT c, count(*) AS n FROM comp GROUP BY c")
    stats.pieces, stats.largest_piece = con.execute("SELECT count(*), max(n) FROM comp_size").fetchone()
    # Whole components packed into shards of about `shard_crossings`, in component order.
    con.execute("""CREATE TABLE shard_of AS SELECT c,
        (sum(n) OVER (ORDER BY c ROWS UNBOUNDED PRECEDING) - n) // ? AS shard
        FROM comp_size""", [int(shard_crossings)])
    con.execute("""CREATE TABLE work AS SELECT s.shard, x.seq, x.cid, x.content
        FROM crossing x JOIN comp USING (seq) JOIN shard_of s USING (c)""")
    for t in ("crossing", "member", "comp", "plabel", "label", "edge", "profile", "pdate"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    sizes = con.execute("SELECT count(*), max(n) FROM (SELECT shard, count(*) n FROM work GROUP BY shard)").fetchone()
    stats.shards, stats.largest_shard = sizes
    stats.seconds["components"] = time.perf_counter() - t0

    t0 = time.perf_counter()

    def shard_args() -> Iterator[tuple]:
        cur = con.execute("SELECT shard, cid, content FROM work ORDER BY shard, seq")
        current, rows = None, []
        while batch := cur.fetchmany(_BATCH):
            for shard, cid, content in batch:
                if shard != current and rows:
                    yield (rows, id_type, cfg, judgements, counts, total, stats.crossings)
                    rows = []
                current = shard
                rows.append((cid, content))
        if rows:
            yield (rows, id_type, cfg, judgements, counts, total, stats.crossings)

    if map_shards is None:
        for args in shard_args():
            yield resolve_shard(*args)
    else:
        yield from map_shards(shard_args())
    stats.seconds["resolve"] = time.perf_counter() - t0


def _components(con, edges: str, labels: str) -> None:
    """Connected components of the (pid, k) rows of table `edges`: table `labels` (pid, c), c the least pid
    of the component (profiles without a row are not listed).

    SciPy's `connected_components` (C, one pass) on the graph "each profile to the least profile of each
    of its keys": SQL label propagation took one join round per link of the longest chain (23 rounds at
    10^6 crossings; at 2 x 10^7, still running after 22 minutes). The pairs come out of DuckDB as int32
    arrays (8 bytes a distinct pair), beside DuckDB's own memory limit; past 2^31 crossings the cast fails
    in DuckDB, it does not wrap.
    """
    import numpy as np
    from scipy.sparse import coo_array
    from scipy.sparse.csgraph import connected_components

    con.execute(f"CREATE OR REPLACE TABLE kroot AS SELECT k, min(pid) AS root FROM {edges} GROUP BY k")  # noqa: S608
    pairs = con.execute(f"""SELECT DISTINCT e.pid::INTEGER AS a, r.root::INTEGER AS b
        FROM {edges} e JOIN kroot r USING (k) WHERE e.pid <> r.root""").fetchnumpy()  # noqa: S608
    con.execute("DROP TABLE kroot")
    nodes = con.execute(f"SELECT pid FROM {edges} GROUP BY pid ORDER BY pid").fetchnumpy()["pid"]  # noqa: S608
    if not len(nodes):
        con.execute(f"CREATE OR REPLACE TABLE {labels} (pid BIGINT, c BIGINT)")  # noqa: S608
        return
    a, b = np.asarray(pairs.pop("a")), np.asarray(pairs.pop("b"))
    n = int(nodes[-1]) + 1
    graph = coo_array((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n)).tocsr()
    del a, b, pairs
    _, comp = connected_components(graph, directed=False)
    del graph
    of_node = comp[nodes]
    del comp
    # The least pid of each component: nodes are sorted, so a component's first node is its least.
    found, first = np.unique(of_node, return_index=True)
    least = np.empty(int(found[-1]) + 1, dtype=np.int64)
    least[found] = nodes[first]
    result = {"pid": nodes.astype(np.int64), "c": least[of_node]}  # noqa: F841 (read by DuckDB by name)
    con.execute(f"CREATE OR REPLACE TABLE {labels} AS SELECT pid, c FROM result")  # noqa: S608


def _cut_rows(con) -> None:
    """Table `cut_row` (pid, k, store, r): every row any tier of `_decompose` can keep, for the profiles
    of the over-cap pieces (table `over_cap`), restricted to keys that link among them.

    r says which tiers keep the row (`_cut`): 0 an atom (`_ATOMS`: documents, equal profiles,
    judgements; every cut), 1..8 a key of that many profiles (`edge.n`; the tiers with `rare` >= r),
    -1 a name pair (two name keys) with the exact date of birth, stored under it, and -2 the same pair
    probed under the date's variants (day and month swapped, +-1 year). The name-pair keys are made here,
    by DuckDB's `hash`, from `pdate` rows of the over-cap profiles only; a link they make is one the full
    graph has too (the same name keys with the same dates are keys of `_probe_keys`), so a tier never
    joins two pieces.

    Made once: every tier keeps a subset of these rows for a subset of these profiles, so a key that
    links in none of them here (no stored row, or one profile) links in no tier. Until session 18 each
    tier read all edge rows and made the pair keys again: at 2 x 10^7 crossings the five tiers and this
    took 227 s, now 215 s, with the same pieces (docs/performance.md).
    One statement a step, each a table DuckDB can spill: at 2 x 10^7 crossings one statement with the
    kept rows as a CTE read twice ran out of its 1 GB (session 14).
    """
    con.execute("""CREATE OR REPLACE TABLE cut_all AS
        SELECT e.pid, e.k, e.store, (CASE WHEN e.kind <= ? THEN 0 ELSE e.n END)::TINYINT AS r FROM edge e
        JOIN plabel p USING (pid) JOIN over_cap o USING (c) WHERE e.kind <= ? OR e.n <= ?
        UNION ALL (WITH nm AS (SELECT q.pid, q.d, q.variants, unnest(string_split(q.names, ' ')) AS n
                               FROM pdate q JOIN plabel p USING (pid) JOIN over_cap o USING (c)),
                        pr AS (SELECT a.pid, a.d, a.variants, a.n AS n1, b.n AS n2
                               FROM nm a JOIN nm b ON a.pid = b.pid AND a.n < b.n)
                   SELECT pid, (hash(n1, n2, d) >> 1)::BIGINT AS k, 1 AS store, -1 AS r FROM pr
                   UNION ALL SELECT pid, (hash(n1, n2, v) >> 1)::BIGINT, 0, -2 FROM (
                       SELECT pid, n1, n2, unnest(string_split(variants, ' '))::INTEGER AS v
                       FROM pr WHERE variants <> ''))""",
                [_ATOMS, _ATOMS, max(rare for _, rare in _TIERS)])
    con.execute("""CREATE OR REPLACE TABLE cut_row AS SELECT pid, k, store, r FROM cut_all
        SEMI JOIN (SELECT k FROM cut_all GROUP BY k HAVING max(store) = 1 AND count(*) > 1) USING (k)""")
    con.execute("DROP TABLE cut_all")


def _cut(con, pairs: bool | None = None, rare: int = 0) -> None:
    """Components of the over-cap pieces (table `over_cap`) on their atoms (`_ATOMS`: documents, equal
    profiles, judgements): table `sublabel` (pid, c) for every profile of those pieces, c its new piece's
    least pid. The rows are `cut_row`'s (`_cut_rows`, made for these profiles or more).

    `rare` > 0: also every key, of any route, that at most `rare` profiles share. `pairs` (not None):
    also the keys "two name keys and the exact date of birth", stored under the own date and, if True,
    probed under its variants.
    """
    pair_level = 0 if pairs is None else -2 if pairs else -1  # `cut_row.r`
    con.execute("""CREATE OR REPLACE TABLE kept AS SELECT e.pid, e.k, e.store FROM cut_row e
        JOIN plabel p USING (pid) JOIN over_cap o USING (c) WHERE e.r BETWEEN ? AND ?""", [pair_level, rare])
    # A key still links only if someone is stored under it among the rows kept (as in the full graph);
    # a key of one profile links nothing in `_components`. Python's and DuckDB's hashes share one key
    # space: a collision only joins two profiles (less cut).
    con.execute("""CREATE OR REPLACE TABLE sub_edge AS SELECT pid, k FROM kept
        SEMI JOIN (SELECT k FROM kept GROUP BY k HAVING max(store) = 1 AND count(*) > 1) USING (k)""")
    con.execute("DROP TABLE kept")
    _components(con, "sub_edge", "sub")
    con.execute("""CREATE OR REPLACE TABLE sublabel AS SELECT p.pid, coalesce(s.c, p.pid) AS c
        FROM plabel p JOIN over_cap o USING (c) LEFT JOIN sub s USING (pid)""")
    con.execute("DROP TABLE sub")
    con.execute("DROP TABLE sub_edge")


def _relabel(con, labels: str) -> None:
    """Profiles listed in table `labels` (pid, c) take its label in `plabel`."""
    con.execute(f"""CREATE TABLE plabel2 AS SELECT p.pid, coalesce(s.c, p.c) AS c, p.n
        FROM plabel p LEFT JOIN {labels} s USING (pid)""")  # noqa: S608 (a constant of this module)
    con.execute("DROP TABLE plabel")
    con.execute("ALTER TABLE plabel2 RENAME TO plabel")


def _decompose(con, cap: int, stats: BatchStats) -> None:
    """Hierarchical blocking: cut the components of `plabel` over `cap` crossings tier by tier (`_TIERS`),
    then the last resort, relabelling their profiles in `plabel`. Only the over-cap pieces' rows are read."""
    over = "CREATE OR REPLACE TABLE over_cap AS SELECT c FROM plabel GROUP BY c HAVING sum(n) > ?"
    con.execute(over, [cap])
    stats.over_cap_components = con.execute("SELECT count(*) FROM over_cap").fetchone()[0]
    if stats.over_cap_components:
        _cut_rows(con)
    for pairs, rare in _TIERS:
        crossings = con.execute("SELECT coalesce(sum(n), 0) FROM plabel JOIN over_cap USING (c)").fetchone()[0]
        if not crossings:
            break
        stats.tier_crossings.append(int(crossings))
        _cut(con, pairs, rare)
        stats.tier_largest.append(int(con.execute(
            "SELECT max(n) FROM (SELECT s.c, sum(p.n) AS n FROM sublabel s JOIN plabel p USING (pid) GROUP BY s.c)"
        ).fetchone()[0]))
        _relabel(con, "sublabel")
        con.execute(over, [cap])
    stats.last_resort_pieces, crossings = con.execute(
        "SELECT count(*), coalesce(sum(n), 0) FROM (SELECT c, sum(n) AS n FROM plabel JOIN over_cap USING (c) "
        "GROUP BY c)").fetchone()
    stats.last_resort_crossings = int(crossings)
    if stats.last_resort_pieces:
        # Last resort: whole atoms (documents, equal profiles, judgements), in order of their least
        # profile, into chunks of about `cap` crossings (a chunk ends past the cap by at most one atom).
        _cut(con)
        con.execute("""CREATE TABLE chunklabel AS
            WITH atom AS (SELECT p.c AS piece, s.c AS a, sum(p.n) AS n
                          FROM sublabel s JOIN plabel p USING (pid) GROUP BY ALL),
            chunk AS (SELECT piece, a, (sum(n) OVER (PARTITION BY piece ORDER BY a ROWS UNBOUNDED PRECEDING)
                                        - n) // ? AS j FROM atom),
            head AS (SELECT piece, a, min(a) OVER (PARTITION BY piece, j) AS c FROM chunk)
            SELECT s.pid, h.c FROM sublabel s JOIN plabel p USING (pid) JOIN head h ON h.piece = p.c AND h.a = s.c""",
                    [cap])
        _relabel(con, "chunklabel")
    for t in ("over_cap", "sublabel", "chunklabel", "cut_row"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
