"""The Fellegi-Sunter model (screening/engine/fellegi_sunter.py) and its EM fit (model_fit.py)."""

import copy
import json
import math
import random

import pytest

from bench.generate import generate_crossings, generate_persons
from screening.engine.fellegi_sunter import FEATURE_NAMES, MatchModel, default_model
from screening.engine.matching import Identity
from screening.engine.model_fit import NotEnoughData, estimate, fit


def test_default_model_round_trips_through_json():
    model = default_model()
    data = json.loads(json.dumps(model.to_json()))
    assert data["version"] == 1 and data["source"] == "default" and data["fitted_at"] is None
    assert [f["name"] for f in data["features"]] == list(FEATURE_NAMES)
    again = MatchModel.from_json(data)
    assert again == model
    assert again.weights == model.weights


def test_weight_is_log2_m_over_u_and_missing_weighs_nothing():
    model = default_model()
    level = model.feature("surname").level("exact")
    assert model.weight("surname", "exact") == pytest.approx(math.log2(level.m / level.u))
    assert all(model.weight(name, "missing") == 0.0 for name in FEATURE_NAMES)
    with pytest.raises(KeyError, match="surname"):
        model.weight("surname", "nonsense")


def test_probability_is_the_posterior_from_the_prior_and_the_weights():
    model = default_model()
    odds = model.prior / (1 - model.prior) * 2 ** 3.0
    assert model.probability(3.0) == pytest.approx(odds / (1 + odds))
    assert model.probability(-2000.0) == 0.0 and model.probability(2000.0) == 1.0


def _bad(path, value):
    data = copy.deepcopy(default_model().to_json())
    target = data
    for key in path[:-1]:
        target = target[key]
    if value is KeyError:
        del target[path[-1]]
    else:
        target[path[-1]] = value
    return data


@pytest.mark.parametrize(("data", "field"), [
    pytest.param(_bad(["version"], 2), "version", id="version"),
    pytest.param(_bad(["prior"], 1.0), "prior", id="prior-not-a-probability"),
    pytest.param(_bad(["pairs"], -1), "pairs", id="pairs-negative"),
    pytest.param(_bad(["source"], "guessed"), "source", id="source"),
    pytest.param(_bad(["features", 2, "levels", 0, "m"], 0.0), r"features\[2\]\.levels\[0\]\.m", id="m-zero"),
    pytest.param(_bad(["features", 1, "levels", 3, "u"], "x"), r"features\[1\]\.levels\[3\]\.u", id="u-text"),
    pytest.param(_bad(["features", 0, "name"], "shoe_size"), r"features\[0\]\.name", id="unknown-feature"),
    pytest.param(_bad(["features", 4, "levels"], []), r"features\[4\]\.levels", id="no-levels"),
    pytest.param(_bad(["features", 5, "title"], KeyError), r"features\[5\]\.title", id="title-missing"),
    pytest.param({**default_model().to_json(), "features": default_model().to_json()["features"][:-1]},
                 "features: missing address", id="feature-missing"),
    pytest.param([], "model", id="not-an-object"),
])
def test_from_json_names_the_bad_field(data, field):
    with pytest.raises(ValueError, match=field):
        MatchModel.from_json(data)


# --- EM ----------------------------------------------------------------------------------------------

def _draw(rng, probs):
    r, acc = rng.random(), 0.0
    for name, p in probs:
        acc += p
        if r < acc:
            return name
    return probs[-1][0]


def test_em_recovers_a_known_model_from_synthetic_pairs():
    """Pairs drawn from known m, u and prior: EM started from the shipped defaults finds them again."""
    truth = {
        "surname": {"exact": (0.85, 0.10), "near": (0.10, 0.05), "fuzzy": (0.03, 0.15), "disagree": (0.02, 0.70)},
        "given_names": {"exact": (0.70, 0.08), "near": (0.20, 0.12), "fuzzy": (0.05, 0.20),
                        "disagree": (0.05, 0.60)},
        "date_of_birth": {"exact": (0.80, 0.01), "swapped": (0.02, 0.01), "typo": (0.05, 0.02),
                          "year_month": (0.01, 0.01), "year": (0.05, 0.10), "estimated": (0.01, 0.02),
                          "year_near": (0.02, 0.13), "slips": (0.01, 0.01), "disagree": (0.03, 0.69)},
        "sex": {"agree": (0.98, 0.5), "disagree": (0.02, 0.5)},
        "nationality": {"agree": (0.95, 0.7), "disagree": (0.05, 0.3)},
        "document": {"exact": (0.60, 0.01), "near": (0.10, 0.01), "other_type": (0.05, 0.10),
                     "disagree": (0.24, 0.70), "id_disagree": (0.01, 0.18)},
        "address": {"exact": (0.70, 0.05), "near": (0.10, 0.05), "fuzzy": (0.10, 0.20), "disagree": (0.10, 0.70)},
    }
    prior, n = 0.3, 60_000
    rng = random.Random(3)
    counts: dict[tuple, int] = {}
    for _ in range(n):
        k = 0 if rng.random() < prior else 1
        v = tuple(_draw(rng, [(lv, mu[k]) for lv, mu in truth[f].items()]) for f in FEATURE_NAMES)
        counts[v] = counts.get(v, 0) + 1
    levels, fitted_prior = estimate(counts, default_model())
    assert fitted_prior == pytest.approx(prior, abs=0.02)
    for f, table in truth.items():
        for level, (m, u) in table.items():
            got_m, got_u = levels[f][level]
            assert got_m == pytest.approx(m, abs=0.025), (f, level, "m")
            assert got_u == pytest.approx(u, abs=0.025), (f, level, "u")


def _identities(crossings, seed=21):
    persons = generate_persons(max(crossings // 5, 1), seed=seed)
    rows = generate_crossings(persons, crossings, seed=seed + 1)
    return [Identity.from_strings(r["external_id"], r["surname"], r["given_names"],
                                  date_of_birth=r["date_of_birth"] or None, sex=r["sex"],
                                  nationality=r["nationality"], document_number=r["document_number"],
                                  document_type=r["document_type"], document_country=r["document_country"],
                                  address=r["address"]) for r in rows]


def test_fit_learns_from_generated_crossings_deterministically():
    ids = _identities(6000)
    a = fit(ids, min_pairs=500, max_pairs=4000, seed=7)
    b = fit(ids, min_pairs=500, max_pairs=4000, seed=7)
    assert a.source == "fitted" and a.fitted_at and a.pairs == 4000
    assert a.to_json()["features"] == b.to_json()["features"] and a.prior == b.prior
    # Learned without labels, the evidence points the right way.
    assert a.weight("date_of_birth", "exact") > 0 > a.weight("date_of_birth", "disagree")
    assert a.weight("document", "exact") > 0 > a.weight("document", "disagree")
    assert a.weight("surname", "exact") > 0 > a.weight("surname", "disagree")
    assert MatchModel.from_json(json.loads(json.dumps(a.to_json()))) == a


def test_fit_refuses_too_few_pairs_and_says_how_many():
    ids = _identities(200)
    with pytest.raises(NotEnoughData, match=r"found [\d,]+ blocked pairs .* at least 1,000,000"):
        fit(ids, min_pairs=1_000_000)


def test_em_blocking_meets_a_year_off_by_one_like_resolution_does():
    from screening.engine.matching import prepare
    from screening.engine.model_fit import blocked_pairs

    a = prepare(Identity.from_strings("a", "Mokoena", "Thabo", date_of_birth="1985"))
    b = prepare(Identity.from_strings("b", "Mokoena", "Thabo", date_of_birth="1986"))
    c = prepare(Identity.from_strings("c", "Mokoena", "Thabo", date_of_birth="1990"))
    pairs, found = blocked_pairs([a, b, c], max_pairs=10, seed=1)
    assert pairs == [(0, 1)] and found == 1


def test_u_comes_from_random_pairs_and_the_prior_is_the_random_pair_match_rate():
    persons = generate_persons(400, seed=5)
    rows = generate_crossings(persons, 2000, seed=6, profile="issue15")
    from bench.generate import person_to_identity

    model = fit([person_to_identity(r) for r in rows], min_pairs=50, seed=3)
    # Two random persons rarely share a full date of birth; a blocked pair (same names, same year) often would.
    assert model.feature("date_of_birth").level("exact").u < 0.01
    assert model.weight("date_of_birth", "exact") > model.weight("date_of_birth", "year") > 0
    assert model.prior < 0.01
