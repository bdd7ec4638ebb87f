"""The document x address interaction of the match model (issue 15): a person who changes document
often moves too, so the address's m among matches is learned per group of document levels."""

import copy
import json
import random

import pytest

from screening.engine.fellegi_sunter import FEATURE_NAMES, MatchModel, default_model
from screening.engine.matching import Identity, MatchConfig, match, partial_weight, prepare
from screening.engine.model_fit import estimate_with_groups, start_groups
from tests.unit.test_fellegi_sunter import _draw  # one way of drawing a level from its probabilities


def _without_interaction() -> dict:
    """A model as stored before the interaction existed (no address_given_document)."""
    data = copy.deepcopy(default_model().to_json())
    data.pop("address_given_document", None)
    return data


def test_em_learns_a_planted_dependence_of_the_address_on_the_document_without_labels():
    """Matches whose document differs mostly live elsewhere (70 %); those whose document agrees rarely
    (5 %). EM, from a model without the interaction and without labels, finds both."""
    rng = random.Random(11)
    doc_m = {"exact": 0.55, "near": 0.10, "other_type": 0.15, "disagree": 0.15, "id_disagree": 0.05}
    doc_u = {"exact": 0.01, "near": 0.01, "other_type": 0.40, "disagree": 0.40, "id_disagree": 0.18}
    addr_m_given = {"agree": {"exact": 0.85, "near": 0.05, "fuzzy": 0.05, "disagree": 0.05},
                    "differ": {"exact": 0.15, "near": 0.05, "fuzzy": 0.10, "disagree": 0.70}}
    addr_u = {"exact": 0.02, "near": 0.03, "fuzzy": 0.10, "disagree": 0.85}
    other = {"surname": ({"exact": 0.9, "disagree": 0.1}, {"exact": 0.2, "disagree": 0.8}),
             "given_names": ({"exact": 0.9, "disagree": 0.1}, {"exact": 0.2, "disagree": 0.8}),
             "date_of_birth": ({"exact": 0.9, "disagree": 0.1}, {"exact": 0.05, "disagree": 0.95}),
             "sex": ({"agree": 0.99, "disagree": 0.01}, {"agree": 0.5, "disagree": 0.5}),
             "nationality": ({"agree": 0.95, "disagree": 0.05}, {"agree": 0.7, "disagree": 0.3})}
    counts: dict[tuple, int] = {}
    for _ in range(80_000):
        is_match = rng.random() < 0.3
        v = {f: _draw(rng, list((m if is_match else u).items())) for f, (m, u) in other.items()}
        v["document"] = _draw(rng, list((doc_m if is_match else doc_u).items()))
        group = "agree" if v["document"] in ("exact", "near") else "differ"
        v["address"] = _draw(rng, list((addr_m_given[group] if is_match else addr_u).items()))
        key = tuple(v[f] for f in FEATURE_NAMES)
        counts[key] = counts.get(key, 0) + 1
    start = MatchModel.from_json(_without_interaction())
    assert start.address_groups == ()
    groups = start_groups(start)
    levels, prior, fitted = estimate_with_groups(counts, start, groups=groups)
    by_name = {g.name: g for g in fitted}
    assert prior == pytest.approx(0.3, abs=0.02)
    assert by_name["agree"].m["disagree"] == pytest.approx(0.05, abs=0.03)
    for name in ("other_type", "differ"):  # both groups of a different document
        assert by_name[name].m["disagree"] == pytest.approx(0.70, abs=0.05), name
    # The model built from the fit weighs a moved address far less against a pair whose document differs.
    model = start.with_levels(levels, prior=prior, pairs=1, fitted_at=None, address_groups=fitted)
    assert model.address_weight("disagree", "disagree") > model.address_weight("exact", "disagree") + 3
    assert model.address_weight("other_type", "disagree") > model.address_weight("exact", "disagree") + 3
    assert MatchModel.from_json(json.loads(json.dumps(model.to_json()))) == model


def test_a_model_stored_without_the_interaction_loads_and_scores_as_before():
    data = _without_interaction()
    model = MatchModel.from_json(data)
    assert "address_given_document" not in model.to_json()
    for doc in model.weights["document"]:
        assert model.address_weights[doc] == model.weights["address"]
    cfg = MatchConfig(model=model)
    a = Identity.from_strings("a", "Mokoena", "Thabo", date_of_birth="1985-03-02", sex="M", nationality="LSO",
                              document_number="RA1234567", document_type="P", document_country="LSO",
                              address="Ha Abia, Maseru")
    b = Identity.from_strings("b", "Mokoena", "Thabo", date_of_birth="1985-03-02", sex="M", nationality="LSO",
                              document_number="RB7654321", document_type="P", document_country="LSO",
                              address="Plot 12 Kingsway, Leribe")
    r = match(a, b, cfg)
    address = next(f for f in r.features if f.name == "address")
    assert address.level == "disagree" and address.weight == model.weight("address", "disagree")
    # The score is the plain sum of per-feature weights, as before the interaction.
    assert r.weight == pytest.approx(sum(f.contribution for f in r.features))
    w, doc, _dob = partial_weight(prepare(a), prepare(b), cfg)
    assert doc == "disagree"
    assert w == pytest.approx(sum(f.contribution for f in r.features if f.name not in ("surname", "given_names")))
    assert "given" not in address.explanation


def test_the_explanation_names_the_address_weight_given_the_documents():
    model = default_model()
    assert model.address_groups, "the shipped model carries the interaction"
    a = Identity.from_strings("a", "Mokoena", "Thabo", date_of_birth="1985-03-02", document_number="RA1234567",
                              document_type="P", document_country="LSO", address="Ha Abia, Maseru")
    b = Identity.from_strings("b", "Mokoena", "Thabo", date_of_birth="1985-03-02", document_number="RB7654321",
                              document_type="P", document_country="LSO", address="Plot 12 Kingsway, Leribe")
    r = match(a, b, MatchConfig(model=model))
    address = next(f for f in r.features if f.name == "address")
    conditional = model.address_weight("disagree", "disagree")
    assert address.weight == pytest.approx(conditional) and address.contribution == pytest.approx(conditional)
    assert conditional != pytest.approx(model.weight("address", "disagree"))
    group = model.address_group_of["disagree"]
    bits = f"{conditional:+.1f}".replace("-", "\u2212")
    assert f"weight {bits} given what the documents say: {group.label}" in address.explanation
    assert address.explanation in r.explanations
    # Same documents: the address weighs as among pairs whose documents agree.
    c = Identity.from_strings("c", "Mokoena", "Thabo", date_of_birth="1985-03-02", document_number="RA1234567",
                              document_type="P", document_country="LSO", address="Plot 12 Kingsway, Leribe")
    agree = next(f for f in match(a, c, MatchConfig(model=model)).features if f.name == "address")
    assert agree.weight == pytest.approx(model.address_weight("exact", "disagree"))
    assert agree.weight < conditional


@pytest.mark.parametrize(("change", "field"), [
    pytest.param(lambda g: g[0].update(document_levels=["shoe"]), r"address_given_document\[0\]\.document_levels",
                 id="unknown-document-level"),
    pytest.param(lambda g: g[1].update(document_levels=list(g[0]["document_levels"])),
                 r"address_given_document\[1\]\.document_levels", id="level-in-two-groups"),
    pytest.param(lambda g: g[0]["m"].pop("fuzzy"), r"address_given_document\[0\]\.m", id="m-missing-level"),
    pytest.param(lambda g: g[0]["m"].update(exact=0.0), r"address_given_document\[0\]\.m\.exact", id="m-zero"),
])
def test_a_bad_interaction_is_refused_naming_the_field(change, field):
    data = copy.deepcopy(default_model().to_json())
    change(data["address_given_document"])
    with pytest.raises(ValueError, match=field):
        MatchModel.from_json(data)
