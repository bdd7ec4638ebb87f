"""The out-of-core batch resolution gives exactly the partition (and keys) of the in-memory `resolve`."""

import pytest

pytest.importorskip("duckdb", reason="duckdb is needed by the out-of-core resolution")

from bench.generate import generate_crossings, generate_persons  # noqa: E402
from screening.engine.matching import Document  # noqa: E402
from screening.engine.normalize import parse_partial_date  # noqa: E402
from screening.engine.resolve import Judgements, TravellerRecord, resolve  # noqa: E402
from screening.engine.resolve_batch import _TIERS, BatchStats, profile_keys, resolve_out_of_core  # noqa: E402


def generated(n: int, seed: int, names: str = "realistic") -> list[TravellerRecord]:
    persons = generate_persons(max(n // 5, 1), seed=seed, names=names)
    out = []
    for i, r in enumerate(generate_crossings(persons, n, seed=seed + 1, profile="issue15")):
        docs = ((Document(r["document_type"] or None, r["document_number"], r["document_country"] or None),)
                if r["document_number"] else ())
        dob = parse_partial_date(r["date_of_birth"]) if r["date_of_birth"] else None
        out.append(TravellerRecord(i + 1, r["surname"], r["given_names"], dob, r["sex"] or None,
                                   r["nationality"] or None, docs, r["address"] or ""))
    return out


@pytest.mark.parametrize("names", ["realistic", "namesakes"])
def test_sharded_resolution_equals_in_memory(tmp_path, names):
    records = generated(3000, seed=7, names=names)
    stats = BatchStats()
    # Small shards: the components are spread over many shards, each resolved on its own.
    got = dict(resolve_out_of_core(records, workdir=tmp_path, shard_crossings=300, stats=stats))
    assert stats.shards > 3
    assert stats.largest_component < len(records)
    assert got == resolve(records)


def test_sharded_resolution_equals_in_memory_with_the_per_profile_posterior(tmp_path):
    # The posterior weighs the candidates a profile finds: a shard must find the same ones.
    from screening.engine.resolve import ResolveConfig

    cfg = ResolveConfig(new_person_odds=0.05)
    records = generated(3000, seed=7, names="namesakes")
    got = dict(resolve_out_of_core(records, cfg, workdir=tmp_path, shard_crossings=300))
    assert got == resolve(records, cfg)
    off = ResolveConfig(new_person_odds=1.0)
    assert got != resolve(records, off)  # the rule changed something here, so the equality says something


def test_judgements_are_honoured_across_the_shards(tmp_path):
    records = generated(2000, seed=11)
    a, b, c = records[0].crossing_id, records[1500].crossing_id, records[1501].crossing_id
    mem = resolve(records)
    same = next(r.crossing_id for r in records[1:] if mem[r.crossing_id] == mem[a])
    judgements = Judgements.of(must=[(a, b)], cannot=[(a, same)] if same != b else [])
    expected = resolve(records, judgements=judgements)
    got = dict(resolve_out_of_core(records, judgements=judgements, workdir=tmp_path, shard_crossings=200))
    assert got == expected
    assert got[a] == got[b]
    assert got[a] != got[same] or same == b
    assert c in got


def test_shards_and_keys_can_be_mapped_by_another_engine(tmp_path):
    records = generated(1500, seed=13)
    calls, key_calls = [], []

    def map_keys(batches):
        from screening.engine.resolve_batch import profile_keys

        for args in batches:
            key_calls.append(len(args[0]))
            yield profile_keys(*args)

    def map_shards(shards):  # what a distributed engine's map does: run resolve_shard on each argument tuple
        from screening.engine.resolve_batch import resolve_shard

        for args in shards:
            calls.append(len(args[0]))
            yield resolve_shard(*args)

    got = dict(resolve_out_of_core(records, workdir=tmp_path, shard_crossings=250, map_shards=map_shards,
                                   map_keys=map_keys))
    assert len(calls) > 2 and sum(calls) == len(records)
    assert key_calls and sum(key_calls) < len(records)  # one call per batch of profiles
    assert got == resolve(records)


# --- hierarchical blocking (component_cap) ---------------------------------------------------------


def test_a_cap_over_every_component_changes_nothing(tmp_path):
    records = generated(3000, seed=7, names="namesakes")
    plain = BatchStats()
    list(resolve_out_of_core(records, workdir=tmp_path / "a", shard_crossings=300, stats=plain))
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, workdir=tmp_path / "b", shard_crossings=300,
                                   component_cap=plain.largest_component, stats=stats))
    assert stats.over_cap_components == 0 and stats.tier_crossings == []
    assert stats.largest_piece == stats.largest_component == plain.largest_component
    assert got == resolve(records)


def test_a_cap_under_the_largest_component_changes_only_that_component(tmp_path):
    records = generated(3000, seed=7, names="namesakes")
    plain = BatchStats()
    list(resolve_out_of_core(records, workdir=tmp_path / "a", shard_crossings=300, stats=plain))
    components = sorted(component_crossings(records, tmp_path / "sizes"), key=len)
    second, largest = len(components[-2]), components[-1]
    cap = (second + plain.largest_component) // 2  # only the largest component is over it
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, workdir=tmp_path / "b", shard_crossings=300, component_cap=cap,
                                   stats=stats))
    assert stats.over_cap_components == 1 and stats.largest_piece <= cap
    assert stats.tier_crossings[0] == plain.largest_component
    assert stats.pieces > stats.components  # the largest component was cut
    mem = resolve(records)
    moved = {c for c in mem if clusters_of(mem)[mem[c]] != clusters_of(got)[got[c]]}
    assert moved <= largest  # every other component is resolved exactly as in memory


def component_crossings(records, workdir) -> list[set]:
    """The crossing ids of each of the blocking graph's components: one shard each when shards are tiny."""
    return [{c for c, _ in s} for s in __import__("screening.engine.resolve_batch", fromlist=["x"]).resolve_shards(
        records, workdir=workdir, shard_crossings=1)]


def clusters_of(assignment: dict) -> dict:
    out: dict = {}
    for c, k in assignment.items():
        out.setdefault(k, set()).add(c)
    return {k: frozenset(v) for k, v in out.items()}


@pytest.mark.parametrize("dob", ["1980-05-10", "1980", "~1980", ""])
def test_the_key_rows_are_the_resolvers_keys_with_documents_marked_as_atoms(dob):
    from screening.engine import resolve as r
    from screening.engine.resolve_batch import KIND_DOC, KIND_KEY, KIND_SIG, _content

    cfg = r.ResolveConfig()
    rec = TravellerRecord(1, "Mokoena", "Thabo Lerato", parse_partial_date(dob) if dob else None, "M", "LSO",
                          (Document("P", "RA1234567", "LSO"),), "Ha Abia, Maseru")
    p = r.TravellerIndex(cfg)._prepare(rec)
    docs, pairs, dates, store = r._probe_keys(p, cfg)
    edges, _, pdate = profile_keys([(7, "1", False, _content(rec))], cfg, {})
    rows = list(zip(*(edges[c].tolist() for c in ("pid", "k", "store", "kind")), strict=True))
    assert all(pid == 7 for pid, *_ in rows)
    assert len({k for _, k, _, _ in rows}) == len(rows)  # one row a key: the batch does not group them again
    keys = [k for _, k, _, kind in rows if kind != KIND_SIG]
    assert set(keys) == {*docs, *pairs, *dates, *store}
    assert {k for _, k, stored, kind in rows if stored and kind != KIND_SIG} == set(store)
    assert {k for _, k, _, kind in rows if kind == KIND_DOC} == set(docs) and len(docs) == 1
    assert {kind for *_, kind in rows} == {KIND_DOC, KIND_KEY, KIND_SIG}
    # The name-pair tiers' row: only a full date of birth has one (its variants: swapped, -1, +1 year).
    assert (len(pdate.split()) > 0) == (dob == "1980-05-10")


def test_a_judgement_key_is_one_row_even_when_it_collides_with_a_key_of_the_profile():
    from screening.engine import resolve as r
    from screening.engine.resolve_batch import KIND_DOC, KIND_KEY, KIND_MUST, _content

    cfg = r.ResolveConfig()
    rec = TravellerRecord(1, "Mokoena", "Thabo", parse_partial_date("1980-05-10"), "M", "LSO",
                          (Document("P", "RA1234567", "LSO"),))
    docs, pairs, dates, store = r._probe_keys(r.TravellerIndex(cfg)._prepare(rec), cfg)
    probed_only = next(k for k in pairs + dates if k not in store)
    # Two judgements' keys, one of them twice, and two that a hash collision makes equal to the
    # profile's document key and to a key it only probes.
    must = [11, 11, 12, docs[0], probed_only]
    edges, _, _ = profile_keys([(7, "1", True, _content(rec))], cfg, {"1": must})
    rows = {k: (stored, kind) for k, stored, kind in zip(*(edges[c].tolist() for c in ("k", "store", "kind")),
                                                          strict=True)}
    assert len(rows) == len(edges["k"])
    assert rows[11] == rows[12] == (1, KIND_MUST)
    assert rows[docs[0]] == (1, KIND_MUST) and KIND_MUST < KIND_DOC  # the stronger kind wins
    assert rows[probed_only] == (1, KIND_MUST)  # stored now: the judgement links
    assert sum(kind == KIND_KEY for _, kind in rows.values()) == len(set(store) | set(pairs) | set(dates)) - 2


def cut_at(records, workdir, cap: int) -> tuple[BatchStats, BatchStats, dict]:
    """Resolve without a cap and with a component cap (and shards) of `cap` crossings: the stats of
    both and the capped result."""
    plain, stats = BatchStats(), BatchStats()
    list(resolve_out_of_core(records, workdir=workdir / "plain", stats=plain))
    got = dict(resolve_out_of_core(records, workdir=workdir / "cut", shard_crossings=cap, component_cap=cap,
                                   stats=stats))
    return plain, stats, got


def namesake_chain(persons: int, gap: int = 1, undated_documents: bool = True) -> list[TravellerRecord]:
    """One name, `persons` people born `gap` years apart on the same day, each with its own passport
    on two dated crossings, and an undated crossing each (with that passport, or none). An undated
    record is stored under year 0, which every dated namesake probes; with a gap of one year the +-1
    year name pairs and date variants chain the dated people too."""
    out = []
    for i in range(persons):
        dob = parse_partial_date(f"{1930 + gap * i}-05-10")
        doc = (Document("P", f"RA{100000 + i}", "LSO"),)
        out.append(TravellerRecord(3 * i + 1, "Mokoena", "Thabo", dob, "M", "LSO", doc))
        out.append(TravellerRecord(3 * i + 2, "Mokoena", "Thabo", dob, "M", "LSO", doc, "Ha Abia"))
        out.append(TravellerRecord(3 * i + 3, "Mokoena", "Thabo", None, "M", "LSO", doc if undated_documents else ()))
    return out


def test_namesakes_chained_through_year_0_are_cut_by_the_first_tier(tmp_path):
    records = namesake_chain(12, gap=10, undated_documents=False)  # 36 crossings
    plain, stats, got = cut_at(records, tmp_path, 12)
    assert plain.largest_component == len(records)  # the year-0 probes join everyone
    assert stats.over_cap_components == 1 and stats.tier_crossings == [36]  # one tier was enough
    assert stats.tier_largest == [12]
    assert stats.last_resort_pieces == 0
    assert stats.pieces == 13 and stats.largest_piece == 12  # each person's pair; the twelve undated
    assert set(got) == {r.crossing_id for r in records}
    for i in range(12):
        assert got[3 * i + 1] == got[3 * i + 2]


def test_a_chain_of_namesakes_over_the_cap_is_cut_on_stronger_keys(tmp_path):
    records = namesake_chain(12)  # 36 crossings, the undated ones with the passport
    plain, stats, got = cut_at(records, tmp_path, 6)
    assert plain.largest_component == len(records)
    assert stats.over_cap_components == 1
    # The undated crossings share their year-0 name pair (twelve profiles: not a rare key) and each a
    # passport with a dated person; born a year apart, the people probe each other's name pair under the
    # +-1 year variants: only the last tier (exact dates, no variants, no rare keys) cuts the chain.
    assert stats.tier_crossings == [36] * len(_TIERS)
    assert stats.last_resort_pieces == 0
    assert stats.largest_piece <= 6 < stats.largest_component
    assert set(got) == {r.crossing_id for r in records}
    for i in range(12):  # crossings sharing a passport number are still one traveller
        assert got[3 * i + 1] == got[3 * i + 2] == got[3 * i + 3]


def test_the_last_resort_cuts_whole_document_groups_and_says_so(tmp_path):
    records = namesake_chain(12)
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, workdir=tmp_path, shard_crossings=2, component_cap=2, stats=stats))
    assert stats.tier_crossings == [36] * len(_TIERS)  # every tier tried, every piece of 3 still over 2
    assert stats.last_resort_pieces == 12 and stats.last_resort_crossings == 36
    assert stats.largest_piece == 3  # a passport's crossings are never cut apart
    for i in range(12):
        assert got[3 * i + 1] == got[3 * i + 2] == got[3 * i + 3]


def test_a_must_link_judgement_survives_the_cut(tmp_path):
    records = namesake_chain(12)
    a, b = 1, 3 * 7 + 1  # people born 1960 and 1967: the cut alone puts them in different pieces
    judgements = Judgements.of(must=[(a, b)])
    cut = dict(resolve_out_of_core(records, workdir=tmp_path / "a", shard_crossings=6, component_cap=6))
    assert cut[a] != cut[b]
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, judgements=judgements, workdir=tmp_path / "b", shard_crossings=6,
                                   component_cap=6, stats=stats))
    assert stats.over_cap_components == 1 and stats.largest_piece <= 6
    assert got[a] == got[b]


def _shard_in_worker(*args):
    """resolve_shard, noting the process it ran in (the pool is forked: this module's patch is inherited)."""
    import os

    from screening.engine import resolve_batch

    with open(os.environ["TSELA_TEST_PIDS"], "a") as f:
        f.write(f"{os.getpid()}\n")
    return resolve_batch._resolve_shard_unpatched(*args)


def test_a_process_pool_gives_the_same_partition_and_keys(tmp_path, monkeypatch):
    import os

    from screening.engine import resolve_batch

    records = generated(3000, seed=7, names="namesakes")
    pids = tmp_path / "pids"
    monkeypatch.setenv("TSELA_TEST_PIDS", str(pids))
    monkeypatch.setattr(resolve_batch, "_resolve_shard_unpatched", resolve_batch.resolve_shard, raising=False)
    _shard_in_worker.__module__, _shard_in_worker.__qualname__ = "screening.engine.resolve_batch", "resolve_shard"
    monkeypatch.setattr(resolve_batch, "resolve_shard", _shard_in_worker)
    monkeypatch.setattr(resolve_batch, "_BATCH", 400)  # several key batches through the pool as well
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, workdir=tmp_path / "w", shard_crossings=300, stats=stats, processes=2))
    assert got == resolve(records)  # the partition and the keys of one in-memory resolve
    ran_in = pids.read_text().split()
    assert len(ran_in) == stats.shards > 3
    assert os.getpid() not in {int(p) for p in ran_in}  # resolved in the pool's workers, not here


def test_components_of_a_long_chain_a_pair_and_a_star_are_named_by_their_least_profile():
    import duckdb

    from screening.engine.resolve_batch import _components

    con = duckdb.connect()
    # A chain 10 - 11 - ... - 509 (profile i shares key i with profile i + 1: 500 links, which SQL label
    # propagation walked a round per link), a pair {3, 7} and a star around 1000; 600 shares no key.
    rows = [(i, i) for i in range(10, 509)] + [(i + 1, i) for i in range(10, 509)]
    rows += [(3, 10_000), (7, 10_000)] + [(1000 + j, 20_000) for j in range(5)] + [(600, 30_000)]
    con.execute("CREATE TABLE e (pid BIGINT, k BIGINT)")
    con.executemany("INSERT INTO e VALUES (?, ?)", rows)
    _components(con, "e", "lab")
    got = dict(con.execute("SELECT pid, c FROM lab").fetchall())
    assert {p: got[p] for p in (10, 11, 250, 509)} == dict.fromkeys((10, 11, 250, 509), 10)
    assert got[3] == got[7] == 3
    assert {got[1000 + j] for j in range(5)} == {1000}
    assert got[600] == 600  # listed (it has a row) and alone
    assert len(got) == 500 + 2 + 5 + 1


GIVEN = ("Thabo", "Lerato", "Palesa", "Teboho", "Nthabiseng", "Kabelo", "Mpho", "Refiloe", "Tumelo", "Dineo",
         "Karabo", "Boitumelo")


def one_birthday(persons: int) -> list[TravellerRecord]:
    """`persons` Mokoenas with different given names, all born on 10 May 1980 (a day's births share
    surnames), each with a passport on two crossings and a third crossing with day and month swapped
    and no document (a date-of-birth slip). The surname and the exact date chain them all."""
    out = []
    for i in range(persons):
        doc = (Document("P", f"RA{200000 + i}", "LSO"),)
        for j, dob in enumerate(("1980-05-10", "1980-05-10", "1980-10-05")):
            out.append(TravellerRecord(3 * i + j + 1, "Mokoena", GIVEN[i], parse_partial_date(dob), "M", "LSO",
                                       doc if j < 2 else ()))
    return out


def test_the_name_pair_tier_cuts_a_days_births_into_persons(tmp_path):
    records = one_birthday(12)  # 36 crossings
    plain, stats, got = cut_at(records, tmp_path, 3)
    assert plain.largest_component == len(records)  # the surname and the date join everyone
    # "Surname and exact date" is no tier's key, and twelve profiles share it; the first tier cuts the day
    # into its twelve persons, each still with the crossing of the swapped date (probed as a variant).
    assert stats.tier_crossings == [36] and stats.tier_largest == [3]
    assert stats.last_resort_pieces == 0
    assert stats.pieces == 12 and stats.largest_piece == 3
    for i in range(12):
        assert got[3 * i + 1] == got[3 * i + 2] == got[3 * i + 3]


def test_the_exact_date_tier_drops_the_variant_probes_before_the_last_resort(tmp_path):
    records = one_birthday(12)
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, workdir=tmp_path, shard_crossings=2, component_cap=2, stats=stats))
    # Each person's three crossings are over the cap of 2: the last tier (exact dates only, no rare
    # keys) leaves the passport pair and, alone, the crossing with the swapped date; no chunking needed.
    assert stats.tier_crossings == [36] * len(_TIERS) and stats.tier_largest[-1] == 2
    assert stats.last_resort_pieces == 0
    assert stats.pieces == 24 and stats.largest_piece == 2
    for i in range(12):
        assert got[3 * i + 1] == got[3 * i + 2] != got[3 * i + 3]


def test_a_rare_key_keeps_a_year_only_crossing_with_its_person(tmp_path):
    records = one_birthday(12)
    for i in range(12):  # a fourth crossing each: the year of birth only, no document
        records.append(TravellerRecord(100 + i, "Mokoena", GIVEN[i], parse_partial_date("1980"), "M", "LSO", ()))
    plain, stats, got = cut_at(records, tmp_path, 4)
    assert plain.largest_component == len(records)
    # The name pair "Mokoena Thabo" with the year is a key of that person's four profiles only: a rare
    # key, kept by the first tier, so the year-only crossing stays with its person. The name-pair keys
    # need an exact date and would leave it alone (as the tier without rare keys does below).
    assert stats.tier_crossings == [48] and stats.pieces == 12 and stats.largest_piece == 4
    for i in range(12):
        assert got[3 * i + 1] == got[3 * i + 2] == got[3 * i + 3] == got[100 + i]
    stats = BatchStats()
    got = dict(resolve_out_of_core(records, workdir=tmp_path / "c", shard_crossings=3, component_cap=3,
                                   stats=stats))
    # every tier but the last (no variants) leaves the person's three dated crossings together
    assert stats.tier_crossings == [48] * (len(_TIERS) - 1) and stats.last_resort_pieces == 0
    assert all(got[100 + i] != got[3 * i + 1] for i in range(12))


_SIG_SCRIPT = """
from screening.engine.normalize import parse_partial_date
from screening.engine.resolve import TravellerIndex, TravellerRecord
from screening.engine.resolve_batch import _signature_key
r = TravellerRecord(1, "Mokoena", "Palesa", parse_partial_date("1990"), None, None, (), "")
print(_signature_key(TravellerIndex()._prepare(r)))
"""


def test_equal_profiles_share_a_signature_key_in_every_worker_process():
    # Keys workers started on their own (Dask's nannies) hash alike only with one PYTHONHASHSEED, and
    # only if no hashed value is None (on Python 3.11 its hash is its address, which differs).
    import os
    import subprocess
    import sys
    from pathlib import Path

    from screening.engine.resolve import TravellerIndex
    from screening.engine.resolve_batch import _signature_key

    root = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONHASHSEED": "7", "PYTHONPATH": root}
    runs = {subprocess.run([sys.executable, "-c", _SIG_SCRIPT], env=env, capture_output=True, text=True,
                           check=True).stdout for _ in range(2)}
    assert len(runs) == 1  # None sex, nationality, month and day: the same key in both processes

    helper = TravellerIndex()
    year = parse_partial_date("1990")
    a = helper._prepare(TravellerRecord(1, "Mokoena", "Palesa", year, None, None, (), ""))
    b = helper._prepare(TravellerRecord(2, "MOKOENA ", "palesa", year, None, None, (), ""))  # normalises alike
    c = helper._prepare(TravellerRecord(3, "Mokoena", "Palesa", year, "F", None, (), ""))
    d = helper._prepare(TravellerRecord(4, "Mokoena", "Palesa", year, None, None,
                                        (Document("P", "RA1234567", None),), ""))
    assert _signature_key(a) == _signature_key(b)
    assert len({_signature_key(a), _signature_key(c), _signature_key(d)}) == 3


def test_a_keys_worker_keeps_its_normalised_strings_between_batches_but_not_without_bound(monkeypatch):
    from screening.engine import resolve_batch
    from screening.engine.resolve import ResolveConfig

    cfg = ResolveConfig()
    monkeypatch.setattr(resolve_batch, "_helper", None)
    monkeypatch.setattr(resolve_batch, "_HELPER_STRINGS", 10)
    first = resolve_batch._key_helper(cfg)
    assert resolve_batch._key_helper(cfg) is first  # the next batch reuses the warm caches
    for i in range(11):
        first._token_cache[f"name{i}"] = ("x",)
    assert resolve_batch._key_helper(cfg) is not first  # past the bound: a fresh, empty one
    assert resolve_batch._key_helper(ResolveConfig(new_person_odds=0.5)).config.new_person_odds == 0.5
    assert resolve_batch.resolve_shard([], str, cfg, None, {}, 0, 0) == []
    assert resolve_batch._helper is None  # a worker that turns to shards frees the strings


def test_crossing_ids_with_tabs_line_breaks_and_quotes_come_back_unchanged(tmp_path):
    # The staging writes tab-separated rows without quoting; an id that would break a row goes to a
    # quoted CSV beside it, and both are read back.
    from dataclasses import replace

    records = generated(400, seed=5)
    odd = {0: "a\tb", 1: "line\nbreak", 2: 'say "x", then y', 3: "cr\rid", 4: "plain"}
    records = [replace(r, crossing_id=odd.get(i, f"id-{i}")) for i, r in enumerate(records)]
    got = dict(resolve_out_of_core(records, workdir=tmp_path, shard_crossings=100))
    assert set(odd.values()) <= set(got)
    assert got == resolve(records)


def test_no_records_resolve_to_nothing(tmp_path):
    stats = BatchStats()
    assert list(resolve_out_of_core([], workdir=tmp_path, stats=stats)) == []
    assert stats.crossings == 0
