"""Blocking keys of a prepared record that are the same in every process, for a database key table.

`screening.engine.resolve` blocks on Python's `hash()` of small tuples, which changes between
processes (hash randomisation): fine for a per-process index, useless in a table two workers share.
These are the same keys (the same routes, names, years and dates, see resolve.py, "Blocking"),
hashed with BLAKE2b to a signed 64-bit integer, so a PostgreSQL BIGINT column holds them.

PURE: standard library and the screening engine only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hashlib import blake2b
from itertools import chain, combinations

from screening.engine.matching import MatchConfig, Prepared
from screening.engine.postings import exact_ordinal
from screening.engine.resolve import _DATE, _DOC, _PAIR, ResolveConfig, _date_variants, _name_keys, _store_keys

__all__ = ["key_of", "probe_keys", "store_keys", "trace_routes", "lock_slots"]

# Name key x year of birth, each name on its own: stored for tracing (a person looked for by one name, or
# by names one of which is misspelt), never looked up by attach, whose routes are resolve's.
_TOKEN = 4
_FIRST_YEAR = 1900  # a probe with no date of birth is looked for in every year from this one


def key_of(parts: tuple) -> int:
    """A stable signed 64-bit hash of a key tuple (ints and strings only, so `repr` is stable)."""
    return int.from_bytes(blake2b(repr(parts).encode(), digest_size=8).digest(), "big", signed=True)


def store_keys(p: Prepared, min_doc: int) -> list[int]:
    """Keys a profile is filed under: resolve's own, stably hashed, and each name key x year for tracing."""
    year = p.dob.year if p.dob is not None else 0
    tokens = [key_of((_TOKEN, k, year)) for k in _name_keys(p)]
    return list(dict.fromkeys([*_store_keys(p, min_doc, key_of), *tokens]))


@dataclass(frozen=True)
class TraceRoutes:
    """The keys a traced person is looked up by, as `CandidateIndex` routes a probe (screening.engine.index):
    documents, name pairs x years, names x exact dates, and each name key over the years on its own (whose
    pool decides whether it routes alone)."""

    documents: list[int]
    pairs: list[int]
    dates: list[int]
    tokens: dict[str, list[int]] = field(default_factory=dict)

    def all(self) -> list[int]:
        tokens = chain.from_iterable(self.tokens.values())
        return list(dict.fromkeys([*self.documents, *self.dates, *self.pairs, *tokens]))


def trace_routes(p: Prepared, cfg: MatchConfig, this_year: int) -> TraceRoutes:
    """The probe's routes over its year window (every year to `this_year` when its date of birth is unknown)."""
    docs = [key_of((_DOC, d[1])) for d in p.documents]
    names = _name_keys(p)
    if p.dob is None:
        years = [0, *range(_FIRST_YEAR, this_year + 1)]
    else:
        w = cfg.block_estimated_year_window if p.dob.precision == "estimated" else cfg.block_year_window
        years = [0, *range(p.dob.year - w, p.dob.year + w + 1)]
    pairs = [key_of((_PAIR, a, b, y)) for y in years for a, b in combinations(names, 2)]
    ordinal = exact_ordinal(p.dob)
    dates = [key_of((_DATE, k, o)) for o in _date_variants(p.dob) for k in names] if ordinal is not None else []
    tokens = {k: [key_of((_TOKEN, k, y)) for y in years] for k in names}
    return TraceRoutes(list(dict.fromkeys(docs)), pairs, dates, tokens)


def probe_keys(p: Prepared, cfg: ResolveConfig) -> tuple[list[int], list[int]]:
    """(document keys, name keys) a new profile looks up (resolve._probe_keys, stably hashed).

    Most selective first, as the index probes them: documents, then names x exact dates, then name
    pairs x years (a common name and year can hold more namesakes than the candidates read).
    Every resolve key the profile is stored under is among them, which the advisory locks rely on
    (`lock_slots`); the tracing keys (`_TOKEN`) are not, and attach never looks them up.
    """
    docs = [key_of((_DOC, d[1])) for d in p.documents if len(d[1]) >= cfg.match.min_document_length]
    names = _name_keys(p)
    name_pairs = list(combinations(names, 2))
    year = p.dob.year if p.dob is not None else 0
    if p.dob is None:
        years = [year]
    else:
        w = 2 if p.dob.precision == "estimated" else cfg.block_year_window
        years = [year, 0, *(y for y in range(p.dob.year - w, p.dob.year + w + 1) if y != year)]
    rest = []
    ordinal = exact_ordinal(p.dob)
    if ordinal is not None:
        others = [o for o in _date_variants(p.dob) if o != ordinal]
        rest = [key_of((_DATE, k, o)) for o in (ordinal, *others) for k in names]
    rest += [key_of((_PAIR, a, b, y)) for y in years for a, b in name_pairs]
    return list(dict.fromkeys(docs)), list(dict.fromkeys(rest))


def lock_slots(keys: list[int], slots: int) -> list[int]:
    """The advisory-lock numbers guarding these keys, sorted (one global order: no deadlock).

    Keys map onto a fixed number of lock slots, so a batch of thousands of crossings takes at most
    `slots` locks (PostgreSQL's lock table is finite); a shared slot only serialises two unrelated
    attaches, it never lets two related ones run at once.
    """
    return sorted({k % slots for k in keys})
