"""Pure matcher: is this traveller the same person as this person of interest (or this crossing)?

Evidence weighed, not vetoed. Each feature (surname, given names, date of birth, sex, nationality,
document number, address) compares one aspect of two identities and falls into a *level* (exact, near,
fuzzy, disagree, missing, ...). The level's weight comes from the Fellegi-Sunter model in
`config.model` (`fellegi_sunter.MatchModel`: shipped defaults, or fitted on the unit's data by
`model_fit.fit`). The score is the match probability: the posterior from the model's prior and the
summed weights, so 0.9 means about nine in ten such pairs are the same person.

Names get a term-frequency adjustment when a table of name frequencies is known (as Splink does): a
rare name agreeing weighs more than a common one, so namesakes (every Thabo Mokoena born in 1985) do
not pass for one person. One hard rule a person would defend sits on top and is said in the
explanation: full dates of birth that differ by more than a typo, with no document agreeing, keep
two identities apart whatever the names say (the probability is capped under the flag threshold).

`match()` works on `Identity`; the index and traveller resolution call `match_prepared()` on identities
normalised once (`prepare()`), and their hot paths use `partial_weight()` and `compare_names()`,
the same computation without building explanations.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, NamedTuple

from rapidfuzz import fuzz
from rapidfuzz.distance import OSA

from screening.engine.fellegi_sunter import MatchModel, default_model
from screening.engine.memo import memo
from screening.engine.normalize import (
    PartialDate,
    canonical,
    loose,
    name_tokens,
    normalize_address,
    normalize_document,
    ocr_key,
    parse_partial_date,
)
from screening.engine.phrases import Phrase, say

__all__ = [
    "DEFAULT",
    "Document",
    "FeatureResult",
    "Identity",
    "MatchConfig",
    "MatchResult",
    "NameComparison",
    "NameFrequencies",
    "Prepared",
    "address_level",
    "compare_names",
    "dob_level",
    "document_level",
    "match",
    "match_prepared",
    "name_feature",
    "home_capped",
    "home_rule_applies",
    "linked_hit",
    "name_weight",
    "partial_weight",
    "prepare",
    "prior_log_odds",
    "token_distance",
]

MISSING = "missing"


@dataclass(frozen=True, slots=True)
class Document:
    type: str | None
    number: str
    country: str | None = None


@dataclass(slots=True)
class Identity:
    """A person as recorded by one source (a crossing, an alert, a case file)."""

    id: Any
    surname: str = ""
    given_names: str = ""
    aliases: list[tuple[str, str]] = field(default_factory=list)
    dob: PartialDate | None = None
    sex: str | None = None
    nationality: str | None = None
    documents: list[Document] = field(default_factory=list)
    address: str = ""  # free text as recorded; normalised for matching by `prepare`

    @classmethod
    def from_strings(
        cls,
        id: Any,  # noqa: A002 - mirrors the field name
        surname: str | None = "",
        given_names: str | None = "",
        *,
        date_of_birth: str | None = None,
        sex: str | None = None,
        nationality: str | None = None,
        document_number: str | None = None,
        document_type: str | None = None,
        document_country: str | None = None,
        aliases: Iterable[tuple[str, str]] = (),
        address: str | None = None,
    ) -> Identity:
        """Build from the plain strings a CSV row or a form gives; empty strings mean unknown."""
        sex_code = (sex or "").strip().upper()[:1] or None
        documents = []
        if document_number and normalize_document(document_number):
            documents.append(Document(document_type or None, document_number, (document_country or None)))
        return cls(
            id=id,
            surname=surname or "",
            given_names=given_names or "",
            aliases=list(aliases),
            dob=parse_partial_date(date_of_birth) if date_of_birth and date_of_birth.strip() else None,
            sex=sex_code if sex_code in ("M", "F", "X") else None,
            nationality=(nationality or "").strip().upper() or None,
            documents=documents,
            address=(address or "").strip(),
        )


@dataclass(frozen=True, slots=True)
class FeatureResult:
    name: str
    score: float | None  # similarity 0..1 of the level; None when the feature cannot be compared
    weight: float  # the level's weight in bits (log2 m/u), term-frequency adjustment included
    explanation: str
    verdict: str  # "agree" | "partial" | "disagree" | "missing"
    contribution: float = 0.0  # what this feature added to the log2 odds (= weight; 0 for a rule)
    level: str = ""  # the model level ("exact", "near", ...); "rule" for a hard rule

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score, "weight": round(self.weight, 4), "level": self.level,
                "explanation": self.explanation, "verdict": self.verdict,
                # The same sentence as templates and values, so the app can say it in the reader's language.
                "say": self.explanation.to_json() if isinstance(self.explanation, Phrase) else None,
                "contribution": round(self.contribution, 4)}


@dataclass(frozen=True, slots=True)
class MatchResult:
    score: float  # the match probability (shared with the other persons found, see `share_among`)
    features: list[FeatureResult]
    weight: float = 0.0  # summed feature weights (bits), without the prior
    pair_score: float | None = None  # this pair's own probability when `score` is shared; else None
    via: Any = None  # the record this hit was found through (its person's anchor, see `linked_hit`); else None

    @property
    def headline(self) -> str:
        return say("Match probability {percent}", percent=_percent(self.score))

    @property
    def explanations(self) -> list[str]:
        """The officer-facing sentences: the probability, then the strongest evidence first."""
        ranked = sorted(self.features, key=lambda f: (f.level not in ("posterior", "person"), f.level != "rule",
                                                      -abs(f.contribution)))
        return [self.headline] + [f.explanation for f in ranked
                                  if f.verdict != "missing" or f.name in _ALWAYS_SAID]

    @property
    def own_score(self) -> float:
        """The pair's own probability, whether or not `score` is shared."""
        return self.score if self.pair_score is None else self.pair_score

    def alone(self) -> MatchResult:
        """The pair's own result, as if no other person had been found."""
        if self.pair_score is None:
            return self
        return MatchResult(self.pair_score, [f for f in self.features if f.level not in ("posterior", "person")],
                           self.weight)

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "weight": round(self.weight, 4),
                **({} if self.pair_score is None else {"pair_score": round(self.pair_score, 4)}),
                **({} if self.via is None else {"via": self.via}),
                "features": [f.to_dict() for f in self.features], "explanations": self.explanations}


_ALWAYS_SAID = ("surname", "given_names", "date_of_birth")


def _percent(p: float) -> str:
    if 0.0 < p < 0.01:
        return say("under 1%")
    if 0.99 < p < 1.0:
        return say("over 99%")
    return f"{p:.0%}"


def _bits(w: float) -> str:
    return f"{w:+.1f}".replace("-", "\u2212")


class NameFrequencies:
    """How many persons carry each canonical name token (each person counts a token once).

    A rare name agreeing is stronger evidence than a common one: there are dozens of Thabo Mokoenas
    born in 1985 on a national list, few Tlotliso Ramokhoros. `reference` is the share of the token a
    random person's name agreement is on (sum of squared counts over total x sum of counts): a name
    as common as that gets no adjustment, commoner ones weigh less, rarer ones more.
    """

    __slots__ = ("counts", "total", "sum_counts", "sum_squares")

    def __init__(self, counts: dict[str, int] | None = None, total: int = 0) -> None:
        self.counts: dict[str, int] = dict(counts or {})
        self.total = total
        self.sum_counts = sum(self.counts.values())
        self.sum_squares = sum(c * c for c in self.counts.values())

    @classmethod
    def from_identities(cls, identities: Iterable[Identity]) -> NameFrequencies:
        table = cls()
        for identity in identities:
            table.add(prepare(identity))
        return table

    @staticmethod
    def tokens_of(p: Prepared) -> set[str]:
        return {t for sur, given in p.variants for t in (*sur, *given) if len(t) > 1}

    def add(self, p: Prepared) -> None:
        counts = self.counts
        for t in self.tokens_of(p):
            n = counts.get(t, 0)
            counts[t] = n + 1
            self.sum_counts += 1
            self.sum_squares += 2 * n + 1
        self.total += 1

    def remove(self, p: Prepared) -> None:
        counts = self.counts
        for t in self.tokens_of(p):
            n = counts.get(t, 0)
            if n <= 0:
                continue
            self.sum_counts -= 1
            self.sum_squares -= 2 * n - 1
            if n > 1:
                counts[t] = n - 1
            else:
                del counts[t]
        self.total = max(self.total - 1, 0)

    def share(self, a: str, b: str) -> float:
        """Share of persons carrying token a or b (the commoner of two spellings); at least 1/total."""
        get = self.counts.get
        return max(get(a, 0), get(b, 0), 1) / max(self.total, 1)

    @property
    def reference(self) -> float:
        if not self.sum_counts or not self.total:
            return 0.0
        return self.sum_squares / (self.total * self.sum_counts)


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """The model, thresholds and comparison details of the matcher, in one place."""

    flag_threshold: float = 0.80  # this pair's own probability at which screening raises a flag
    # The probability shown is shared among the persons a probe finds (`share_among`): candidates
    # from `compete_floor` up weigh against each other and against "someone not found" at these odds
    # (set on the generator's tuning seeds 101 and 202: docs/performance.md, session 7 s7c).
    new_person_odds: float = 5.0
    compete_floor: float = 0.5
    # A trace returns a person's (a traveller's) other crossings with it when one of them is this sure on
    # its own: a second document from a new address looks like a namesake pair by pair, but resolution
    # already placed it with the person (docs/performance.md, session 10, s10b). None: pairs only, and
    # no home rule either (both read the travellers).
    person_anchor: float | None = 0.99
    # ... and a crossing whose traveller has a home of its own (recorded on two or more of its crossings),
    # not the traced person's address, with no document agreeing, is a namesake: capped at this (None: off).
    home_rule_cap: float | None = 0.5
    model: MatchModel = field(default_factory=default_model, compare=False)
    # Name details: a token pair's similarity, then the field's level from the aligned tokens.
    variant_token_score: float = 0.95  # equal after the loose spelling rules (ph/f, v/f, ie/y)
    typo_token_score: float = 0.90  # one edit in a token of >= min_typo_length letters
    two_typo_token_score: float = 0.80  # two edits in a token of >= min_two_typo_length letters
    min_typo_length: int = 4
    min_two_typo_length: int = 8
    initial_score: float = 0.85  # "T" against "Thabo"
    extra_token_penalty: float = 0.10  # per name token present on one side only (a missing middle name)
    differing_token_penalty: float = 0.10  # per name token on both sides that matches nothing
    name_near_score: float = 0.85  # a field's alignment at least this good is "near"
    name_fuzzy_score: float = 0.50  # ... at least this, "fuzzy"; below, "disagree"
    # Name-frequency (term-frequency) adjustment of exact and near name levels.
    tf_min_population: int = 1000  # a smaller table cannot tell a rare name from a common one
    tf_max_adjust: float = 6.0  # bits, either way
    # Dates of birth.
    dob_estimated_window: int = 2
    # Hard rule: full dates of birth differing by more than a typo, no document agreeing.
    dob_rule_cap: float = 0.5
    # Documents: shorter numbers are too easy to share by accident.
    min_document_length: int = 5
    # Address token-set similarity (0..100) for the near and fuzzy levels.
    address_near_score: float = 90.0
    address_fuzzy_score: float = 75.0
    # Blocking (used by the index).
    block_year_window: int = 1
    block_estimated_year_window: int = 2
    max_single_key_pool: int = 400
    max_rare_key_pool: int = 30  # a name key this rare in the year window routes on its own
    # Token frequencies of the population compared against (the index sets its own live table).
    frequencies: NameFrequencies | None = field(default=None, compare=False, hash=False, repr=False)
    # Records (crossings) searched, for the prior; None: the frequency table's count (an index of
    # crossings counts each one). Traveller resolution sets it, its table counting distinct profiles.
    population: int | None = field(default=None, compare=False, hash=False, repr=False)


DEFAULT = MatchConfig()


# --- The rapidfuzz wrappers ------------------------------------------------------------------------


def token_distance(a: str, b: str, cutoff: int | None = None) -> int:
    """Optimal-string-alignment edit distance (a transposition counts as one edit).

    Inputs are already folded and canonicalised by `screening.normalize`, so `processor=None` is
    passed explicitly: rapidfuzz 3 does no preprocessing by default, and relying on that default
    silently would hide the normalisation contract.
    """
    return OSA.distance(a, b, processor=None, score_cutoff=cutoff)


@memo(maxsize=200_000)
def _address_similarity(a: str, b: str) -> float:
    """Token-set similarity 0..100 of two normalised addresses (memoised: addresses repeat)."""
    return fuzz.token_set_ratio(a, b, processor=None)


# --- Prepared identities ---------------------------------------------------------------------------


class Prepared:
    """An Identity normalised once: canonical name tokens, document keys. Compact for 10^6 of them."""

    __slots__ = ("id", "variants", "dob", "sex", "nationality", "documents", "address", "vid")

    def __init__(self, id, variants, dob, sex, nationality, documents, address=None, vid=None):  # noqa: A002
        self.id = id
        # ((surname tokens), (given tokens)) for the name and each alias; canonical, interned
        self.variants: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = variants
        self.dob: PartialDate | None = dob
        self.sex: str | None = sex
        self.nationality: str | None = nationality
        # (normalised number, ocr key, country or None, type or None)
        self.documents: tuple[tuple[str, str, str | None, str | None], ...] = documents
        self.address: str | None = address  # normalise_address(); None when unknown
        # The number a TravellerIndex gave these variants: its name memo's key, cheaper than the tuples.
        self.vid: int | None = vid


def _canon_tokens(s: str, shared: dict | None) -> tuple[str, ...]:
    tokens = tuple(canonical(tok) for tok in name_tokens(s))
    if shared is None:
        return tokens
    return shared.setdefault(tokens, tuple(shared.setdefault(t, t) for t in tokens))


def prepare(identity: Identity, *, shared: dict | None = None) -> Prepared:
    """Normalise an identity for repeated comparison.

    `shared` is an interning table owned by a long-lived holder (the index): the million prepared
    identities then share one copy of "mokwena", ("mokwena",), "LSO" and "P". Probes are prepared
    without it, so a stream of crossings (and their typos) does not grow any table.
    """
    def keep(x):
        return x if shared is None or x is None else shared.setdefault(x, x)

    variants = []
    for sur, given in ((identity.surname, identity.given_names), *identity.aliases):
        v = (_canon_tokens(sur, shared), _canon_tokens(given, shared))
        if (v[0] or v[1]) and v not in variants:
            variants.append(v)
    docs = []
    for d in identity.documents:
        n = normalize_document(d.number)
        if n:
            k = ocr_key(n)
            country, kind = keep((d.country or "").upper() or None), keep((d.type or "").upper() or None)
            docs.append((n, n if k == n else k, country, kind))
    sex = identity.sex if identity.sex in ("M", "F") else None  # "X" and unknown do not discriminate
    address = keep(normalize_address(identity.address) or None)
    return Prepared(identity.id, tuple(variants), identity.dob, sex,
                    keep((identity.nationality or "").upper() or None), tuple(docs), address)


# --- Names -----------------------------------------------------------------------------------------

_TYPO, _INITIAL, _EXTRA, _REORDER, _VARIANT, _UNMATCHED = 1, 2, 4, 8, 16, 32
# Lesotho "Lineo" is South African "Dineo": canonical() writes both with d, so an initial L still fits.
_INITIAL_EQUIV = {("l", "d"), ("d", "l")}


def _token_score(a: str, b: str, cfg: MatchConfig) -> tuple[float, int]:
    if a == b:
        return 1.0, 0
    if len(a) == 1 or len(b) == 1:
        if a[0] == b[0] or (a[0], b[0]) in _INITIAL_EQUIV:
            return cfg.initial_score, _INITIAL
        return 0.0, 0
    if loose(a) == loose(b):
        return cfg.variant_token_score, _VARIANT
    shortest = min(len(a), len(b))
    if shortest < cfg.min_typo_length:
        return 0.0, 0
    d = token_distance(a, b, 2)
    if d > 1 and ("we" in a or "we" in b):
        # canonical() wrote Lesotho "oe" as "we"; a typo made on the "oe" spelling ("Mokeona" for
        # "Mokoena") is one transposition there but two edits after the rewrite.
        d = min(d, token_distance(a.replace("we", "oe"), b.replace("we", "oe"), 2))
    if d == 1:
        return cfg.typo_token_score, _TYPO
    if d == 2 and shortest >= cfg.min_two_typo_length:
        return cfg.two_typo_token_score, _TYPO
    return 0.0, 0


_Aligned = tuple[float, int, tuple[tuple[str, str], ...]]  # (score, flags, agreeing full tokens)


def _align(a: tuple[str, ...], b: tuple[str, ...], cfg: MatchConfig) -> _Aligned | None:
    """Greedy best one-to-one token alignment; order-free, tolerant of an extra token on one side.

    Returns (score 0..1, flags, the agreeing full-token pairs the name-frequency adjustment reads).
    """
    if not a or not b:
        return None
    if a == b:
        return 1.0, 0, tuple((t, t) for t in a if len(t) > 1)
    if len(a) == 1 and len(b) == 1:  # most surnames: the general case below, without its lists and sets
        x, y = a[0], b[0]
        s, f = _token_score(x, y, cfg)
        if s > 0.0:
            return s, f, (((x, y),) if f != _INITIAL else ())
        return 0.0, _UNMATCHED, ()
    pairs = []
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            s, f = _token_score(x, y, cfg)
            if s > 0.0:
                pairs.append((s, i, j, f))
    pairs.sort(reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    total, flags, matched, agreeing = 0.0, 0, [], []
    for s, i, j, f in pairs:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        total += s
        flags |= f
        matched.append((i, j))
        if f != _INITIAL:
            agreeing.append((a[i], b[j]))
    shortest, longest = min(len(a), len(b)), max(len(a), len(b))
    if longest > shortest:
        flags |= _EXTRA
    if len(matched) < shortest:
        flags |= _UNMATCHED
    matched.sort()
    if any(j2 < j1 for (_, j1), (_, j2) in zip(matched, matched[1:], strict=False)):
        flags |= _REORDER
    # A token left over on one side only is a missing name; one left over on both sides is a name
    # recorded differently ("Tsehiha Alice" / "Katsuile Alice"): evidence against, not just absence.
    score = (total / shortest - cfg.extra_token_penalty * (longest - shortest)
             - cfg.differing_token_penalty * (shortest - len(matched)))
    return max(score, 0.0), flags, tuple(agreeing)


def _name_level(r: _Aligned | None, cfg: MatchConfig) -> str:
    if r is None:
        return MISSING
    score, flags, _ = r
    if score >= 1.0 and not flags:
        return "exact"
    if score >= cfg.name_near_score:
        return "near"
    if score >= cfg.name_fuzzy_score:
        return "fuzzy"
    return "disagree"


# Phrases are made once: name comparison is the hot path of resolution.
_SURNAME = {
    "missing": say("Surname not recorded on one side"), "exact": say("Surname agrees exactly"),
    "disagree": say("Surname differs"), "unmatched": say("Surname matches only in part"),
    "extra": say("Surname matches part of a compound surname"), "typo": say("Surname matches except for a typo"),
    "variant": say("Surname matches as a spelling variant"), "match": say("Surname matches"),
}


def _surname_phrase(r: _Aligned | None, level: str) -> str:
    if r is None:
        return _SURNAME["missing"]
    _, flags, _ = r
    if level == "exact":
        return _SURNAME["exact"]
    if level == "disagree":
        return _SURNAME["disagree"]
    if flags & _UNMATCHED:
        return _SURNAME["unmatched"]
    if flags & _EXTRA:
        return _SURNAME["extra"]
    if flags & _TYPO:
        return _SURNAME["typo"]
    if flags & _VARIANT:
        return _SURNAME["variant"]
    return _SURNAME["match"]


_GIVEN = {"missing": say("Given names not recorded on one side"), "exact": say("Given names agree exactly"),
          "disagree": say("Given names differ")}
# Each observation as the first clause of a sentence and as a later one, so a translator sees both.
_GIVEN_CLAUSES = (
    (_UNMATCHED, say("Only some given names match"), say("only some given names match")),
    (_REORDER, say("Given names in a different order"), say("given names in a different order")),
    (_EXTRA, say("A given name is missing on one side"), say("a given name is missing on one side")),
    (_INITIAL, say("A given name matches an initial"), say("a given name matches an initial")),
    (_TYPO, say("A given name matches except for a typo"), say("a given name matches except for a typo")),
    (_VARIANT, say("A given name matches as a spelling variant"), say("a given name matches as a spelling variant")),
)


def _given_phrase(r: _Aligned | None, level: str) -> str:
    if r is None:
        return _GIVEN["missing"]
    if level in ("exact", "disagree"):
        return _GIVEN[level]
    return _given_clauses(r[1])


@lru_cache(maxsize=256)
def _given_clauses(flags: int) -> Phrase:
    said = [(first, later) for bit, first, later in _GIVEN_CLAUSES if flags & bit]
    if not said:
        return say("Given names match")
    text = said[0][0]
    for _, later in said[1:]:
        text = text + "; " + later
    return text


class NameComparison(NamedTuple):
    """The best reading of two identities' names: a level per field, the agreeing tokens, the phrases."""

    surname: str
    given: str
    surname_tokens: tuple[tuple[str, str], ...]
    given_tokens: tuple[tuple[str, str], ...]
    surname_text: str
    given_text: str
    how: str  # "" | "swapped" | "mixed"
    via_alias: bool


_NO_NAMES = NameComparison(MISSING, MISSING, (), (), _SURNAME["missing"], _GIVEN["missing"], "", False)


def _reading(rs: _Aligned | None, rg: _Aligned | None, cfg: MatchConfig, how: str, alias: bool) -> NameComparison:
    ls, lg = _name_level(rs, cfg), _name_level(rg, cfg)
    return NameComparison(ls, lg, rs[2] if rs and ls in ("exact", "near") else (),
                          rg[2] if rg and lg in ("exact", "near") else (),
                          _surname_phrase(rs, ls), _given_phrase(rg, lg), how, alias)


_MIXED_SURNAME = say("Name parts match but are recorded in different fields")
_MIXED_GIVEN = say("Given names compared with the surname above")


def compare_names(p: Prepared, c: Prepared, cfg: MatchConfig) -> NameComparison:
    """Best reading over both sides' names and aliases: as recorded, swapped, or parts in other fields.

    The reading with the largest summed model weight wins (before the frequency adjustment). The
    costly part of matching: resolution memoises it per pair of spellings.
    """
    if not p.variants or not c.variants:
        return _NO_NAMES
    weights = cfg.model.weights
    ws, wg = weights["surname"], weights["given_names"]
    top = ws["exact"] + wg["exact"]
    best, best_w = _NO_NAMES, -math.inf
    for i, (ps, pg) in enumerate(p.variants):
        for j, (cs, cg) in enumerate(c.variants):
            alias = bool(i or j)
            r = _reading(_align(ps, cs, cfg), _align(pg, cg, cfg), cfg, "", alias)
            w = ws[r.surname] + wg[r.given]
            if w > best_w:
                best, best_w = r, w
            if w >= top:
                return best
            if r.surname in ("exact", "near") and r.given in ("exact", "near"):
                continue
            xs, xg = _align(ps, cg, cfg), _align(pg, cs, cfg)
            if xs is not None and xg is not None:
                r = _reading(xs, xg, cfg, "swapped", alias)
                w = ws[r.surname] + wg[r.given]
                if w > best_w:
                    best, best_w = r, w
            mixed = _align(ps + pg, cs + cg, cfg)
            if mixed is not None:
                lv = _name_level(mixed, cfg)
                if lv in ("exact", "near"):
                    # Name parts in other fields: counted once, as surname evidence.
                    r = NameComparison(lv, MISSING, mixed[2], (), _MIXED_SURNAME, _MIXED_GIVEN, "mixed", alias)
                    w = ws[r.surname]
                    if w > best_w:
                        best, best_w = r, w
    return best


def _tf_adjust(tokens: tuple[tuple[str, str], ...], cfg: MatchConfig, feature: str) -> float:
    """Bits added to an agreeing name field for how rare its agreeing tokens are (Splink's TF adjustment).

    The model's u of the field's exact level is the chance that two random persons agree on it; for a
    given token the chance is its share of the population. log2(u / share), averaged over the field's
    agreeing tokens and bounded by `tf_max_adjust`, turns the level's weight log2(m/u) into
    log2(m/share); 0 without a frequency table of at least `tf_min_population` persons.
    """
    freq = cfg.frequencies
    if freq is None or not tokens or freq.total < cfg.tf_min_population:
        return 0.0
    ref = cfg.model.exact_u[feature]
    share = freq.share
    if len(tokens) == 1:  # most fields: the same figure without the generator (resolution's hot path)
        adjust = math.log2(ref / share(*tokens[0]))
    else:
        adjust = sum(math.log2(ref / share(a, b)) for a, b in tokens) / len(tokens)
    cap = cfg.tf_max_adjust
    return min(max(adjust, -cap), cap)


def name_weight(names: NameComparison, cfg: MatchConfig) -> float:
    """Surname plus given-names weight of a comparison, frequency adjustment included."""
    weights = cfg.model.weights
    w = weights["surname"][names.surname] + weights["given_names"][names.given]
    if cfg.frequencies is not None:
        w += _tf_adjust(names.surname_tokens, cfg, "surname") + _tf_adjust(names.given_tokens, cfg, "given_names")
    return w


def max_name_weight(cfg: MatchConfig) -> float:
    """Most the two name features can add (both exact, both at the largest frequency bonus)."""
    bonus = cfg.tf_max_adjust if cfg.frequencies is not None else 0.0
    return cfg.model.max_weight("surname") + cfg.model.max_weight("given_names") + 2 * bonus


_NAME_SCORES = {"exact": 1.0, "near": 0.9, "fuzzy": 0.6, "disagree": 0.0}


def _name_features(names: NameComparison, cfg: MatchConfig) -> list[FeatureResult]:
    out = []
    weights = cfg.model.weights
    for fname, level, tokens, text in (("surname", names.surname, names.surname_tokens, names.surname_text),
                                       ("given_names", names.given, names.given_tokens, names.given_text)):
        if level == MISSING:
            out.append(FeatureResult(fname, None, 0.0, text, "missing", 0.0, MISSING))
            continue
        base = weights[fname][level]
        adjust = _tf_adjust(tokens, cfg, fname) if cfg.frequencies is not None else 0.0
        w = base + adjust
        if names.how == "swapped" and fname == "surname":
            text = say("Surname and given names are swapped: {reading}", reading=text)
        if names.via_alias:
            text += say(" (through an alias)")
        if abs(adjust) >= 0.05:
            if adjust < 0:
                text += say(" (weight {weight}; a common name: namesakes are likely, {adjust})",
                            weight=_bits(w), adjust=_bits(adjust))
            else:
                text += say(" (weight {weight}; a rare name: unlikely to be a namesake, {adjust})",
                            weight=_bits(w), adjust=_bits(adjust))
        else:
            text += say(" (weight {weight})", weight=_bits(w))
        verdict = "agree" if level == "exact" else "partial" if level in ("near", "fuzzy") else "disagree"
        out.append(FeatureResult(fname, _NAME_SCORES.get(level, 0.0), w, text, verdict, w, level))
    return out


# Legacy combined name score 0..1, for callers that rank names alone (the case-file person search).


def name_feature(p: Prepared, c: Prepared, cfg: MatchConfig) -> FeatureResult:
    """The two name features folded into one 0..1 similarity (surname and given names averaged)."""
    names = compare_names(p, c, cfg)
    if names.surname == MISSING and names.given == MISSING:
        return FeatureResult("name", None, 0.0, say("Name not recorded on one side"), "missing", 0.0, MISSING)
    scores = [_NAME_SCORES[lv] for lv in (names.surname, names.given) if lv != MISSING]
    score = sum(scores) / 2 if len(scores) == 2 else 0.7 * scores[0]
    w = name_weight(names, cfg)
    verdict = "agree" if score >= 0.95 else "partial" if score >= 0.5 else "disagree"
    return FeatureResult("name", round(score, 4), w, names.surname_text + "; " + names.given_text, verdict, w)


# --- Date of birth ---------------------------------------------------------------------------------


def _year_level(d: PartialDate) -> bool:
    """True when only the year is really known (year, estimated, or the 1 January placeholder)."""
    return d.precision in ("year", "estimated") or d.is_placeholder


@memo(maxsize=1 << 16)
def _digits(year: int, month: int, day: int) -> str:
    return f"{year:04d}{month:02d}{day:02d}"


def dob_level(a: PartialDate | None, b: PartialDate | None, cfg: MatchConfig) -> str:
    """Level of two dates of birth, compared at the precision both sides actually know."""
    if a is None or b is None:
        return MISSING
    if a.precision == "day" and b.precision == "day":
        # Two full dates, the commonest case of the hot path: read as plain ints (no dataclass
        # comparison); the same levels as the general path below.
        ya, ma, da, yb, mb, db = a.year, a.month, a.day, b.year, b.month, b.day
        if not (ma == 1 and da == 1) and not (mb == 1 and db == 1):
            if ma == mb and da == db:
                if ya == yb:
                    return "exact"
                if ya - yb == 1 or yb - ya == 1:
                    return "typo"
            elif ma == db and da == mb:
                if ya == yb:
                    return "swapped"
                if ya - yb == 1 or yb - ya == 1:
                    return "slips"
            if token_distance(_digits(ya, ma, da), _digits(yb, mb, db), 1) <= 1:
                return "typo"  # one digit mistyped, or two adjacent digits transposed
            return "disagree"
    if a.precision == "estimated" or b.precision == "estimated":
        return "estimated" if abs(a.year - b.year) <= cfg.dob_estimated_window else "disagree"
    if not _year_level(a) and not _year_level(b):
        if a == b:
            return "exact" if a.precision == "day" else "year_month"
        if a.precision == b.precision == "day":
            swapped = (a.month, a.day) == (b.day, b.month)
            if a.year == b.year and swapped:
                return "swapped"
            if abs(a.year - b.year) == 1:
                if (a.month, a.day) == (b.month, b.day):
                    return "typo"
                if swapped:
                    return "slips"
            if token_distance(_digits(a.year, a.month, a.day), _digits(b.year, b.month, b.day), 1) <= 1:
                return "typo"  # one digit mistyped, or two adjacent digits transposed
            return "disagree"
        if a.year == b.year and a.month == b.month:
            return "year_month"
        return "disagree"
    if a.year == b.year:
        # One side knowing the full date is a person born that day; one knowing only the year is
        # either its slip (rare) or a person only the year of whose birth is known. Two year-only
        # sides agree on that much more than a year-only side and a namesake's full date do, so the
        # two are levels of their own (a model stored without "year_date" reads both as "year").
        if (_year_level(a) and _year_level(b)) or "year_date" not in cfg.model.weights["date_of_birth"]:
            return "year"
        return "year_date"
    if abs(a.year - b.year) == 1:
        return "year_near"
    return "disagree"


def _full(d: PartialDate | None) -> bool:
    return d is not None and d.precision == "day" and not d.is_placeholder


_DOB_TEXT = {
    "exact": say("Date of birth matches"),
    "swapped": say("Date of birth matches with day and month swapped"),
    "year_month": say("Year and month of birth match"),
    "year": say("Year of birth matches (only the year is known)"),
    "year_date": say("Year of birth matches (one side knows only the year, the other the full date)"),
    "slips": say("Day and month of birth match but are swapped, and the year differs by one"),
}
_DOB_SCORES = {"exact": 1.0, "swapped": 0.85, "typo": 0.8, "year_month": 0.55, "year": 0.5, "year_date": 0.5,
               "estimated": 0.5, "year_near": 0.3, "slips": 0.5, "disagree": 0.0}


def _dob_text(level: str, a: PartialDate | None, b: PartialDate | None) -> str:
    if level == MISSING:
        return say("Date of birth not recorded on one side")
    if level in _DOB_TEXT:
        return _DOB_TEXT[level]
    assert a is not None and b is not None
    if level == "typo":
        if a.year != b.year and (a.month, a.day) == (b.month, b.day):
            return say("Day and month of birth match; the year differs by one")
        return say("Dates of birth differ by one digit ({a} / {b}): a typo", a=str(a), b=str(b))
    if level == "estimated":
        return say("Year of birth is within the estimate")
    if level == "year_near":
        return say("Year of birth differs by one (only the year is known on one side)")
    if a.precision == "estimated" or b.precision == "estimated":
        return say("Date of birth is outside the estimated age")
    if _year_level(a) or _year_level(b):
        return say("Years of birth differ ({a} / {b})", a=str(a.year), b=str(b.year))
    if a.year == b.year and a.month == b.month:
        return say("Dates of birth differ ({a} / {b}): same year and month, the day differs", a=str(a), b=str(b))
    return say("Dates of birth differ ({a} / {b})", a=str(a), b=str(b))


# --- Documents -------------------------------------------------------------------------------------

_DOC_ORDER = ("exact", "near", "other_type", "disagree", "id_disagree")


def sa_id_fits(number: str, dob: PartialDate | None) -> bool | None:
    """Does a South African ID number (YYMMDD + 7 digits) carry this date of birth? None: cannot tell."""
    if dob is None or len(number) != 13 or not number.isdigit() or dob.precision == "estimated":
        return None
    if number[:2] != f"{dob.year % 100:02d}":
        return False
    if dob.precision != "day" or dob.is_placeholder:
        return True
    return number[2:6] == f"{dob.month:02d}{dob.day:02d}"


def _document_pair_level(pd: tuple, cd: tuple, cfg: MatchConfig, pdob: PartialDate | None = None,
                         cdob: PartialDate | None = None) -> str:
    pn, pk, pc, pt = pd
    cn, ck, cc, ct = cd
    if len(pn) < cfg.min_document_length or len(cn) < cfg.min_document_length:
        return MISSING
    same_country = pc is None or cc is None or pc == cc
    if pn == cn:
        return "exact" if same_country else "near"
    if pt and ct and pt[0] != ct[0]:
        return "other_type"  # a passport and an ID card of one person legitimately differ
    if same_country and (pk == ck or token_distance(pk, ck, 1) <= 1):
        return "near"  # OCR confusion, one digit typo, one adjacent transposition, one dropped
    if pt and ct and pt[0] == "I" and pc and pc == cc:
        # Two national ID numbers, each kept for life: two persons, unless one cannot be its holder's
        # (a South African number carries the date of birth; one that does not is forged or mistyped).
        if pc == "ZAF" and (sa_id_fits(pn, pdob) is False or sa_id_fits(cn, cdob) is False):
            return "disagree"
        return "id_disagree"
    return "disagree"


def document_level(p: Prepared, c: Prepared, cfg: MatchConfig) -> tuple[str, tuple | None]:
    """(level, (probe document, candidate document)) of the best-weighing pair of documents."""
    if not p.documents or not c.documents:
        return MISSING, None
    weights = cfg.model.weights["document"]
    best, best_pair, best_w = MISSING, None, -math.inf
    for pd in p.documents:
        for cd in c.documents:
            lv = _document_pair_level(pd, cd, cfg, p.dob, c.dob)
            if lv == MISSING:
                continue
            w = weights[lv]
            if w > best_w:
                best, best_pair, best_w = lv, (pd, cd), w
    return best, best_pair


def _ocr_confusions(a: str, b: str) -> str:
    pairs = sorted({"/".join(sorted((x, y), key=str.isdigit)) for x, y in zip(a, b, strict=True) if x != y})
    return ", ".join(pairs)


def _document_text(level: str, pair: tuple | None) -> str:
    if level == MISSING or pair is None:
        return say("No comparable document on both sides")
    (pn, pk, pc, pt), (cn, ck, cc, ct) = pair
    if level == "exact":
        return say("Document number matches")
    if level == "near":
        if pn == cn:
            return say("Same document number but issued by different countries ({a} / {b})", a=pc, b=cc)
        if pk == ck and len(pn) == len(cn):
            return say("Document number matches except for an {letters} confusion", letters=_ocr_confusions(pn, cn))
        return say("Document number differs by one character (a typo or transposition)")
    if level == "other_type":
        return say("Documents of different types ({a} / {b}) carry different numbers: one person may hold both",
                   a=pt, b=ct)
    if level == "id_disagree":
        return say("Different national ID numbers from the same country ({country}): an ID number is kept for life",
                   country=pc)
    if pc == "ZAF" and cc == "ZAF" and pt and ct and pt[0] == ct[0] == "I":
        return say("Different national ID numbers (ZAF), but one does not carry its holder's date of birth: "
                   "possibly forged or mistyped")
    if pc and cc and pc == cc:
        return say("Document numbers differ ({country}): possibly a renewed or second document", country=pc)
    return say("Document numbers differ")


# --- Address ---------------------------------------------------------------------------------------


def address_level(a: str | None, b: str | None, cfg: MatchConfig) -> str:
    """Level of two normalised addresses (`normalize_address`): token-set similarity, house numbers."""
    if not a or not b:
        return MISSING
    if a == b:
        return "exact"
    s = _address_similarity(a, b) if a <= b else _address_similarity(b, a)
    level = "near" if s >= cfg.address_near_score else "fuzzy" if s >= cfg.address_fuzzy_score else "disagree"
    if level == "near":
        na = {t for t in a.split() if t.isdigit()}
        nb = {t for t in b.split() if t.isdigit()}
        if na and nb and not na & nb:
            level = "fuzzy"  # the same street, another house number
    return level


_ADDRESS_TEXT = {"exact": say("Address matches"), "near": say("Address nearly matches"),
                 "fuzzy": say("Address matches only in part"), "disagree": say("Addresses differ"),
                 MISSING: say("Address not recorded on one side")}


def _address_feature(addr: str, doc: str, cfg: MatchConfig) -> FeatureResult:
    """The address's result, weighed given the documents' level when the model has that interaction."""
    w = cfg.model.address_weights[doc][addr]
    verdict = "agree" if addr in ("exact", "near") else "partial" if addr == "fuzzy" else "disagree"
    score = {"exact": 1.0, "near": 0.9, "fuzzy": 0.6}.get(addr, 0.0)
    group = cfg.model.address_group_of.get(doc)
    if group is None or addr == MISSING:
        return _simple("address", addr, w, _ADDRESS_TEXT[addr], verdict, score)
    return FeatureResult("address", score, w, _ADDRESS_TEXT[addr] + say(
        " (weight {weight} given what the documents say: {given})", weight=_bits(w), given=say(group.label)),
        verdict, w, addr)


# --- Scoring ---------------------------------------------------------------------------------------


def partial_weight(p: Prepared, c: Prepared, cfg: MatchConfig) -> tuple[float, str, str]:
    """(weight of every feature but the names, document level, date-of-birth level): the hot path."""
    weights = cfg.model.weights
    dob = dob_level(p.dob, c.dob, cfg)
    pd, cd = p.documents, c.documents
    if not pd or not cd:
        doc = MISSING
    elif len(pd) == 1 and len(cd) == 1:  # one document each, the common case: no best pair to pick
        doc = _document_pair_level(pd[0], cd[0], cfg, p.dob, c.dob)
    else:
        doc = document_level(p, c, cfg)[0]
    w = weights["date_of_birth"][dob] + weights["document"][doc]
    if p.sex is not None and c.sex is not None:
        w += weights["sex"]["agree" if p.sex == c.sex else "disagree"]
    if p.nationality is not None and c.nationality is not None:
        w += weights["nationality"]["agree" if p.nationality == c.nationality else "disagree"]
    if p.address and c.address:
        w += cfg.model.address_weights[doc][address_level(p.address, c.address, cfg)]
    return w, doc, dob


def dob_rule_applies(p: Prepared, c: Prepared, dob: str, doc: str) -> bool:
    """The hard rule: two full dates of birth differing by more than a typo, and no document agreeing."""
    return dob == "disagree" and doc not in ("exact", "near") and _full(p.dob) and _full(c.dob)


def prior_log_odds(cfg: MatchConfig) -> float:
    """log2 prior odds for the population compared against: the model's prior scaled to its size.

    The population is `cfg.population` or else the frequency table's count (the crossings indexed);
    without a table, or one under `tf_min_population` records, the model's fitted prior is used
    unchanged (too small a table says little about how many namesakes there are).
    """
    freq = cfg.frequencies
    if freq is None or freq.total < cfg.tf_min_population:
        return cfg.model.prior_log_odds
    return cfg.model.prior_log_odds_for(freq.total if cfg.population is None else cfg.population)


def _probability(log2_odds: float) -> float:
    if log2_odds >= 0:
        return 1.0 / (1.0 + 2.0 ** -log2_odds)
    odds = 2.0 ** log2_odds
    return odds / (1.0 + odds)


def probability(total_weight: float, rule: bool, cfg: MatchConfig) -> float:
    """Match probability from the summed weights, capped when the hard rule applies."""
    prob = _probability(prior_log_odds(cfg) + total_weight)
    return min(prob, cfg.dob_rule_cap) if rule else prob


def _simple(name: str, level: str, w: float, text: str, verdict: str, score: float | None) -> FeatureResult:
    if level == MISSING:
        return FeatureResult(name, None, 0.0, text, "missing", 0.0, MISSING)
    return FeatureResult(name, score, w, text + say(" (weight {weight})", weight=_bits(w)), verdict, w, level)


def match_prepared(p: Prepared, c: Prepared, config: MatchConfig = DEFAULT, *,
                   names: NameComparison | None = None) -> MatchResult:
    """Score two prepared identities: every feature's weight, summed, as a match probability.

    `names` may pass the name comparison already computed for a candidate with the same names (the
    index reuses it across namesakes).
    """
    cfg = config
    weights = cfg.model.weights
    names = names if names is not None else compare_names(p, c, cfg)
    features = _name_features(names, cfg)
    dob = dob_level(p.dob, c.dob, cfg)
    w = weights["date_of_birth"][dob]
    features.append(_simple("date_of_birth", dob, w, _dob_text(dob, p.dob, c.dob),
                            "agree" if dob == "exact" else "disagree" if dob == "disagree" else "partial",
                            _DOB_SCORES.get(dob)))
    doc, pair = document_level(p, c, cfg)
    w = weights["document"][doc]
    features.append(_simple("document", doc, w, _document_text(doc, pair),
                            "agree" if doc in ("exact", "near") else "partial" if doc == "other_type"
                            else "disagree", {"exact": 1.0, "near": 0.9}.get(doc, 0.0)))
    if p.sex is None or c.sex is None:
        features.append(_simple("sex", MISSING, 0.0, say("Sex not recorded on one side"), "missing", None))
    elif p.sex == c.sex:
        features.append(_simple("sex", "agree", weights["sex"]["agree"], say("Sex matches"), "agree", 1.0))
    else:
        features.append(_simple("sex", "disagree", weights["sex"]["disagree"],
                                say("Sex differs ({a} / {b})", a=p.sex, b=c.sex), "disagree", 0.0))
    if p.nationality is None or c.nationality is None:
        features.append(_simple("nationality", MISSING, 0.0, say("Nationality not recorded on one side"), "missing",
                                None))
    elif p.nationality == c.nationality:
        features.append(_simple("nationality", "agree", weights["nationality"]["agree"], say("Nationality matches"),
                                "agree", 1.0))
    else:
        features.append(_simple("nationality", "disagree", weights["nationality"]["disagree"],
                                say("Nationality differs ({a} / {b})", a=p.nationality, b=c.nationality),
                                "disagree", 0.0))
    addr = address_level(p.address, c.address, cfg)
    features.append(_address_feature(addr, doc, cfg))
    total = sum(f.contribution for f in features)
    if all(f.verdict == "missing" for f in features):
        return MatchResult(0.0, features, 0.0)  # nothing to compare: no evidence of a match
    rule = dob_rule_applies(p, c, dob, doc)
    prob = probability(total, rule, cfg)
    if rule and _probability(prior_log_odds(cfg) + total) > cfg.dob_rule_cap:
        features.append(FeatureResult(
            "dob_rule", None, 0.0,
            say("Rule: full dates of birth differ by more than a typo and no document agrees, so these are kept "
                "apart as namesakes (probability capped at {cap})", cap=_percent(cfg.dob_rule_cap)),
            "disagree", 0.0, "rule"))
    return MatchResult(prob, features, total)


def log2_odds(p: float) -> float:
    """log2 odds of a probability (infinite at 0 and 1)."""
    if p <= 0.0:
        return -math.inf
    if p >= 1.0:
        return math.inf
    return math.log2(p / (1.0 - p))


def share_posterior(own: float, others: Iterable[float], new_person_odds: float) -> float:
    """P(this candidate) = O / (O + the other candidates' O + new_person_odds), from log2 odds.

    A pair's probability weighs one candidate against a random member of the population; once a
    probe's candidates are scored, the alternatives left are those candidates and "someone not found"
    (`new_person_odds`). Namesakes that fit as well share the probability; a lone strong candidate
    keeps about its own. Used by resolution (`TravellerIndex._profile_posterior`) and screening.
    """
    others = [o for o in others if o != -math.inf]
    if own == -math.inf:
        return 0.0
    top = max([own, *others])
    if top == math.inf:  # certain pairs (probability 1.0) share only among themselves
        return 1.0 / (1 + sum(o == math.inf for o in others)) if own == math.inf else 0.0
    total = sum(2.0 ** (o - top) for o in others) + new_person_odds * 2.0 ** -top
    mine = 2.0 ** (own - top)
    return mine / (mine + total)


_RIVAL_BITS = math.log2(10)  # another person within a factor 10 of the odds is named as sharing


def share_among(results: list[tuple[Any, Hashable, MatchResult]], config: MatchConfig = DEFAULT,
                threshold: float = 0.0) -> list[tuple[Any, MatchResult]]:
    """Each (id, person key, pair result) whose pair reaches `threshold`, its probability shared among
    all the persons found.

    `results` are one probe's scored candidates; a person key groups candidates that are one person
    (the crossings of one traveller), whose best pair stands for it: a person's own crossings never
    compete with each other. Each result's score becomes `share_posterior` of its own odds against the
    other persons' best odds and `config.new_person_odds`; `pair_score` keeps the pair's own, and a
    sentence says how many other persons found share the probability.
    """
    best: dict[Hashable, float] = {}
    odds = []
    prior = prior_log_odds(config)
    for _, key, r in results:
        # A probability rounded to 1.0 still has its weight: certain pairs are compared by it.
        o = log2_odds(r.score) if r.score < 1.0 else prior + r.weight
        odds.append(o)
        if o > best.get(key, -math.inf):
            best[key] = o
    out = []
    for (cid, key, r), o in zip(results, odds, strict=True):
        if r.score < threshold:
            continue  # it weighs as a rival, but is not returned
        others = [b for k, b in best.items() if k != key]
        shared = share_posterior(o, others, config.new_person_odds)
        rivals = sum(b >= o - _RIVAL_BITS for b in others)
        if rivals:
            note = say("Probability shared with {count} other person(s) found who fit nearly as well "
                       "(this pair alone: {percent})", count=rivals, percent=_percent(r.score))
        else:
            note = say("No other person found fits nearly as well (this pair alone: {percent})",
                       percent=_percent(r.score))
        features = [*r.features, FeatureResult("shared", None, 0.0, note,
                                               "partial" if rivals else "agree", 0.0, "posterior")]
        out.append((cid, MatchResult(shared, features, r.weight, r.score)))
    return out


def home_rule_applies(p: Prepared, c: Prepared, recorded: int, doc: str, cfg: MatchConfig) -> bool:
    """The home rule of a trace: c's traveller has a home of its own (c's address, recorded on `recorded`
    of its crossings, two or more), which is not the traced person's address (when known), and no
    document agrees.

    A namesake crosses again and again with his own document from his own home; the traced person's
    other document shown from a new address does not repeat that address (a home confirmed by a
    crossing sure on its own is the person's, and the caller does not count it). Only a trace that
    knows the travellers (`CandidateIndex.screen` with `person_of`) can say it.
    """
    return (recorded >= 2 and doc not in ("exact", "near")
            and (not p.address or address_level(p.address, c.address, cfg) == "disagree"))


def home_capped(r: MatchResult, recorded: int, cfg: MatchConfig) -> MatchResult:
    """`r` with the home rule said and its probabilities capped at `home_rule_cap`."""
    cap = cfg.home_rule_cap if cfg.home_rule_cap is not None else 1.0
    pair = r.own_score
    note = say("Rule: this traveller's own home, recorded on {count} of its crossings, is neither the traced "
               "person's address nor that of a crossing matching on its own, and no document agrees, so they are "
               "kept apart as namesakes (probability capped at {cap})", count=recorded, cap=_percent(cap))
    # The rule decides, so the sharing note (which quotes the uncapped pair) gives way to it.
    features = [f for f in r.features if f.level != "posterior"]
    features.append(FeatureResult("home_rule", None, 0.0, note, "disagree", 0.0, "rule"))
    return MatchResult(min(r.score, cap), features, r.weight, min(pair, cap), r.via)


def linked_hit(own: MatchResult, anchor_id: Any, anchor: MatchResult) -> MatchResult:
    """A record found through its person: `own` (the pair under the flag threshold) shown at the
    probability of `anchor`, the same person's record that matches on its own (`person_anchor`).

    The features and their weights stay the pair's own; a first sentence says where the probability
    comes from, and `pair_score` keeps the pair's own probability.
    """
    alone, anchor_pair = own.own_score, anchor.own_score
    note = say("Found through its traveller: crossing {crossing} of the same traveller matches on its own "
               "({anchor}); this crossing alone: {percent}", crossing=str(anchor_id), anchor=_percent(anchor_pair),
               percent=_percent(alone))
    features = [f for f in own.features if f.level != "posterior"]
    features.append(FeatureResult("person", None, 0.0, note, "partial", 0.0, "person"))
    return MatchResult(anchor.score, features, own.weight, alone, anchor_id)


def match(probe: Identity, candidate: Identity, config: MatchConfig = DEFAULT) -> MatchResult:
    """Score a traveller against one person of interest."""
    return match_prepared(prepare(probe), prepare(candidate), config)
