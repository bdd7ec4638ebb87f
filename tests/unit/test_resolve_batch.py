"""The out-of-core batch resolution gives exactly the partition (and keys) of the in-memory `resolve`."""

import pytest

pytest.importorskip("duckdb", reason="duckdb is needed by the out-of-core resolution")

from bench.generate import generate_crossings, generate_persons  # noqa: E402
from screening.engine.matching import Document  # noqa: E402
from screening.engine.normalize import parse_partial_date  # noqa: E402
from screening.engine.resolve import Judgements, TravellerRecord, resolve  # noqa: E402
from screening.engine.resolve_batch import BatchStats, resolve_out_of_core  # noqa: E402


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


def test_a_key_cap_breaks_components_and_still_assigns_every_crossing(tmp_path):
    records = generated(2000, seed=17)
    exact, capped = BatchStats(), BatchStats()
    list(resolve_out_of_core(records, workdir=tmp_path / "a", stats=exact))
    got = dict(resolve_out_of_core(records, workdir=tmp_path / "b", key_cap=2, stats=capped))
    assert set(got) == {r.crossing_id for r in records}
    assert capped.edges < exact.edges and capped.largest_component <= exact.largest_component
    assert capped.components > exact.components
