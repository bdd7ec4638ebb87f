"""Resolution's memoised scoring equals the engine's straightforward one (screening/engine/resolve.py).

`TravellerIndex._score` memoises name weights per pair of spellings, token alignments and
name-frequency adjustments; it must give exactly the floats `partial_weight` + `compare_names` +
`name_weight` give, or a link would flip at a threshold. Checked on generated crossings with every
noise class.
"""

import itertools
import random

import pytest

from bench.generate import generate_crossings, generate_persons
from screening.engine.matching import (
    Document,
    compare_names,
    dob_rule_applies,
    name_weight,
    partial_weight,
)
from screening.engine.normalize import parse_partial_date
from screening.engine.resolve import (
    ResolveConfig,
    TravellerIndex,
    TravellerRecord,
    _log_odds,
    _probability,
    resolve,
)


def generated(n: int, seed: int, names: str) -> list[TravellerRecord]:
    persons = generate_persons(max(n // 5, 1), seed=seed, names=names)
    out = []
    for i, r in enumerate(generate_crossings(persons, n, seed=seed + 1, profile="issue15")):
        docs = ((Document(r["document_type"] or None, r["document_number"], r["document_country"] or None),)
                if r["document_number"] else ())
        dob = parse_partial_date(r["date_of_birth"]) if r["date_of_birth"] else None
        out.append(TravellerRecord(i + 1, r["surname"], r["given_names"], dob, r["sex"] or None,
                                   r["nationality"] or None, docs, r["address"] or ""))
    return out


def straightforward(index: TravellerIndex, p, c, floor: float) -> tuple[float, bool, bool]:
    """The scoring as written before the fast path: the engine's functions, one pair at a time."""
    cfg = index._match
    w, doc, dob = partial_weight(p, c, cfg)
    doc_agree = doc in ("exact", "near")
    rule = dob == "disagree" and dob_rule_applies(p, c, dob, doc)
    need = _log_odds(floor) - index._prior
    if w + index._name_max < need or (rule and cfg.dob_rule_cap < floor):
        return min(_probability(index._prior + w), cfg.dob_rule_cap if rule else 1.0, floor * 0.999), doc_agree, rule
    p_ = _probability(index._prior + w + name_weight(compare_names(p, c, cfg), cfg))
    return (min(p_, cfg.dob_rule_cap) if rule else p_), doc_agree, rule


@pytest.mark.parametrize("names", ["realistic", "namesakes"])
def test_memoised_scoring_equals_the_engine_exactly(names):
    records = generated(3000, seed=23, names=names)
    index = TravellerIndex.build(records)
    profiles = [p for p in index._profiles if p is not None]
    # Pairs that block together (the pairs resolution scores) and random pairs (most disagree).
    by_surname: dict = {}
    for p in profiles:
        by_surname.setdefault(p.variants[0][0] if p.variants else (), []).append(p)
    near = [pair for group in by_surname.values() for pair in itertools.combinations(group[:12], 2)]
    rng = random.Random(5)
    pairs = near[:4000] + [tuple(rng.sample(profiles, 2)) for _ in range(2000)]
    assert len(pairs) > 3000
    linked = 0
    for floor in (index.config.weak_link_threshold, 0.3):
        for p, c in pairs:
            fast = index._score(p, c, floor)
            assert fast == straightforward(index, p, c, floor)
            linked += fast[0] >= floor
    assert linked > 500  # the comparison covered pairs that link, not only ones under the floor


def test_resolution_is_the_same_with_a_cold_or_warm_alignment_memo():
    """The alignment memo only remembers: a memo cleared at every entry gives the same partition."""
    records = generated(2000, seed=29, names="namesakes")
    assert resolve(records) == resolve(records, ResolveConfig(name_cache_size=1))
