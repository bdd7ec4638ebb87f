"""Pure matcher: is this traveller the same person as this person of interest?

The score is a table of small named features (CONVENTIONS rule 7). Each feature compares one aspect,
returns a score in 0..1 (or None when it cannot be compared) and a sentence a border officer
understands. Weights, penalties and the flag threshold are parameters of `MatchConfig`; there are no
hidden floors. `match()` works on `Identity`; the index calls `match_prepared()` on identities it has
normalised once (`prepare()`), which is the same computation without repeating the normalisation.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import OSA

from screening.engine.normalize import (
    PartialDate,
    canonical,
    loose,
    name_tokens,
    normalize_document,
    ocr_key,
    parse_partial_date,
)

__all__ = [
    "DEFAULT",
    "FEATURES",
    "Document",
    "FeatureResult",
    "Identity",
    "MatchConfig",
    "MatchResult",
    "NameFrequencies",
    "Prepared",
    "dob_contribution",
    "match",
    "match_prepared",
    "namesake_bound",
    "namesake_feature",
    "prepare",
    "token_distance",
]


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
        )


@dataclass(frozen=True, slots=True)
class FeatureResult:
    name: str
    score: float | None  # None when the feature cannot be compared (a value is missing)
    weight: float
    explanation: str
    verdict: str  # "agree" | "partial" | "disagree" | "missing"
    contribution: float = 0.0  # what this feature added to (or took from) the total score
    # Chance that an unrelated person of interest agrees this well on this field (1.0 = no evidence);
    # set by the name and date-of-birth features when a frequency table is known. Not serialised.
    chance: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "score": self.score, "weight": self.weight,
                "explanation": self.explanation, "verdict": self.verdict,
                "contribution": round(self.contribution, 4)}


@dataclass(frozen=True, slots=True)
class MatchResult:
    score: float
    features: list[FeatureResult]

    @property
    def explanations(self) -> list[str]:
        """The officer-facing sentences, strongest evidence first."""
        ranked = sorted(self.features, key=lambda f: -abs(f.contribution))
        return [f.explanation for f in ranked if f.verdict != "missing" or f.name in ("name", "dob")]

    def to_dict(self) -> dict[str, Any]:
        return {"score": round(self.score, 4), "features": [f.to_dict() for f in self.features],
                "explanations": self.explanations}


class NameFrequencies:
    """How many persons of interest carry each canonical name token.

    A rare name agreeing is stronger evidence than a common one: there are dozens of Thabo Mokoenas
    born in 1985 on a national list, few Tlotliso Ramokhoros. The candidate index keeps one table up to
    date; `match()` with the same table is deterministic. Each person counts a token once.
    """

    __slots__ = ("counts", "total")

    def __init__(self, counts: dict[str, int] | None = None, total: int = 0) -> None:
        self.counts: dict[str, int] = dict(counts or {})
        self.total = total

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
            counts[t] = counts.get(t, 0) + 1
        self.total += 1

    def remove(self, p: Prepared) -> None:
        counts = self.counts
        for t in self.tokens_of(p):
            n = counts.get(t, 0) - 1
            if n > 0:
                counts[t] = n
            else:
                counts.pop(t, None)
        self.total = max(self.total - 1, 0)

    def share(self, a: str, b: str) -> float:
        """Share of persons carrying token a or b (the commoner of two spellings); at least 1/total."""
        get = self.counts.get
        return max(get(a, 0), get(b, 0), 1) / max(self.total, 1)


@dataclass(frozen=True, slots=True)
class MatchConfig:
    """Every weight, penalty and threshold of the matcher, in one place."""

    flag_threshold: float = 0.80
    # Evidence: added as weight * feature score.
    name_weight: float = 0.60
    dob_weight: float = 0.30
    document_weight: float = 0.90
    sex_weight: float = 0.03
    nationality_weight: float = 0.03
    # Conflicts: subtracted when the feature disagrees.
    dob_conflict_penalty: float = 0.30
    name_conflict_penalty: float = 0.0
    sex_conflict_penalty: float = 0.10
    nationality_conflict_penalty: float = 0.05
    document_conflict_penalty: float = 0.0  # different numbers are often a renewal, not a conflict
    id_number_conflict_penalty: float = 0.20  # but a national ID number is for life
    # Name details.
    variant_token_score: float = 0.95  # equal after the loose spelling rules (ph/f, v/f, ie/y)
    typo_token_score: float = 0.90  # one edit in a token of >= min_typo_length letters
    two_typo_token_score: float = 0.80  # two edits in a token of >= min_two_typo_length letters
    min_typo_length: int = 4
    min_two_typo_length: int = 8
    initial_score: float = 0.85  # "T" against "Thabo"
    extra_token_penalty: float = 0.10  # per name token present on one side only (a missing middle name)
    differing_token_penalty: float = 0.10  # per name token on both sides that matches nothing
    swapped_factor: float = 0.97  # surname and given names exchanged
    mixed_factor: float = 0.90  # tokens matched regardless of which field they were in
    surname_only_factor: float = 0.70  # one side has no given names
    # Date-of-birth scores.
    dob_swapped_score: float = 0.85
    dob_year_month_score: float = 0.55  # one side knows only year and month
    dob_same_month_score: float = 0.30  # both exact, same year and month, different day
    dob_year_score: float = 0.50  # years equal and one side knows only the year (or 1 January)
    dob_year_off_by_one_score: float = 0.70  # same day and month, year differs by one
    dob_swapped_year_off_by_one_score: float = 0.50  # two slips in one date: swapped and year +-1
    dob_year_only_off_by_one_score: float = 0.30
    dob_estimated_score: float = 0.50
    dob_estimated_window: int = 2
    # Document scores.
    document_ocr_score: float = 0.95
    document_one_edit_score: float = 0.50
    document_other_country_score: float = 0.60
    min_document_length: int = 5  # shorter numbers are too easy to share by accident
    # Namesakes: how many *other* persons of interest would agree as well on name and date of birth
    # (N x chance of the name x chance of the date). Each factor of ten above `namesake_neutral`
    # takes `namesake_step` off the score, each factor of ten below adds it, within the bounds.
    # Only applies when `frequencies` is set and no document agrees.
    namesake_neutral: float = 0.1
    namesake_step: float = 0.03
    namesake_max_penalty: float = 0.15
    namesake_max_bonus: float = 0.06
    birth_year_span: int = 60  # persons of interest are born over about this many years
    initial_share: float = 0.08  # chance that an initial agrees by accident
    namesake_bonus_min_name: float = 0.90  # a rare-name bonus needs at least this name score
    namesake_min_population: int = 10_000  # ... and a frequency table of at least this many persons
    # Blocking (used by the index).
    block_year_window: int = 1
    block_estimated_year_window: int = 2
    max_single_key_pool: int = 400
    max_rare_key_pool: int = 30  # a name key this rare in the year window routes on its own
    # Token frequencies of the population screened against (the index sets its own live table).
    frequencies: NameFrequencies | None = field(default=None, compare=False, hash=False, repr=False)


DEFAULT = MatchConfig()


# --- The one rapidfuzz wrapper --------------------------------------------------------------------


def token_distance(a: str, b: str, cutoff: int | None = None) -> int:
    """Optimal-string-alignment edit distance (a transposition counts as one edit).

    The single place rapidfuzz is called. Inputs are already folded and canonicalised by
    `screening.normalize`, so `processor=None` is passed explicitly: rapidfuzz 3 does no preprocessing
    by default, and relying on that default silently would hide the normalisation contract.
    """
    return OSA.distance(a, b, processor=None, score_cutoff=cutoff)


# --- Prepared identities ---------------------------------------------------------------------------


class Prepared:
    """An Identity normalised once: canonical name tokens, document keys. Compact for 10^6 of them."""

    __slots__ = ("id", "variants", "dob", "sex", "nationality", "documents")

    def __init__(self, id, variants, dob, sex, nationality, documents):  # noqa: A002
        self.id = id
        # ((surname tokens), (given tokens)) for the name and each alias; canonical, interned
        self.variants: tuple[tuple[tuple[str, ...], tuple[str, ...]], ...] = variants
        self.dob: PartialDate | None = dob
        self.sex: str | None = sex
        self.nationality: str | None = nationality
        # (normalised number, ocr key, country or None, type or None)
        self.documents: tuple[tuple[str, str, str | None, str | None], ...] = documents


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
    return Prepared(identity.id, tuple(variants), identity.dob, sex,
                    keep((identity.nationality or "").upper() or None), tuple(docs))


# --- Feature: name ---------------------------------------------------------------------------------

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


def _all_chance(tokens: tuple[str, ...], cfg: MatchConfig) -> float:
    freq = cfg.frequencies
    if freq is None:
        return 1.0
    chance = 1.0
    for t in tokens:
        chance *= cfg.initial_share if len(t) == 1 else freq.share(t, t)
    return chance


def _align(a: tuple[str, ...], b: tuple[str, ...], cfg: MatchConfig) -> tuple[float, int, float] | None:
    """Greedy best one-to-one token alignment; order-free, tolerant of an extra token on one side.

    Returns (score, flags, chance): chance is how often the agreeing tokens occur together among
    persons of interest (1.0 without a frequency table).
    """
    if not a or not b:
        return None
    if a == b:
        return 1.0, 0, _all_chance(a, cfg)
    pairs = []
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            s, f = _token_score(x, y, cfg)
            if s > 0.0:
                pairs.append((s, i, j, f))
    pairs.sort(reverse=True)
    used_a: set[int] = set()
    used_b: set[int] = set()
    total, flags, matched = 0.0, 0, []
    freq = cfg.frequencies
    chance = 1.0
    for s, i, j, f in pairs:
        if i in used_a or j in used_b:
            continue
        used_a.add(i)
        used_b.add(j)
        total += s
        flags |= f
        matched.append((i, j))
        if freq is not None:
            chance *= cfg.initial_share if f == _INITIAL else freq.share(a[i], b[j])
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
    return max(score, 0.0), flags, chance


def _surname_phrase(r: tuple[float, int, float] | None) -> str:
    if r is None:
        return "surname not recorded on one side"
    score, flags, _ = r
    if score < 0.5:
        return "surname differs"
    if flags & _UNMATCHED:
        return "surname matches only in part"
    if flags & _EXTRA:
        return "surname matches part of a compound surname"
    if flags & _TYPO:
        return "surname matches except for a typo"
    if flags & _VARIANT:
        return "surname matches as a spelling variant"
    return "surname matches"


def _given_phrase(r: tuple[float, int, float] | None) -> str:
    if r is None:
        return "given names not recorded on one side"
    score, flags, _ = r
    if score < 0.5:
        return "given names differ"
    parts = []
    if flags & _UNMATCHED:
        parts.append("only some given names match")
    if flags & _REORDER:
        parts.append("given names in a different order")
    if flags & _EXTRA:
        parts.append("a given name is missing on one side")
    if flags & _INITIAL:
        parts.append("a given name matches an initial")
    if flags & _TYPO:
        parts.append("a given name matches except for a typo")
    if flags & _VARIANT:
        parts.append("a given name matches as a spelling variant")
    return "; ".join(parts) if parts else "given names match"


def _name_pair(p: tuple[tuple[str, ...], tuple[str, ...]], c: tuple[tuple[str, ...], tuple[str, ...]],
               cfg: MatchConfig) -> tuple[float, str, float]:
    """(score, phrase, chance) for one name of each side; chance as in `_align`."""
    ps, pg = p
    cs, cg = c
    if ps == cs and pg == cg:
        return 1.0, "Surname and given names match", _all_chance(ps + pg, cfg)
    best = (-1.0, "", 1.0)
    rs, rg = _align(ps, cs, cfg), _align(pg, cg, cfg)
    if rs is not None and rg is not None:
        best = (0.5 * rs[0] + 0.5 * rg[0], f"{_surname_phrase(rs)}; {_given_phrase(rg)}", rs[2] * rg[2])
    elif rs is not None:
        best = (cfg.surname_only_factor * rs[0], f"{_surname_phrase(rs)}; {_given_phrase(rg)}", rs[2])
    elif rg is not None:
        best = (cfg.surname_only_factor * rg[0], f"{_surname_phrase(rs)}; {_given_phrase(rg)}", rg[2])
    if best[0] < 0.95:
        xs, xg = _align(ps, cg, cfg), _align(pg, cs, cfg)
        if xs is not None and xg is not None:
            swapped = cfg.swapped_factor * (0.5 * xs[0] + 0.5 * xg[0])
            if swapped > best[0]:
                best = (swapped, "surname and given names are swapped", xs[2] * xg[2])
                if min(xs[0], xg[0]) < 0.99:
                    best = (swapped, f"surname and given names are swapped; {_given_phrase(xg)}",
                            xs[2] * xg[2])
        mixed = _align(ps + pg, cs + cg, cfg)
        if mixed is not None and cfg.mixed_factor * mixed[0] > best[0]:
            best = (cfg.mixed_factor * mixed[0], "name parts match but are recorded in different fields",
                    mixed[2])
    return best


def name_feature(p: Prepared, c: Prepared, cfg: MatchConfig) -> FeatureResult:
    """Best name agreement over the names and aliases of both sides."""
    w = cfg.name_weight
    if not p.variants or not c.variants:
        return FeatureResult("name", None, w, "Name not recorded on one side", "missing")
    best_score, best_text, via_alias, chance = -1.0, "", False, 1.0
    for i, pv in enumerate(p.variants):
        for j, cv in enumerate(c.variants):
            s, text, ch = _name_pair(pv, cv, cfg)
            if s > best_score:
                best_score, best_text, via_alias, chance = s, text, bool(i or j), ch
            if best_score >= 1.0:
                break
    text = best_text[0].upper() + best_text[1:]
    if via_alias:
        text += " (through an alias)"
    if best_score >= 0.95:
        verdict = "agree"
    elif best_score >= 0.5:
        verdict = "partial"
    else:
        verdict = "disagree"
        text = "Names differ"
    contribution = w * best_score if verdict != "disagree" else -cfg.name_conflict_penalty
    return FeatureResult("name", round(best_score, 4), w, text, verdict, contribution,
                         chance if cfg.frequencies is not None and verdict != "disagree" else None)


# --- Feature: date of birth ------------------------------------------------------------------------


def _year_level(d: PartialDate) -> bool:
    """True when only the year is really known (year, estimated, or the 1 January placeholder)."""
    return d.precision in ("year", "estimated") or d.is_placeholder


# Outcomes of comparing two dates of birth: (score attribute of MatchConfig or a fixed score,
# verdict, how many "birth slots" of the population agree this well by chance).
_DAYS = 365.25


def _dob_outcome(a: PartialDate, b: PartialDate, cfg: MatchConfig) -> tuple[str, float, float]:
    """(outcome, score, chance) for two known dates; score 0 with chance 0 means a conflict."""
    span = cfg.birth_year_span
    if a.precision == "estimated" or b.precision == "estimated":
        window = cfg.dob_estimated_window
        if abs(a.year - b.year) <= window:
            return "estimated", cfg.dob_estimated_score, (2 * window + 1) / span
        return "estimated_conflict", 0.0, 0.0
    year_a, year_b = _year_level(a), _year_level(b)
    if not year_a and not year_b:
        if a == b:
            if a.precision == "month":
                return "year_month", cfg.dob_year_month_score, 1 / (12 * span)
            return "exact", 1.0, 1 / (_DAYS * span)
        if a.precision == b.precision == "day":
            if a.year == b.year and (a.month, a.day) == (b.day, b.month):
                return "swapped", cfg.dob_swapped_score, 2 / (_DAYS * span)
            if abs(a.year - b.year) == 1 and (a.month, a.day) == (b.month, b.day):
                return "year_off_by_one", cfg.dob_year_off_by_one_score, 3 / (_DAYS * span)
            if abs(a.year - b.year) == 1 and (a.month, a.day) == (b.day, b.month):
                return "swapped_year_off_by_one", cfg.dob_swapped_year_off_by_one_score, 6 / (_DAYS * span)
        if a.year == b.year and a.month == b.month:
            if a.precision == b.precision == "day":
                return "same_month", cfg.dob_same_month_score, 1 / (12 * span)
            return "year_month", cfg.dob_year_month_score, 1 / (12 * span)
        return "conflict", 0.0, 0.0
    if a.year == b.year:
        return "year", cfg.dob_year_score, 1 / span
    if abs(a.year - b.year) == 1:
        return "year_only_off_by_one", cfg.dob_year_only_off_by_one_score, 3 / span
    return "year_conflict", 0.0, 0.0


def dob_contribution(a: PartialDate | None, b: PartialDate | None, cfg: MatchConfig) -> float:
    """What the date-of-birth feature adds to the score, without building its explanation."""
    if a is None or b is None:
        return 0.0
    _, score, chance = _dob_outcome(a, b, cfg)
    return cfg.dob_weight * score if chance else -cfg.dob_conflict_penalty


_DOB_TEXT = {
    "estimated": ("Year of birth is within the estimate", "partial"),
    "year_month": ("Year and month of birth match", "partial"),
    "exact": ("Date of birth matches", "agree"),
    "swapped": ("Date of birth matches with day and month swapped", "partial"),
    "year_off_by_one": ("Day and month of birth match; the year differs by one", "partial"),
    "swapped_year_off_by_one": ("Day and month of birth match but are swapped, and the year differs by one",
                                "partial"),
    "same_month": ("Year and month of birth match; the day differs", "partial"),
    "year": ("Year of birth matches (only the year is known on one side)", "partial"),
    "year_only_off_by_one": ("Year of birth differs by one (only the year is known on one side)", "partial"),
}


def dob_feature(p: Prepared, c: Prepared, cfg: MatchConfig) -> FeatureResult:
    """Compare dates of birth at the precision both sides actually know."""
    w = cfg.dob_weight
    a, b = p.dob, c.dob
    if a is None or b is None:
        return FeatureResult("dob", None, w, "Date of birth not recorded on one side", "missing",
                             0.0, 1.0 if cfg.frequencies is not None else None)
    outcome, score, chance = _dob_outcome(a, b, cfg)
    if outcome == "estimated_conflict":
        return _dob_conflict(cfg, "Date of birth is outside the estimated age")
    if outcome == "conflict":
        return _dob_conflict(cfg, f"Dates of birth differ ({a} / {b})")
    if outcome == "year_conflict":
        return _dob_conflict(cfg, f"Years of birth differ ({a.year} / {b.year})")
    text, verdict = _DOB_TEXT[outcome]
    return FeatureResult("dob", score, w, text, verdict, w * score,
                         chance if cfg.frequencies is not None else None)


def _dob_conflict(cfg: MatchConfig, text: str) -> FeatureResult:
    return FeatureResult("dob", 0.0, cfg.dob_weight, text, "disagree", -cfg.dob_conflict_penalty)


# --- Feature: document -----------------------------------------------------------------------------


def _ocr_confusions(a: str, b: str) -> str:
    pairs = sorted({"/".join(sorted((x, y), key=str.isdigit)) for x, y in zip(a, b, strict=True) if x != y})
    return ", ".join(pairs)


def _compare_document(pd, cd, cfg: MatchConfig) -> tuple[float, str, str] | None:
    pn, pk, pc, pt = pd
    cn, ck, cc, ct = cd
    if pt and ct and pt[0] != ct[0]:
        return None  # a passport number and an ID-card number are not comparable
    same_country = pc is None or cc is None or pc == cc
    if len(pn) < cfg.min_document_length or len(cn) < cfg.min_document_length:
        return None
    if pn == cn:
        if same_country:
            return 1.0, "Document number matches", "agree"
        return (cfg.document_other_country_score,
                f"Same document number but issued by different countries ({pc} / {cc})", "partial")
    if pk == ck and same_country:
        return (cfg.document_ocr_score,
                f"Document number matches except for an {_ocr_confusions(pn, cn)} confusion", "agree")
    if same_country and len(pn) == len(cn) and token_distance(pn, cn, 1) <= 1:
        return cfg.document_one_edit_score, "Document number differs by one character", "partial"
    if same_country and abs(len(pn) - len(cn)) <= 1 and token_distance(pk, ck, 1) <= 1:
        return cfg.document_one_edit_score, "Document number differs by one character", "partial"
    if pc and cc and pc == cc:
        if pt and ct and pt[0] == "I":
            # A national ID number is issued once for life (South Africa, Lesotho): unlike a passport,
            # a different one from the same country is evidence of a different person.
            return 0.0, (f"Different national ID numbers from the same country ({pc}): an ID number is kept "
                         "for life"), "disagree"
        return 0.0, (f"Different document numbers from the same issuing country ({pc}): possibly a renewed "
                     "document, not counted against"), "partial"
    return 0.0, "Document numbers differ", "disagree"


def document_feature(p: Prepared, c: Prepared, cfg: MatchConfig) -> FeatureResult:
    """Best agreement over every pair of comparable documents."""
    w = cfg.document_weight
    best = None
    for pd in p.documents:
        for cd in c.documents:
            r = _compare_document(pd, cd, cfg)
            if r is not None and (best is None or r[0] > best[0]):
                best = r
    if best is None:
        return FeatureResult("document", None, w, "No comparable document on both sides", "missing")
    score, text, verdict = best
    if verdict != "disagree":
        contribution = w * score
    elif text.startswith("Different national ID"):
        contribution = -cfg.id_number_conflict_penalty
    else:
        contribution = -cfg.document_conflict_penalty
    return FeatureResult("document", score, w, text, verdict, contribution)


# --- Qualifiers: sex and nationality ---------------------------------------------------------------


def sex_feature(p: Prepared, c: Prepared, cfg: MatchConfig) -> FeatureResult:
    """Small support when equal, a penalty when recorded differently."""
    if p.sex is None or c.sex is None:
        return FeatureResult("sex", None, cfg.sex_weight, "Sex not recorded on one side", "missing")
    if p.sex == c.sex:
        return FeatureResult("sex", 1.0, cfg.sex_weight, "Sex matches", "agree", cfg.sex_weight)
    return FeatureResult("sex", 0.0, cfg.sex_weight, f"Sex differs ({p.sex} / {c.sex})", "disagree",
                         -cfg.sex_conflict_penalty)


def nationality_feature(p: Prepared, c: Prepared, cfg: MatchConfig) -> FeatureResult:
    """Small support when equal; a small penalty otherwise (dual nationals exist in the region)."""
    w = cfg.nationality_weight
    if p.nationality is None or c.nationality is None:
        return FeatureResult("nationality", None, w, "Nationality not recorded on one side", "missing")
    if p.nationality == c.nationality:
        return FeatureResult("nationality", 1.0, w, "Nationality matches", "agree", w)
    return FeatureResult("nationality", 0.0, w, f"Nationality differs ({p.nationality} / {c.nationality})",
                         "disagree", -cfg.nationality_conflict_penalty)


FEATURES: tuple[Callable[[Prepared, Prepared, MatchConfig], FeatureResult], ...] = (
    name_feature,
    dob_feature,
    document_feature,
    sex_feature,
    nationality_feature,
)


def _birth_phrase(dob_chance: float, cfg: MatchConfig) -> str:
    if dob_chance >= 1.0:
        return ""
    if dob_chance >= 0.99 / cfg.birth_year_span:
        return " and year of birth"
    if dob_chance >= 0.99 / (12 * cfg.birth_year_span):
        return " and year and month of birth"
    return " and date of birth"


_NAMESAKE_SHOWN = 0.005  # smaller adjustments are dropped, and not explained


def _namesake_adjust(expected: float, cfg: MatchConfig) -> float:
    adjust = -cfg.namesake_step * math.log10(max(expected, 1e-12) / cfg.namesake_neutral)
    return min(max(adjust, -cfg.namesake_max_penalty), cfg.namesake_max_bonus)


def namesake_bound(name: FeatureResult, a: PartialDate | None, b: PartialDate | None,
                   cfg: MatchConfig) -> float:
    """Most the namesakes feature can add, given the name result and both dates, if no document agrees.

    Lets the index skip the rest of the scoring for namesakes in a common-name bucket.
    """
    freq = cfg.frequencies
    if freq is None or name.chance is None:
        return 0.0
    dob_chance = 1.0
    if a is not None and b is not None:
        _, _, dob_chance = _dob_outcome(a, b, cfg)
        if not dob_chance:
            return 0.0  # a date conflict: the feature does not apply
    adjust = _namesake_adjust(max(freq.total - 1, 0) * name.chance * dob_chance, cfg)
    return adjust if abs(adjust) >= _NAMESAKE_SHOWN else 0.0


def namesake_feature(features: list[FeatureResult], cfg: MatchConfig) -> FeatureResult:
    """Weigh name and date agreement by how many other persons of interest would agree as well.

    Computed from the name and date-of-birth results (not from the raw identities), and only with a
    frequency table: the expected number of namesakes is (persons - 1) x chance of the agreeing name
    tokens x chance of the date agreement. A matching document makes namesakes irrelevant.
    """
    by = {f.name: f for f in features}
    name, dob, doc = by.get("name"), by.get("dob"), by.get("document")
    freq = cfg.frequencies
    if (freq is None or name is None or name.chance is None or dob is None or dob.chance is None
            or (doc is not None and doc.verdict == "agree")):
        return FeatureResult("namesakes", None, 0.0, "Name frequency not considered", "missing")
    expected = max(freq.total - 1, 0) * name.chance * dob.chance
    adjust = _namesake_adjust(expected, cfg)
    if adjust > 0 and (name.score < cfg.namesake_bonus_min_name or freq.total < cfg.namesake_min_population
                       or any(f.verdict == "disagree" for f in features)):
        # Rarity makes agreement convincing only when the name really agrees (a typo, an initial or a
        # missing middle name at most) and nothing contradicts it (sex, nationality, an ID number): it
        # must not lift a pair that is already in doubt over the threshold. And only a large table can
        # tell that a name is rare: in a list of 50 persons every name looks unique.
        adjust = 0.0
    what = _birth_phrase(dob.chance, cfg)
    if adjust <= -_NAMESAKE_SHOWN:
        n = round(expected)
        who = "Another person of interest" if n <= 1 else f"About {n:,} other persons of interest"
        return FeatureResult("namesakes", round(expected, 4), 0.0,
                             f"{who} could share this name{what}: possibly a namesake, so it counts for less",
                             "disagree", adjust)
    if adjust >= _NAMESAKE_SHOWN:
        return FeatureResult("namesakes", round(expected, 4), 0.0,
                             f"Few persons of interest share this name{what}: unlikely to be a namesake",
                             "agree", adjust)
    return FeatureResult("namesakes", round(expected, 4), 0.0, "Name frequency is unremarkable", "missing")


def match_prepared(p: Prepared, c: Prepared, config: MatchConfig = DEFAULT, *,
                   name: FeatureResult | None = None) -> MatchResult:
    """Score two prepared identities: the sum of feature contributions, clipped to 0..1.

    `name` may pass the name feature already computed for a candidate with the same names (the index
    reuses it across namesakes). With `config.frequencies` set, a `namesakes` feature is added.
    """
    features = [name if name is not None and f is name_feature else f(p, c, config) for f in FEATURES]
    if config.frequencies is not None:
        features.append(namesake_feature(features, config))
    total = sum(f.contribution for f in features)
    return MatchResult(min(max(total, 0.0), 1.0), features)


def match(probe: Identity, candidate: Identity, config: MatchConfig = DEFAULT) -> MatchResult:
    """Score a traveller against one person of interest."""
    return match_prepared(prepare(probe), prepare(candidate), config)
