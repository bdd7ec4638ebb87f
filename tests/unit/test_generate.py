"""The benchmark generator: seeded, and with a realistic spread of names (few namesakes, long tail)."""

import random
from collections import Counter

import pytest

from bench.generate import _NAMES, generate_persons, noisy_observation


def test_generation_is_seeded_and_deterministic():
    assert generate_persons(50, seed=3) == generate_persons(50, seed=3)
    assert generate_persons(50, seed=3) != generate_persons(50, seed=4)


def test_realistic_names_have_a_common_head_and_a_long_tail():
    persons = generate_persons(20_000, seed=1)
    surnames = Counter(p["surname"] for p in persons)
    lso = [p for p in persons if p["nationality"] == "LSO"]
    top_share = Counter(p["surname"] for p in lso).most_common(1)[0][1] / len(lso)
    assert 0.005 < top_share < 0.03  # the commonest surname: about 1-2%, not 9%
    assert len(surnames) > 5_000  # thousands of distinct surnames
    listed = {s for _, _, pool in _NAMES.values() for s in pool}
    head = sum(n for s, n in surnames.items() if s in listed) / len(persons)
    assert 0.15 < head < 0.45  # the listed names are the common head, not everyone
    namesakes = Counter((p["surname"], p["given_names"], p["date_of_birth"][:4]) for p in persons)
    assert sum(n for n in namesakes.values() if n > 1) / len(persons) < 0.01


def test_narrow_names_reproduce_the_first_benchmark_pools():
    listed = {s for _, _, pool in _NAMES.values() for s in pool}
    persons = generate_persons(2_000, seed=1, names="narrow")
    assert {p["surname"] for p in persons} <= listed
    with pytest.raises(ValueError, match="names must be one of"):
        generate_persons(1, names="wide")


def test_noisy_observation_records_its_noise():
    person = generate_persons(1, seed=2)[0]
    obs = noisy_observation(person, random.Random(1), noises=("doc_missing", "dob_year_only"))
    assert obs["noise"] == ["doc_missing", "dob_year_only"]
    assert obs["document_number"] == "" and len(obs["date_of_birth"]) == 4


def test_no_date_of_birth_is_a_spike():
    persons = generate_persons(20_000, seed=1)
    top_date, n = Counter(p["date_of_birth"] for p in persons if len(p["date_of_birth"]) == 10).most_common(1)[0]
    assert n < 15, (top_date, n)  # ~20,000 persons over ~20,000 days: a handful per day at most
