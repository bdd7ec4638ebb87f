"""The Fellegi-Sunter match model: how much each level of each feature weighs.

For every feature (surname, given names, date of birth, ...) a comparison falls into one level
(exact, near, fuzzy, disagree, missing). Each level has two probabilities: m, how often a pair of
records of the *same* person shows it, and u, how often a pair of *different* persons does (among the
pairs blocking lets meet). The level's weight is log2(m/u): positive evidence for a match when the
level is commoner among matches, negative otherwise; "missing" weighs 0. The match probability is the
posterior from the prior (the share of blocked pairs that are matches) and the summed weights:

    log2 odds = log2(prior / (1 - prior)) + sum of weights;   probability = odds / (1 + odds)

which is what makes a score of 0.9 mean "about nine in ten such pairs are the same person" when m
and u are right. The shipped defaults (default_model.json) serve a new installation; `model_fit.fit`
learns m and u from the unit's own records by EM, without labels.

PURE: standard library only.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_ADDRESS_GROUPS", "FEATURE_NAMES", "AddressGroup", "FeatureModel", "Level", "MatchModel",
           "default_model", "probability"]

VERSION = 1
FEATURE_NAMES = ("surname", "given_names", "date_of_birth", "sex", "nationality", "document", "address")
MISSING = "missing"
_DEFAULT_PATH = Path(__file__).with_name("default_model.json")


@dataclass(frozen=True)
class Level:
    """One outcome of comparing a feature, with its probabilities among matches (m) and non-matches (u)."""

    name: str
    label: str
    m: float
    u: float

    @property
    def weight(self) -> float:
        """log2(m/u): the evidence this level adds (bits); 0 for a missing value."""
        if self.name == MISSING:
            return 0.0
        return math.log2(self.m / self.u)


@dataclass(frozen=True)
class FeatureModel:
    name: str
    title: str
    levels: tuple[Level, ...]

    def level(self, name: str) -> Level:
        for lv in self.levels:
            if lv.name == name:
                return lv
        raise KeyError(f"feature {self.name!r} has no level {name!r}")


@dataclass(frozen=True)
class AddressGroup:
    """The address's m among matches whose documents compare at one of these levels.

    A person who changes document often moves too (a second passport, a forged number: a trafficker
    changes both), so among matches a different address is far commoner when the documents differ than
    when they agree. Multiplying the two disagreements as if independent counts that evidence twice.
    Among *different* persons the document and the address are unrelated, so u stays the address
    feature's own: the weight of an address level in this group is log2(m[level] / u[level]).
    """

    name: str
    label: str
    document_levels: tuple[str, ...]
    # address level (missing excluded) -> m among matches, conditional on both addresses recorded
    m: dict[str, float] = field(hash=False)


# Groups `model_fit.fit` learns when its starting model has none (the shipped defaults before the
# interaction): documents that agree (exactly or but for a typo), that differ (another type, another
# number), and no comparable document on one side.
DEFAULT_ADDRESS_GROUPS = (
    ("agree", "Documents agree", ("exact", "near")),
    ("other_type", "Documents of different types", ("other_type",)),
    ("differ", "Different numbers on the same document type", ("disagree", "id_disagree")),
    (MISSING, "No document on one side", (MISSING,)),
)


@dataclass(frozen=True)
class MatchModel:
    """The features' levels with m/u, the prior P(match) among blocked pairs, and where they came from."""

    features: tuple[FeatureModel, ...]
    prior: float
    fitted_at: str | None = None
    pairs: int = 0
    source: str = "default"  # "default" | "fitted"
    # Records (crossings) of the population the prior was measured on (0: unknown). The prior is
    # ~1/(persons in the population); with a similar number of crossings per person, the number of
    # crossings stands for it, and `prior_log_odds_for` scales the prior to another population's.
    population: int = 0
    # The document x address interaction: the address's m given the document level's group. Empty
    # (models stored before it): the address weighs the same whatever the documents say.
    address_groups: tuple[AddressGroup, ...] = ()
    # {feature: {level: weight}} and log2 prior odds, computed once (the hot path reads these).
    weights: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False, hash=False)
    prior_log_odds: float = field(init=False, repr=False, compare=False, hash=False)
    # {feature: u of its "exact" level}: the name-frequency adjustment's reference, read per comparison.
    exact_u: dict[str, float] = field(init=False, repr=False, compare=False, hash=False)
    # {document level: {address level: weight}}: the address weight given the documents' level (the
    # hot path reads it); {document level: group} for the explanation.
    address_weights: dict[str, dict[str, float]] = field(init=False, repr=False, compare=False, hash=False)
    address_group_of: dict[str, AddressGroup] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        table = {f.name: {lv.name: lv.weight for lv in f.levels} for f in self.features}
        object.__setattr__(self, "weights", table)
        address = self.feature("address")
        group_of = {d: g for g in self.address_groups for d in g.document_levels}
        by_doc = {}
        for doc in (lv.name for lv in self.feature("document").levels):
            g = group_of.get(doc)
            if g is None:
                by_doc[doc] = table["address"]
            else:
                by_doc[doc] = {lv.name: 0.0 if lv.name == MISSING else math.log2(g.m[lv.name] / lv.u)
                               for lv in address.levels}
        object.__setattr__(self, "address_weights", by_doc)
        object.__setattr__(self, "address_group_of", group_of)
        object.__setattr__(self, "exact_u", {f.name: lv.u for f in self.features for lv in f.levels
                                             if lv.name == "exact"})
        object.__setattr__(self, "prior_log_odds", math.log2(self.prior / (1.0 - self.prior)))

    def weight(self, feature: str, level: str) -> float:
        """Weight of one level of one feature; KeyError names an unknown feature or level."""
        try:
            return self.weights[feature][level]
        except KeyError:
            raise KeyError(f"no weight for feature {feature!r} level {level!r}") from None

    def feature(self, name: str) -> FeatureModel:
        for f in self.features:
            if f.name == name:
                return f
        raise KeyError(f"no feature {name!r}")

    def max_weight(self, feature: str) -> float:
        """The largest weight of a feature's levels (for the address: whatever the documents say)."""
        if feature == "address":
            return max(w for table in self.address_weights.values() for w in table.values())
        return max(self.weights[feature].values())

    def address_weight(self, document: str, address: str) -> float:
        """Weight of an address level given the pair's document level (the interaction, when fitted)."""
        return self.address_weights[document][address]

    def probability(self, total_weight: float) -> float:
        """Posterior match probability from the prior and the summed weights."""
        return probability(self.prior_log_odds + total_weight)

    def prior_for(self, population: int) -> float:
        """The prior scaled to a population of this many records (as record linkage scales it).

        The prior is expected matches / candidate pairs: a person has about as many records in a
        population of any size (a unit's crossings in a year), so the chance that a given record is
        some other record's person falls as 1/n. A list ten times larger holds ten times the
        namesakes of a name and lowers the prior ~3.3 bits. Unknown population (0), or one no larger
        than the fitted one: the fitted prior unchanged. It is never raised for a smaller list: a
        small list is usually a narrow one (one town, one age group), where the model's chance
        agreement of birth years and addresses is too low, and a raised prior would flag namesakes.
        """
        if self.population < 2 or population <= self.population:
            return self.prior
        expected = self.prior * (self.population - 1)
        return min(max(expected / (population - 1), 1e-12), 0.5)

    def prior_log_odds_for(self, population: int) -> float:
        prior = self.prior_for(population)
        return self.prior_log_odds if prior == self.prior else math.log2(prior / (1.0 - prior))

    def to_json(self) -> dict[str, Any]:
        return {"version": VERSION, "source": self.source, "fitted_at": self.fitted_at, "pairs": self.pairs,
                "prior": self.prior, "population": self.population,
                "features": [{"name": f.name, "title": f.title,
                              "levels": [{"name": lv.name, "label": lv.label, "m": lv.m, "u": lv.u}
                                         for lv in f.levels]} for f in self.features],
                **({"address_given_document": [
                    {"name": g.name, "label": g.label, "document_levels": list(g.document_levels), "m": dict(g.m)}
                    for g in self.address_groups]} if self.address_groups else {})}

    @classmethod
    def from_json(cls, d: dict) -> MatchModel:
        """Validate and build; a ValueError names the first bad field (e.g. "features[2].levels[0].m")."""
        if not isinstance(d, dict):
            raise ValueError("model: expected a JSON object")
        if d.get("version") != VERSION:
            raise ValueError(f"version: expected {VERSION}, got {d.get('version')!r}")
        source = d.get("source")
        if source not in ("default", "fitted"):
            raise ValueError(f"source: expected 'default' or 'fitted', got {source!r}")
        fitted_at = d.get("fitted_at")
        if fitted_at is not None and not isinstance(fitted_at, str):
            raise ValueError("fitted_at: expected a string or null")
        pairs = d.get("pairs")
        if not isinstance(pairs, int) or isinstance(pairs, bool) or pairs < 0:
            raise ValueError("pairs: expected a non-negative integer")
        prior = _probability_field(d.get("prior"), "prior", open_top=True)
        population = d.get("population", 0)  # absent in models stored before it was recorded
        if not isinstance(population, int) or isinstance(population, bool) or population < 0:
            raise ValueError("population: expected a non-negative integer")
        raw_features = d.get("features")
        if not isinstance(raw_features, list) or not raw_features:
            raise ValueError("features: expected a non-empty list")
        features, seen = [], set()
        for i, f in enumerate(raw_features):
            where = f"features[{i}]"
            if not isinstance(f, dict):
                raise ValueError(f"{where}: expected an object")
            name, title = f.get("name"), f.get("title")
            if name not in FEATURE_NAMES:
                raise ValueError(f"{where}.name: {name!r} is not one of {', '.join(FEATURE_NAMES)}")
            if name in seen:
                raise ValueError(f"{where}.name: {name!r} appears twice")
            seen.add(name)
            if not isinstance(title, str) or not title:
                raise ValueError(f"{where}.title: expected a non-empty string")
            raw_levels = f.get("levels")
            if not isinstance(raw_levels, list) or len(raw_levels) < 2:
                raise ValueError(f"{where}.levels: expected a list of at least two levels")
            levels, level_names = [], set()
            for j, lv in enumerate(raw_levels):
                lwhere = f"{where}.levels[{j}]"
                if not isinstance(lv, dict):
                    raise ValueError(f"{lwhere}: expected an object")
                lname, label = lv.get("name"), lv.get("label")
                if not isinstance(lname, str) or not lname or lname in level_names:
                    raise ValueError(f"{lwhere}.name: expected a new non-empty string, got {lname!r}")
                level_names.add(lname)
                if not isinstance(label, str) or not label:
                    raise ValueError(f"{lwhere}.label: expected a non-empty string")
                m = _probability_field(lv.get("m"), f"{lwhere}.m")
                u = _probability_field(lv.get("u"), f"{lwhere}.u")
                levels.append(Level(lname, label, m, u))
            if MISSING not in level_names:
                raise ValueError(f"{where}.levels: a {MISSING!r} level is required")
            features.append(FeatureModel(name, title, tuple(levels)))
        absent = [n for n in FEATURE_NAMES if n not in seen]
        if absent:
            raise ValueError(f"features: missing {', '.join(absent)}")
        groups = _address_groups(d.get("address_given_document", []), {f.name: f for f in features})
        return cls(tuple(features), prior, fitted_at, pairs, source, population, groups)

    def with_levels(self, updates: dict[str, dict[str, tuple[float, float]]], *, prior: float, pairs: int,
                    fitted_at: str | None, source: str = "fitted", population: int | None = None,
                    address_groups: tuple[AddressGroup, ...] | None = None) -> MatchModel:
        """A copy with new (m, u) for the given feature levels (the others kept), and new address groups."""
        features = []
        for f in self.features:
            new = updates.get(f.name, {})
            features.append(FeatureModel(f.name, f.title, tuple(
                Level(lv.name, lv.label, *new[lv.name]) if lv.name in new else lv for lv in f.levels)))
        return MatchModel(tuple(features), prior, fitted_at, pairs, source,
                          self.population if population is None else population,
                          self.address_groups if address_groups is None else address_groups)


def _address_groups(raw: Any, features: dict[str, FeatureModel]) -> tuple[AddressGroup, ...]:
    """Validate the stored interaction (absent: none); a ValueError names the first bad field."""
    if not isinstance(raw, list):
        raise ValueError("address_given_document: expected a list")
    doc_levels = {lv.name for lv in features["document"].levels}
    addr_levels = [lv.name for lv in features["address"].levels if lv.name != MISSING]
    groups, names, covered = [], set(), set()
    for i, g in enumerate(raw):
        where = f"address_given_document[{i}]"
        if not isinstance(g, dict):
            raise ValueError(f"{where}: expected an object")
        name, label, levels, m = g.get("name"), g.get("label"), g.get("document_levels"), g.get("m")
        if not isinstance(name, str) or not name or name in names:
            raise ValueError(f"{where}.name: expected a new non-empty string, got {name!r}")
        names.add(name)
        if not isinstance(label, str) or not label:
            raise ValueError(f"{where}.label: expected a non-empty string")
        if not isinstance(levels, list) or not levels:
            raise ValueError(f"{where}.document_levels: expected a non-empty list")
        for lv in levels:
            if lv not in doc_levels or lv in covered:
                raise ValueError(f"{where}.document_levels: {lv!r} is not a document level or is in another group")
            covered.add(lv)
        if not isinstance(m, dict) or set(m) != set(addr_levels):
            raise ValueError(f"{where}.m: expected m for the address levels {', '.join(addr_levels)}")
        groups.append(AddressGroup(name, label, tuple(levels),
                                   {lv: _probability_field(m[lv], f"{where}.m.{lv}") for lv in addr_levels}))
    return tuple(groups)


def _probability_field(value: Any, where: str, *, open_top: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ValueError(f"{where}: expected a number")
    top_ok = value < 1.0 if open_top else value <= 1.0
    if not (value > 0.0 and top_ok):
        raise ValueError(f"{where}: {value!r} is not a probability in (0, 1{')' if open_top else ']'}")
    return float(value)


def probability(log2_odds: float) -> float:
    """Probability from log2 odds, without overflow."""
    if log2_odds >= 0:
        return 1.0 / (1.0 + 2.0 ** -log2_odds)
    odds = 2.0 ** log2_odds
    return odds / (1.0 + odds)


@lru_cache(maxsize=1)
def default_model() -> MatchModel:
    """The shipped model (screening/engine/default_model.json), used until the unit fits its own."""
    return MatchModel.from_json(json.loads(_DEFAULT_PATH.read_text(encoding="utf-8")))
