"""Pure traveller resolution: which crossings were made by the same person.

Entity resolution over crossings, built on the screening engine (`normalize`, `matching`): the same
features, weights and explanations, so an officer reads one vocabulary for "is this the same person".

How it works (batch and incremental share one code path, `TravellerIndex._place`):

1. Profiles. Records are deduplicated on their normalised content (canonical name tokens, date of
   birth, sex, nationality, OCR-normalised documents). Most crossings by one person repeat an earlier
   profile exactly; those attach in O(1) and are never scored. Records named in a judgement keep a
   profile of their own so an investigator can separate two crossings whose data are identical.
2. Blocking. A profile is looked up by: each document's OCR key; each unordered pair of phonetic name
   keys with the year of birth (+-1 year; order-free, so swapped surname/given names and a dropped
   middle name still meet); and each single name key with the exact date of birth (also day/month
   swapped and +-1 year), which rescues an initial or a typo. Keys are hashed to ints (a collision
   only adds a candidate, which scoring then rejects) and stored once per traveller, not per crossing.
   At most `max_candidates` travellers are scored, so the routes are probed most selective first:
   documents, then name x exact date, then name pairs x years. A common name and birth year holds
   more namesakes than that at 10^6 crossings; probed first, it filled the candidates and hid the
   true traveller from a crossing whose document did not agree (a typo, a missing or second one).
   Address route: each profile is also filed under its address with each name key and its year of
   birth; when the name routes stop at `max_candidates`, a few travellers more are read there, so a
   crossing from the person's home with a mistyped or missing document still meets its traveller (at
   10^6 heavy namesakes a year-only person's bucket holds far more namesakes than are read). Probed
   only then: probed first, it found a village's namesakes and cost precision for its recall.
3. Scoring. The engine's features, cheapest first: document, date of birth, sex and nationality are
   computed, and the name feature (the costly one, memoised per pair of spellings) only when it can
   still lift the score over the threshold.
4. Clustering. Greedy, most frequent profiles first, so the clean spelling of a person founds the
   traveller and noisy ones attach to it. Safeguards against chaining: a profile attaches to one
   traveller only when its best link reaches `link_threshold` and it has no strong conflict with the
   traveller's founding profile (different full dates of birth and no shared document); two travellers
   are merged through a profile only when both links reach `merge_threshold` and the two founders do
   not conflict; a profile that fits two unrelated travellers equally (namesakes known only by year of
   birth, no document in common) founds a traveller of its own instead of guessing.
   Per-profile posterior: a pair's probability weighs one candidate against the whole population's
   prior, so at 10^6 crossings a second or forged document among heavy namesakes scores under the link
   threshold even when its traveller is the only one that fits. A crossing left unlinked is weighed
   again: its best candidate's pair odds against the sum of every candidate's odds plus
   `new_person_odds` ("someone not found"); it links when that posterior reaches `link_threshold`.
   Namesakes that fit as well share the posterior, so nothing is guessed (the rule above, in odds).
   Only for a profile of one crossing (a profile repeated on several crossings is a person's usual
   identity: in the tuning runs none was ever rightly linked this way) and a complete candidate set
   (`max_candidates` not reached, or reached only in the name x year route by a profile with a full
   date of birth, whose unscored namesakes the date rule keeps apart, or by a profile knowing only its
   year once every namesake of that very year was found: those left unscored were born a year off). The
   date-of-birth rule and judgements stay vetoes. Batch only: such a crossing founds a traveller for
   now and is placed again after every other profile, when its own person's traveller (founded later in
   the order) competes with the namesake; that removed most of the wrong rescues. An attach cannot wait
   for the persons still to come (a new person's first crossing would join the one namesake in reach),
   so it keeps the pair rule; the batch (`flask screening resolve`) links those crossings later.
   Twin rule: a profile repeated on two or more crossings, with a document and an address, is a usual
   identity of its own (a person crosses mostly with one document from one home). It joins a traveller
   only if one of that traveller's profiles shares a document (exact or near) or an address (exact,
   near or in part) with it: name and full date of birth agreeing is what two namesakes born the same
   day ("twins") show as well, and under heavy namesakes such a pair scores near the link threshold.
   Without the shared document or address it founds a traveller of its own; likewise two travellers
   whose anchors are such identities, sharing neither, are not merged through a crossing that fits
   both. A single crossing (a second or forged document, a move) is left to the pair rule and the
   posterior; an attach places one crossing at a time, so the rule acts in a batch (`flask screening
   resolve`). Seed 101, 10^6 heavy namesakes: precision 0.9954 -> 0.9969 from the first part alone,
   recall unchanged (docs/performance.md, session 9 s9a). A person who really moved and crosses with
   a new document, repeatedly, stays a traveller of his own (as a namesake would).
   Rejoin pass (batch, last): a second document used twice founds a traveller of its own and the
   founders' rule keeps it from its person's. A traveller with no home of its own (every profile on
   one crossing, no address given twice) is weighed as one against its candidates, with
   `rejoin_odds` for "a namesake not found", and joins the best at `link_threshold` (on since the
   twin rule freed the precision it costs at 10^6 heavy namesakes; `rejoin_odds=None` turns it off).
   A traveller known only by its year of birth is weighed as well, when every candidate was scored.
5. Judgements. Must-link (an investigator merged) and cannot-link (an investigator said different)
   pairs of crossings are always respected: must-linked crossings enter as one unit, and no attach or
   merge ever joins two crossings judged different.

PURE: standard library and the screening engine only; no Flask, no SQLAlchemy.
"""

from __future__ import annotations

import gc
from collections.abc import Callable, Hashable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from itertools import combinations
from typing import Any

from screening.engine.matching import (
    DEFAULT,
    Document,
    Identity,
    MatchConfig,
    NameFrequencies,
    Prepared,
    address_level,
    compare_names,
    dob_level,
    dob_rule_applies,
    document_level,
    log2_odds,
    match_prepared,
    max_name_weight,
    name_weight,
    partial_weight,
    prior_log_odds,
    share_posterior,
)
from screening.engine.memo import memo
from screening.engine.normalize import (
    PartialDate,
    canonical,
    name_tokens,
    normalize_address,
    normalize_document,
    ocr_key_of_normalized,
    phonetic_key,
)
from screening.engine.postings import discard_slot, exact_ordinal

__all__ = [
    "Judgements",
    "JudgementConflict",
    "ResolveConfig",
    "TravellerIndex",
    "TravellerRecord",
    "pair_scores",
    "pairwise_metrics",
    "resolve",
]


@dataclass(frozen=True, slots=True)
class TravellerRecord:
    """One crossing's identity fields, as the crossings table or an import row gives them."""

    crossing_id: Hashable
    surname: str = ""
    given_names: str = ""
    dob: PartialDate | None = None
    sex: str | None = None
    nationality: str | None = None
    documents: tuple[Document, ...] = ()
    address: str = ""

    def identity(self) -> Identity:
        return Identity(id=self.crossing_id, surname=self.surname or "", given_names=self.given_names or "",
                        dob=self.dob, sex=self.sex, nationality=self.nationality, documents=list(self.documents),
                        address=self.address or "")

    def raw_key(self) -> tuple:
        """Exact content key: records equal on it normalise identically, so they are prepared once."""
        return (self.surname, self.given_names, self.dob, self.sex, self.nationality, self.documents, self.address)


@dataclass(frozen=True, slots=True)
class ResolveConfig:
    """Thresholds of resolution, on the match probability; the model itself is `match.model`."""

    match: MatchConfig = DEFAULT
    # Set on the generator's tuning seeds (101, checked on 202; never the reported 15) with the
    # calibrated model: with the document x address interaction a changed document and a move no
    # longer count twice, so pairs of namesakes score higher too; with the selective routes probed
    # first, more of them are scored. A link at 0.8 (weak 0.7) is the one that keeps both precision
    # and recall over 0.995 on heavy namesakes on both seeds (docs/performance.md, session 5).
    link_threshold: float = 0.80  # best link needed to attach a crossing to a traveller
    weak_link_threshold: float = 0.70  # accepted only when no other traveller is in reach
    merge_threshold: float = 0.90  # both links needed to merge two travellers through one crossing
    ambiguity_margin: float = 0.03  # two unrelated travellers within this of the best: do not guess
    # Per-profile posterior (module docstring, 4): odds of "someone not found among the candidates",
    # against the pair odds of each candidate traveller; 1.0 gives the pair posterior back (no rescue,
    # the results of the pair rule exactly). 0.03 was set on seeds 101 and 202 at 300k (s6-A).
    # Rejoin pass (module docstring, 4; batch only): odds of "a namesake not found" against which a
    # traveller with no home of its own is weighed for joining the one it fits; None: no pass.
    # Session 28 lowered both (0.03 -> 0.003, 0.3 -> 0.07) together with a batch candidate set of 48, set
    # on seeds 101 and 202 at 10^6 heavy namesakes (P / R 0.9956 / 0.9950 and 0.9952 / 0.9953; before
    # 0.9969 / 0.9939 and 0.9967 / 0.9940); the reported seed 15 then gave 0.9953 / 0.9953 (was 0.9967 /
    # 0.9939). With 24 candidates the odds alone bought recall with more precision than they freed
    # (session 17's sweep); history of both settings in docs/performance.md (s6-A, s7a, s9a, s10a, s28).
    new_person_odds: float = 0.003
    rejoin_odds: float | None = 0.07
    # Twin rule (module docstring, 4): a profile repeated on several crossings (a person's usual
    # identity, with its own document and address) joins a traveller only if one of that traveller's
    # profiles agrees with it on a document or an address; name and date of birth alone do not. Two
    # travellers whose anchors are such identities, sharing neither, are not merged through a crossing.
    # False: the rule of session 8 and before (namesakes born the same day merge on name and date).
    twin_rule: bool = True
    block_year_window: int = 1
    # Travellers scored per new profile (most selective routes first). 48 since session 28: at 10^6 heavy
    # namesakes a common name's year holds far more than 24, and a candidate set cut short is one the
    # per-profile posterior cannot trust. An online attach reads at most `attach_candidates` from the
    # database (`for_attach`): it keeps the pair rule, where the extra namesakes change nothing but the
    # cost of every API crossing.
    max_candidates: int = 48
    attach_candidates: int = 24
    # Session 11 (s11a): a year-only profile's candidates count as complete for the per-profile
    # posterior once every namesake of its own year was found (the rest, a year off, weigh 5-9 bits
    # less); False: complete only under `max_candidates`, as before.
    year_complete: bool = True
    name_cache_size: int = 2_000_000

    def for_attach(self) -> ResolveConfig:
        """The settings of an online attach (one crossing at a time, candidates read from the database)."""
        if self.max_candidates <= self.attach_candidates:
            return self
        return replace(self, max_candidates=self.attach_candidates)


class JudgementConflict(ValueError):
    """Raised when judgements contradict each other or an operation would override one."""


@dataclass(slots=True)
class Judgements:
    """Investigators' decisions on pairs of crossings: merged (must link) or different (cannot link)."""

    must_link: set[frozenset] = field(default_factory=set)
    cannot_link: set[frozenset] = field(default_factory=set)

    @classmethod
    def of(cls, must: Iterable[tuple[Any, Any]] = (), cannot: Iterable[tuple[Any, Any]] = ()) -> Judgements:
        return cls({frozenset(p) for p in must}, {frozenset(p) for p in cannot})

    def crossings(self) -> set:
        return {c for pair in self.must_link | self.cannot_link for c in pair}


_FREEZE_AFTER = 1_000_000  # objects made while paused; a test's small build leaves the collector as it was


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector, restoring it after.

    Resolution allocates millions of small acyclic tuples, lists and records; the collector would
    rescan them over and over (a third of the CPU time at 10^6 crossings). Nothing here creates
    reference cycles, so reference counting frees everything it makes.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            if gc.get_count()[0] >= _FREEZE_AFTER:
                # Re-enabled, the collector's first pass would walk every object made here (the index
                # outlives the pause) to find nothing: 2.5 s at 10^6 crossings, 4 % of the resolve.
                # They go to the permanent generation instead; reference counting still frees them.
                gc.freeze()
            gc.enable()


# --- blocking keys ---------------------------------------------------------------------------------

_DOC, _PAIR, _DATE = 1, 2, 3
_ADDR = 5  # (4 is blocking's name-token route for tracing)


def _name_keys(p: Prepared) -> tuple[str, ...]:
    return _variant_keys(p.variants)


@memo(maxsize=500_000)
def _variant_keys(variants: tuple) -> tuple[str, ...]:
    # Initials are too unselective to block on; the exact-date route carries those profiles.
    return tuple(sorted({phonetic_key(t) for sur, given in variants for t in (*sur, *given) if len(t) > 1}))


@memo(maxsize=1 << 16)  # bounded by the calendar: a few tens of thousands of birth dates
def _date_variants(dob: PartialDate) -> tuple[int, ...]:
    out = []
    for y, m, d in ((dob.year, dob.month, dob.day), (dob.year, dob.day, dob.month),
                    (dob.year - 1, dob.month, dob.day), (dob.year + 1, dob.month, dob.day)):
        try:
            out.append(date(y, m, d).toordinal())
        except ValueError:
            continue
    return tuple(out)


def _store_keys(p: Prepared, min_doc: int, h: Callable[[tuple], int] = hash) -> list[int]:
    """Keys under which a profile is found; `h` hashes a key tuple (the database attach passes a stable
    hash, so its key table and this index block alike)."""
    keys = [h((_DOC, d[1])) for d in p.documents if len(d[1]) >= min_doc]
    names = _name_keys(p)
    year = p.dob.year if p.dob is not None else 0
    keys.extend(h((_PAIR, a, b, year)) for a, b in combinations(names, 2))
    ordinal = exact_ordinal(p.dob)
    if ordinal is not None:
        keys.extend(h((_DATE, k, ordinal)) for k in names)
    return keys


def _own_pair_count(p: Prepared) -> int:
    """How many name-pair keys `_probe_keys` lists first, those of the profile's own year of birth."""
    k = len(_name_keys(p))
    return k * (k - 1) // 2


def _address_keys(p: Prepared, names: tuple[str, ...] | None = None) -> list[int]:
    """Keys of the address route: the normalised address with each name key and the year of birth.

    A crossing whose document was mistyped or left out, from the person's usual home, is found here
    when its name and year hold more namesakes than `max_candidates` (the name routes then stop before
    its traveller). The name key and the year keep a village's other families out (a village and a
    surname alone filled the candidates). In-memory only: the database key table
    (`blocking.store_keys`) does not hold them, so an attach through it blocks as before.
    `names`: the profile's `_name_keys`, where the caller has them.
    """
    if not p.address:
        return []
    year = p.dob.year if p.dob is not None else 0
    return [hash((_ADDR, p.address, k, year)) for k in (_name_keys(p) if names is None else names)]


def _index_keys(p: Prepared, min_doc: int) -> list[int]:
    """Keys a profile is filed under in a `TravellerIndex`: `_store_keys` and the address route's."""
    return _store_keys(p, min_doc) + _address_keys(p)


def _probe_keys(p: Prepared, cfg: ResolveConfig) -> tuple[list[int], list[int], list[int], list[int]]:
    """Keys a new profile looks up, by route (documents, name pairs x years, name x exact dates), and
    the keys it is then stored under (the same as `_index_keys`, computed once)."""
    docs, store, own = _own_keys(p, cfg)
    return (docs, *_name_routes(p, cfg, *own), store)


def _own_keys(p: Prepared, cfg: ResolveConfig) -> tuple[list[int], list[int], tuple]:
    """The document route's keys, the keys the profile is stored under, and what `_name_routes` builds
    on: the name routes are probed only when the documents did not settle the profile."""
    docs = [hash((_DOC, d[1])) for d in p.documents if len(d[1]) >= cfg.match.min_document_length]
    names = _name_keys(p)
    name_pairs = list(combinations(names, 2))
    year = p.dob.year if p.dob is not None else 0
    own_pairs = [hash((_PAIR, a, b, year)) for a, b in name_pairs]
    ordinal = exact_ordinal(p.dob)
    own_dates = [] if ordinal is None else [hash((_DATE, k, ordinal)) for k in names]
    return docs, docs + _address_keys(p, names) + own_pairs + own_dates, (names, name_pairs, own_pairs, own_dates,
                                                                          ordinal)


def _name_routes(p: Prepared, cfg: ResolveConfig, names: tuple[str, ...], name_pairs: list[tuple[str, str]],
                 own_pairs: list[int], own_dates: list[int], ordinal: int | None) -> tuple[list[int], list[int]]:
    """The name pairs x years route (own year first) and the name x exact dates route (own date first)."""
    if p.dob is None:
        years = []
    else:
        w = 2 if p.dob.precision == "estimated" else cfg.block_year_window
        years = [0, *(y for y in range(p.dob.year - w, p.dob.year + w + 1) if y != p.dob.year)]
    pairs = own_pairs + [hash((_PAIR, a, b, y)) for a, b in name_pairs for y in years]
    dates = []
    if own_dates:
        dates = own_dates + [hash((_DATE, k, o)) for k in names for o in _date_variants(p.dob) if o != ordinal]
    return pairs, dates


# --- the index -------------------------------------------------------------------------------------


_ADDRESS_CANDIDATES = 4  # travellers the address route adds once the name routes filled the candidates
_TWIN_PROFILES = 32  # profiles of a traveller the twin rule looks through for a shared document or address
_REJOIN_PROFILES = 8  # profiles of each side compared by the rejoin pass (bounds its cost)


class _Traveller:
    __slots__ = ("key", "slots", "founder", "anchor", "judged")

    def __init__(self, key: Any, founder: int) -> None:
        self.key = key
        self.founder = founder
        self.anchor = founder  # first profile with a full date of birth: what conflicts are checked against
        self.slots: list[int] = [founder]
        self.judged: set | None = None  # crossings of this traveller named in a cannot-link judgement


class TravellerIndex:
    """Crossings grouped into travellers; `attach` places one new crossing in a few milliseconds."""

    def __init__(self, config: ResolveConfig | None = None, judgements: Judgements | None = None) -> None:
        self.config = config or ResolveConfig()
        self.judgements = judgements or Judgements()
        self._profiles: list[Prepared | None] = []
        self._crossings: list[list] = []  # slot -> crossing ids
        self._traveller_of: list[int] = []  # slot -> traveller number
        self._travellers: dict[int, _Traveller] = {}
        self._tnum_of_key: dict[Any, int] = {}
        self._next_traveller = 0
        self._slot_of_crossing: dict[Any, int] = {}
        self._slot_of_profile: dict[tuple, int] = {}  # normalised content -> slot (unjudged records)
        self._buckets: dict[int, int | list[int]] = {}
        self._variant_ids: dict[tuple, int] = {}
        self._names_cache: dict[tuple, tuple] = {}
        self._token_cache: dict[str, tuple[str, ...]] = {}
        self._name_cache: dict[int, float] = {}  # the two variant ids (smaller << 32 | larger) -> name weight
        self._address_cache: dict[str, str | None] = {}
        self._cannot: dict[Any, set] = {}
        # Automatic merges since the last `take_joined`: {key that disappeared: key it joined}.
        self._joined: dict[Any, Any] = {}
        # Name frequencies over the profiles: the model's name weights are adjusted by them (namesakes).
        self.frequencies = NameFrequencies()
        self._match = replace(self.config.match, frequencies=self.frequencies)
        model = self._match.model
        self._name_max = max_name_weight(self._match)
        self._prior = model.prior_log_odds  # scaled to the population by `_rescale_prior`
        self._judged = self.judgements.crossings()
        for pair in self.judgements.cannot_link:
            self._add_cannot(*pair)

    # --- building ----------------------------------------------------------------------------------

    @classmethod
    def build(cls, records: Iterable[TravellerRecord], config: ResolveConfig | None = None,
              judgements: Judgements | None = None) -> TravellerIndex:
        """Resolve a batch: deduplicate, then place units most frequent first."""
        with gc_paused():
            return cls._build(records, config, judgements)

    @classmethod
    def _build(cls, records: Iterable[TravellerRecord], config: ResolveConfig | None,
               judgements: Judgements | None) -> TravellerIndex:
        index = cls(config, judgements)
        judged = index._judged
        groups: dict[tuple, list] = {}  # raw content -> crossing ids (unjudged)
        judged_records: dict[Any, TravellerRecord] = {}
        for r in records:
            if r.crossing_id in judged:
                judged_records[r.crossing_id] = r
            else:
                groups.setdefault(r.raw_key(), []).append(r)
        # Raw groups that normalise to the same profile (case, accents, separators) are one profile.
        profiles: dict[tuple, tuple[Prepared, list]] = {}
        for members in groups.values():
            p = index._prepare(members[0])
            sig = index._signature(p)
            ids = [r.crossing_id for r in members]
            entry = profiles.get(sig)
            if entry is None:
                profiles[sig] = (p, ids)
            else:
                entry[1].extend(ids)
        del groups
        units: list[tuple[list[tuple[tuple | None, Prepared, list]], int, Any]] = []
        for sig, (p, ids) in profiles.items():
            units.append(([(sig, p, ids)], len(ids), ids[0]))
        del profiles
        for component in index._must_components(judged_records):
            parts = [(None, index._prepare(judged_records[c]), [c]) for c in component]
            units.append((parts, len(component), component[0]))
        # Every profile counts in the name frequencies before any is placed (incremental attach adds
        # its own as it comes), so the first placements are weighed like the last.
        for parts, _, _ in units:
            for _, p, _ in parts:
                index.frequencies.add(p)
        index._rescale_prior(sum(n for _, n, _ in units))
        units.sort(key=lambda u: -u[1])  # stable: ties keep input order
        deferred: list[int] = []
        for parts, _, _ in units:
            index._place(parts, deferred)
        # A crossing the per-profile posterior alone would link is placed last, when every traveller
        # that could compete with its best candidate (its own person's, founded later) is known.
        for slot in deferred:
            t = index._travellers[index._traveller_of[slot]]
            if t.slots == [slot]:
                index._unfound(slot)
                index._place([], reuse=slot)
        if index.config.rejoin_odds is not None:
            index._rejoin_splits()
        index._joined.clear()  # a batch's keys are read from `assignment`, after every merge
        return index

    @classmethod
    def restore(cls, assigned: Iterable[tuple[TravellerRecord, Any]], config: ResolveConfig | None = None,
                judgements: Judgements | None = None) -> TravellerIndex:
        """Rebuild an index from a stored assignment (record, traveller key) without scoring anything.

        A restarted process must agree with the database (investigators' merges, earlier thresholds),
        not with a fresh resolution, which may group some crossings differently.
        """
        index = cls(config, judgements)
        members: dict[Any, list[int]] = {}
        slot_of: dict[tuple, int] = {}
        for r, key in assigned:
            p = index._prepare(r)
            sig = None if r.crossing_id in index._judged else index._signature(p)
            slot = slot_of.get((key, sig)) if sig is not None else None
            if slot is not None:
                index._crossings[slot].append(r.crossing_id)
                index._slot_of_crossing[r.crossing_id] = slot
                continue
            shared = sig is not None and sig in index._slot_of_profile
            slot = index._new_slot(p, [r.crossing_id], None if shared else sig)
            index.frequencies.add(p)
            if sig is not None:
                slot_of[(key, sig)] = slot
            members.setdefault(key, []).append(slot)
        index._rescale_prior()
        for key, slots in members.items():
            tnum = index._next_traveller
            index._next_traveller += 1
            t = _Traveller(key, slots[0])
            t.slots = slots
            index._travellers[tnum] = t
            index._tnum_of_key[key] = tnum
            for s in slots:
                index._traveller_of[s] = tnum
            index._set_anchor(t)
            index._refresh_judged(t)
            for s in slots:
                index._index_slot(s, tnum)
        return index

    def rekey(self, old: Any, new: Any) -> None:
        """Rename a traveller, e.g. when a store gives a newly founded traveller its own id."""
        if new in self._tnum_of_key:
            raise ValueError("new key is already a traveller's key")
        tnum = self._tnum_of_key.pop(old)
        self._travellers[tnum].key = new
        self._tnum_of_key[new] = tnum
        for gone, key in self._joined.items():
            if key == old:
                self._joined[gone] = new

    def take_joined(self) -> dict[Any, Any]:
        """{key of a traveller an attach merged into another: key of the traveller it is now part of}.

        An attach can join two travellers (`_place`), so a key an earlier attach returned may no longer
        exist: a caller storing a batch reads each crossing's key (`key_of`) after the whole batch, and
        moves the stored crossings of the travellers named here. The record is cleared.
        """
        out = {}
        for gone, key in self._joined.items():
            while key not in self._tnum_of_key and key in self._joined:
                key = self._joined[key]  # joined again later in the same batch
            out[gone] = key
        self._joined = {}
        return out

    def _must_components(self, judged_records: dict[Any, TravellerRecord]) -> list[list]:
        parent: dict[Any, Any] = {c: c for c in judged_records}

        def find(x):
            while parent[x] != x:
                parent[x] = parent[parent[x]]
                x = parent[x]
            return x

        for pair in self.judgements.must_link:
            a, b = tuple(pair) if len(pair) == 2 else (next(iter(pair)),) * 2
            if a in parent and b in parent:
                parent[find(a)] = find(b)
        comps: dict[Any, list] = {}
        for c in judged_records:
            comps.setdefault(find(c), []).append(c)
        for comp in comps.values():
            members = set(comp)
            for c in comp:
                if self._cannot.get(c, set()) & members:
                    raise JudgementConflict("a pair of crossings is judged both the same and different")
        return list(comps.values())

    # --- public API --------------------------------------------------------------------------------

    def __len__(self) -> int:
        return len(self._slot_of_crossing)

    @property
    def traveller_count(self) -> int:
        return len(self._travellers)

    def key_of(self, crossing_id: Any) -> Any:
        return self._travellers[self._traveller_of[self._slot_of_crossing[crossing_id]]].key

    def assignment(self) -> dict[Any, Any]:
        """{crossing id: traveller key} for every crossing."""
        keys = [t.key if t else None for t in self._traveller_list()]
        tof = self._traveller_of
        return {c: keys[tof[s]] for c, s in self._slot_of_crossing.items()}

    def members(self, key: Any) -> list:
        """Crossing ids of one traveller."""
        t = self._by_key(key)
        return [c for s in t.slots for c in self._crossings[s]]

    def attach(self, record: TravellerRecord) -> tuple[Any, float, str]:
        """Place a new crossing: (traveller key, score of the best link, explanation for an officer)."""
        if record.crossing_id in self._slot_of_crossing:
            raise ValueError("crossing already attached; detach it first")
        p = self._prepare(record)
        sig = None if record.crossing_id in self._judged else self._signature(p)
        if sig is not None and sig in self._slot_of_profile:
            slot = self._slot_of_profile[sig]
            self._crossings[slot].append(record.crossing_id)
            self._slot_of_crossing[record.crossing_id] = slot
            return (self._travellers[self._traveller_of[slot]].key, 1.0,
                    "Same names, date of birth and documents as an earlier crossing of this traveller")
        self.frequencies.add(p)
        self._rescale_prior(len(self._slot_of_crossing) + 1)
        tnum, link_slot, score = self._place([(sig, p, [record.crossing_id])])
        key = self._travellers[tnum].key
        if link_slot is None:
            return key, score, "No earlier crossing matches: a new traveller"
        result = match_prepared(p, self._profiles[link_slot], self._match)
        return key, score, "; ".join(result.explanations[:5])

    def detach(self, crossing_id: Any) -> None:
        """Remove a crossing (deleted or corrected); a traveller left empty disappears."""
        slot = self._slot_of_crossing.pop(crossing_id)
        ids = self._crossings[slot]
        ids.remove(crossing_id)
        if ids:
            self._rescale_prior()
            return
        tnum = self._traveller_of[slot]
        t = self._travellers[tnum]
        t.slots.remove(slot)
        p = self._profiles[slot]
        self._profiles[slot] = None
        self.frequencies.remove(p)
        self._rescale_prior()
        sig = self._signature(p)
        if self._slot_of_profile.get(sig) == slot:
            del self._slot_of_profile[sig]
        for k in _index_keys(p, self.config.match.min_document_length):
            discard_slot(self._buckets, k, slot)
        if not t.slots:
            del self._travellers[tnum]
            del self._tnum_of_key[t.key]
            return
        if t.founder == slot:
            t.founder = t.slots[0]
        if t.anchor == slot:
            t.anchor = t.founder
            self._set_anchor(t)
        # The removed profile may have carried keys the others share with it: re-index them.
        for s in t.slots:
            self._index_slot(s, tnum)

    def merge(self, key_a: Any, key_b: Any) -> Any:
        """Investigator merge: one traveller from two, remembered as must-link judgements."""
        ta, tb = self._by_key(key_a), self._by_key(key_b)
        if ta is tb:
            return ta.key
        if not self._may_join(ta, tb):
            raise JudgementConflict("these travellers contain crossings judged to be different people")
        ca, cb = self._crossings[ta.founder][0], self._crossings[tb.founder][0]
        self.judgements.must_link.add(frozenset((ca, cb)))
        self._judged.update((ca, cb))
        return self._travellers[self._union(self._tnum_of_key[key_a], self._tnum_of_key[key_b])].key

    def split(self, key: Any, crossing_ids: Iterable[Any], new_key: Any = None) -> Any:
        """Investigator split: the given crossings become a traveller of their own, for good.

        Every moved crossing is judged different from every crossing left behind, so no later
        resolution joins them again.
        """
        t = self._by_key(key)
        moved = set(crossing_ids)
        members = set(self.members(key))
        if not moved or not moved < members:
            raise ValueError("split needs a non-empty proper subset of the traveller's crossings")
        stay = members - moved
        for a in moved:
            for b in stay:
                self.judgements.cannot_link.add(frozenset((a, b)))
                self._add_cannot(a, b)
        self._judged.update(members)
        tnum = self._tnum_of_key[key]
        # Crossings sharing a profile with the other side get a profile of their own.
        new_slots: list[int] = []
        for s in list(t.slots):
            ids = self._crossings[s]
            out = [c for c in ids if c in moved]
            if not out:
                continue
            if len(out) == len(ids):
                t.slots.remove(s)
                new_slots.append(s)
            else:
                self._crossings[s] = [c for c in ids if c not in moved]
                for c in out:
                    ns = self._new_slot(self._profiles[s], [c], None)
                    new_slots.append(ns)
        if t.founder not in t.slots:
            t.founder = t.slots[0]
        if t.anchor not in t.slots:
            t.anchor = t.founder
        self._set_anchor(t)
        nnum = self._next_traveller
        self._next_traveller += 1
        first = self._crossings[new_slots[0]][0]
        nt = _Traveller(first if new_key is None else new_key, new_slots[0])
        nt.slots = new_slots
        self._set_anchor(nt)
        if nt.key in self._tnum_of_key:
            raise ValueError("new_key is already a traveller's key")
        self._travellers[nnum] = nt
        self._tnum_of_key[nt.key] = nnum
        for s in new_slots:
            self._traveller_of[s] = nnum
        self._refresh_judged(t)
        self._refresh_judged(nt)
        for s in t.slots:
            self._index_slot(s, tnum)
        for s in new_slots:
            self._index_slot(s, nnum)
        return nt.key

    # --- internals ---------------------------------------------------------------------------------

    def _rescale_prior(self, crossings: int | None = None) -> None:
        """The prior for the crossings now resolved (`matching.prior_log_odds`): more crossings, more
        namesakes, a lower prior. Called whenever the crossings or the frequency table change; the
        model's population counts crossings too (profiles per person vary with the noise)."""
        n = len(self._slot_of_crossing) if crossings is None else crossings
        if n != self._match.population:
            self._match = replace(self._match, population=n)
        self._prior = prior_log_odds(self._match)

    def _traveller_list(self) -> list[_Traveller | None]:
        out: list[_Traveller | None] = [None] * self._next_traveller
        for n, t in self._travellers.items():
            out[n] = t
        return out

    def _by_key(self, key: Any) -> _Traveller:
        return self._travellers[self._tnum_of_key[key]]

    def _prepare(self, r: TravellerRecord) -> Prepared:
        """What the engine's `prepare(r.identity())` returns, memoised per name string.

        A million crossings repeat a few tens of thousands of surnames and given names; normalising
        each string once is most of the resolve time saved. A record has no aliases, which keeps this
        equal to `prepare` (tests/unit/test_resolve.py checks that it is).
        """
        cache = self._token_cache
        sur = cache.get(r.surname)
        if sur is None:
            sur = cache[r.surname] = tuple(canonical(t) for t in name_tokens(r.surname))
        given = cache.get(r.given_names)
        if given is None:
            given = cache[r.given_names] = tuple(canonical(t) for t in name_tokens(r.given_names))
        variants = self._names_cache.get((sur, given))
        if variants is None:
            variants = self._names_cache[(sur, given)] = ((sur, given),) if sur or given else ()
        vids = self._variant_ids
        vid = vids.setdefault(variants, len(vids))
        docs: tuple = ()
        if len(r.documents) == 1:  # most records (the general case below, without its generator)
            x = self._document(r.documents[0])
            docs = (x,) if x[0] else ()
        elif r.documents:
            docs = tuple(x for x in map(self._document, r.documents) if x[0])  # as prepare(): empty numbers dropped
        sex = r.sex if r.sex in ("M", "F") else None  # as prepare(): "X" and unknown do not discriminate
        address = None
        if r.address:
            address = self._address_cache.get(r.address, "")
            if address == "":
                address = self._address_cache[r.address] = normalize_address(r.address) or None
        return Prepared(r.crossing_id, variants, r.dob, sex, (r.nationality or "").upper() or None, docs, address,
                        vid)

    @staticmethod
    def _document(d: Document) -> tuple:
        # As prepare(): (normalised number, OCR key or the number itself, country, type).
        n = normalize_document(d.number)
        k = ocr_key_of_normalized(n)
        return (n, n if k == n else k, (d.country or "").upper() or None, (d.type or "").upper() or None)

    def _signature(self, p: Prepared) -> tuple:
        return (p.variants, p.dob, p.sex, p.nationality, p.documents, p.address)

    def _add_cannot(self, a: Any, b: Any) -> None:
        self._cannot.setdefault(a, set()).add(b)
        self._cannot.setdefault(b, set()).add(a)

    def _refresh_judged(self, t: _Traveller) -> None:
        judged = {c for s in t.slots for c in self._crossings[s] if c in self._cannot}
        t.judged = judged or None

    def _may_join(self, ta: _Traveller, tb: _Traveller, extra: Iterable = ()) -> bool:
        """No crossing of one side is judged different from a crossing of the other."""
        a_judged = set(ta.judged or ()) | {c for c in extra if c in self._cannot}
        if not a_judged or not tb.judged:
            return True
        return not any(self._cannot[c] & tb.judged for c in a_judged)

    def _new_slot(self, p: Prepared, ids: list, sig: tuple | None) -> int:
        slot = len(self._profiles)
        self._profiles.append(p)
        self._crossings.append(ids)
        self._traveller_of.append(-1)
        for c in ids:
            self._slot_of_crossing[c] = slot
        if sig is not None:
            self._slot_of_profile[sig] = slot
        return slot

    def _index_slot(self, slot: int, tnum: int, keys: list[int] | None = None) -> None:
        """File a profile under its keys, skipping keys a live profile of its traveller already holds."""
        buckets, tof, profiles = self._buckets, self._traveller_of, self._profiles
        if keys is None:
            keys = _index_keys(profiles[slot], self.config.match.min_document_length)
        for k in keys:
            cur = buckets.get(k)
            if cur is None:
                buckets[k] = slot
            elif isinstance(cur, list):
                if slot not in cur and not any(tof[s] == tnum and profiles[s] is not None for s in cur):
                    cur.append(slot)
            elif cur != slot and (tof[cur] != tnum or profiles[cur] is None):
                buckets[k] = [cur, slot]

    def _name_weight(self, p: Prepared, c: Prepared) -> float:
        """Name weight (frequency adjustment included), memoised per pair of spellings.

        The adjustment reads the frequency table as it was when the pair was first compared; in a batch
        the table is complete before any comparison, and an attach changes it by one profile.
        """
        a, b = p.vid, c.vid
        if a is None or b is None:  # prepared elsewhere (`prepare`), not by this index
            vid = self._variant_ids
            a = vid.setdefault(p.variants, len(vid))
            b = vid.setdefault(c.variants, len(vid))
        key = a << 32 | b if a <= b else b << 32 | a
        hit = self._name_cache.get(key)
        if hit is None:
            hit = name_weight(compare_names(p, c, self._match), self._match)
            if len(self._name_cache) >= self.config.name_cache_size:
                self._name_cache.clear()
            self._name_cache[key] = hit
        return hit

    def _score(self, p: Prepared, c: Prepared, floor: float) -> tuple[float, bool, bool]:
        """(match probability, documents agree, hard date-of-birth rule applies).

        The names (the costly feature, memoised) are compared only when they can still lift the
        probability to `floor`; a pair left under it gets a probability under `floor`, not its exact one.
        """
        cfg = self._match
        w, doc, dob = partial_weight(p, c, cfg)
        doc_agree = doc == "exact" or doc == "near"
        rule = dob == "disagree" and dob_rule_applies(p, c, dob, doc)
        need = _log_odds(floor) - self._prior  # _log_odds is memoised: few distinct floors
        if w + self._name_max < need or (rule and cfg.dob_rule_cap < floor):
            return min(_probability(self._prior + w), cfg.dob_rule_cap if rule else 1.0, floor * 0.999), \
                doc_agree, rule
        p_ = _probability(self._prior + w + self._name_weight(p, c))
        return (min(p_, cfg.dob_rule_cap) if rule else p_), doc_agree, rule

    def _conflicts(self, p: Prepared, q: Prepared) -> bool:
        """Strong evidence of two people, whatever the rest says: the engine's hard date-of-birth rule
        (full dates that differ by more than a typo, no document in common). A different document
        number is not a conflict: a person may hold several, and forgers change it first."""
        if p.dob is None or q.dob is None:
            return False
        dob = dob_level(p.dob, q.dob, self._match)
        if dob != "disagree":
            return False
        return dob_rule_applies(p, q, dob, _document_agreement(p, q, self._match))

    def _candidates(self, routes: Iterable[list[int]], seen: dict[int, int], cap: int = 0) -> dict[int, int]:
        """Travellers (with a representative profile) found under the given keys, up to `cap`
        (max_candidates unless given)."""
        buckets, tof, profiles = self._buckets, self._traveller_of, self._profiles
        cap = cap or self.config.max_candidates
        for route in routes:
            for k in route:
                cur = buckets.get(k)
                if cur is None:
                    continue
                for s in (cur if isinstance(cur, list) else (cur,)):
                    t = tof[s]
                    if t not in seen and t >= 0 and profiles[s] is not None:
                        seen[t] = s
                        if len(seen) >= cap:
                            return seen
        return seen

    def _probe_pairs(self, p: Prepared, pairs: list[int], seen: dict[int, int]) -> bool:
        """Add the travellers the name pairs x years route finds; True if the candidates are complete.

        Complete: every traveller the route reaches was found (fewer than `max_candidates`), or p has a
        full date of birth (the date rule keeps the namesakes left unscored apart), or p knows only its
        year and every namesake of that very year was found: those left unscored were born a year
        before or after (or never gave a date), 5 to 9 bits under a namesake of the same year in the
        date of birth, too little to change the posterior (module docstring, 4).
        """
        cap = self.config.max_candidates
        own = len(pairs) if p.dob is None else _own_pair_count(p)  # the first `own` keys: own year
        self._candidates((pairs[:own],), seen)
        same_year = len(seen) < cap
        if same_year:
            self._candidates((pairs[own:],), seen)
        if len(seen) < cap or exact_ordinal(p.dob) is not None:
            return True
        return same_year and self.config.year_complete and p.dob is not None and p.dob.precision != "estimated"

    def _place(self, parts: list[tuple[tuple | None, Prepared, list]], deferred: list[int] | None = None,
               reuse: int | None = None) -> tuple[int, int | None, float]:
        """Attach a unit (one profile, or a must-linked group) to a traveller or found a new one.

        A unit the per-profile posterior alone would link founds a traveller for now; a batch passes
        `deferred`, where its slot is listed, and places it again at the end (`reuse`), the only
        placement that takes such a link. An attach (neither) keeps the pair rule's answer.
        """
        cfg = self.config
        if reuse is None:
            slots = [self._new_slot(p, ids, sig) for sig, p, ids in parts]  # traveller -1 until placed
            unit_ids = [c for _, _, ids in parts for c in ids]
        else:
            slots, unit_ids = [reuse], list(self._crossings[reuse])
        scored: dict[int, tuple[float, int, bool]] = {}
        floor = cfg.weak_link_threshold
        # Under the weak floor, a candidate can still be linked by the per-profile posterior (a batch
        # only); the scoring floor is the least pair probability that can reach the link threshold so.
        batch = deferred is not None or reuse is not None
        low_floor = min(floor, _rescue_floor(cfg)) if batch and len(unit_ids) == 1 else floor
        complete = True  # every traveller the routes reach was scored, or those left differ on a full date
        low: dict[int, tuple[float, int]] = {}  # candidates in [low_floor, floor)
        seen: dict[int, int] = {}
        store: dict[int, list[int]] = {}
        for slot in slots:
            p = self._profiles[slot]
            docs, store[slot], own = _own_keys(p, cfg)
            seen, settled = self._document_route(p, docs, low_floor, scored, low)
            if settled:
                continue  # a document and the rest agree with one traveller: the name routes add nothing
            self._names_needed(slot)
            done = set(seen)
            pairs, dates = _name_routes(p, cfg, *own)
            # Exact dates before name pairs x years: see the module docstring (blocking).
            self._candidates((dates,), seen)
            complete = len(seen) < cfg.max_candidates
            if complete:  # (a full candidate set stops the probe, as one call over both routes would)
                complete = self._probe_pairs(p, pairs, seen)
            if len(seen) >= cfg.max_candidates and p.address:
                # The name routes stopped at namesakes: the address route may still reach a traveller
                # from the same home (a mistyped or missing document), a few candidates more.
                self._candidates((_address_keys(p),), seen, len(seen) + _ADDRESS_CANDIDATES)
            for tnum, rep in seen.items():
                if tnum in done:
                    continue
                s, doc_agree, _ = self._score(p, self._profiles[rep], low_floor)
                if s >= floor and (tnum not in scored or s > scored[tnum][0]):
                    scored[tnum] = (s, rep, doc_agree)
                elif s >= low_floor:
                    low[tnum] = (s, rep)
        ranked = sorted(scored.items(), key=lambda kv: (-kv[1][0], kv[0]))
        unit = _Traveller(None, slots[0])
        unit.judged = {c for c in unit_ids if c in self._cannot} or None
        allowed = []
        home = self._home(slots) if cfg.twin_rule else None
        for tnum, (s, rep, doc_agree) in ranked:
            t = self._travellers[tnum]
            if not self._may_join(unit, t):
                continue
            anchor = self._profiles[t.anchor]
            # A must-linked unit is one person by judgement: it conflicts only if every part does.
            if all(self._conflicts(self._profiles[sl], anchor) for sl in slots):
                continue
            if home is not None and not doc_agree and self._twin(home, t):
                continue
            allowed.append((tnum, s, rep, doc_agree))
        if low_floor < floor and complete and (not allowed or allowed[0][1] < cfg.link_threshold):
            rescue = self._profile_posterior(unit, self._profiles[slots[0]], seen, scored, low)
            if rescue is not None and rescue[1] >= cfg.link_threshold:
                if reuse is not None:
                    allowed = [rescue]
                elif deferred is not None:
                    deferred.append(slots[0])
                    return self._found(slots, unit_ids, store), None, 0.0
        if not allowed:
            return self._found(slots, unit_ids, store), None, 0.0
        best, best_s, best_rep, best_doc = allowed[0]
        if best_s < cfg.link_threshold and len(allowed) > 1:
            # A weak link is taken only when it is the one traveller in reach.
            return self._found(slots, unit_ids, store), None, best_s
        # A second traveller fitting as well is the same person split earlier, or a namesake.
        join = [best]
        for tnum, s, _rep, doc_agree in allowed[1:]:
            if s < best_s - cfg.ambiguity_margin and not (doc_agree and s >= cfg.merge_threshold):
                break
            if s >= cfg.merge_threshold and best_s >= cfg.merge_threshold and self._founders_agree(best, tnum):
                join.append(tnum)
            elif not best_doc and len(join) == 1:
                return self._found(slots, unit_ids, store), None, best_s
        for s in slots:
            self._traveller_of[s] = best
        t = self._travellers[best]
        t.slots.extend(slots)
        self._set_anchor(t)
        if unit.judged:
            t.judged = (t.judged or set()) | unit.judged
        for s in slots:
            self._index_slot(s, best, store[s])
        for other in join[1:]:
            if self._may_join(self._travellers[best], self._travellers[other]):
                key_a, key_b = self._travellers[best].key, self._travellers[other].key
                best = self._union(best, other)
                kept = self._travellers[best].key
                self._joined[key_b if kept == key_a else key_a] = kept
        return best, best_rep, best_s

    def _document_route(self, p: Prepared, docs: list[int], low_floor: float,
                        scored: dict[int, tuple[float, int, bool]],
                        low: dict[int, tuple[float, int]]) -> tuple[dict[int, int], bool]:
        """Score the travellers the profile's documents reach; (them, settled). Settled: one traveller, and the
        document and the rest agree with it strongly, so `_place` reads no name route."""
        cfg = self.config
        floor = cfg.weak_link_threshold
        seen = self._candidates((docs,), {})
        strong = False
        for tnum, rep in seen.items():
            s, doc_agree, _ = self._score(p, self._profiles[rep], low_floor)
            if s >= floor and (tnum not in scored or s > scored[tnum][0]):
                scored[tnum] = (s, rep, doc_agree)
                strong = strong or (doc_agree and s >= cfg.merge_threshold)
            elif s >= low_floor:
                low[tnum] = (s, rep)
        return seen, strong and len(seen) == 1

    def settled_by_documents(self, record: TravellerRecord) -> bool:
        """Whether `attach(record)` now would place it by its documents alone (or as a profile already
        indexed), reading no name route: then an index restored from the database needs only the travellers
        its documents reach (`screening.online`)."""
        p = self._prepare(record)
        if record.crossing_id not in self._judged and self._signature(p) in self._slot_of_profile:
            return True
        docs = _own_keys(p, self.config)[0]
        return bool(docs) and self._document_route(p, docs, self.config.weak_link_threshold, {}, {})[1]

    def _names_needed(self, slot: int) -> None:
        """Called before a profile's name routes are read: an index restored with part of the candidates
        (`screening.online`) checks that they include the travellers those routes reach."""

    def _home(self, slots: list[int]) -> Prepared | None:
        """The unit's profile if it is a usual identity of its own: one profile, repeated on two or more
        crossings, with a document and an address (what the twin rule weighs); else None."""
        if len(slots) != 1 or len(self._crossings[slots[0]]) < 2:
            return None
        p = self._profiles[slots[0]]
        return p if p.documents and p.address else None

    def _shares(self, p: Prepared, q: Prepared) -> bool:
        """p and q share a document (exact or near) or an address (exact, near or in part)."""
        cfg = self._match
        if p.address and q.address and address_level(p.address, q.address, cfg) != "disagree":
            return True
        return bool(p.documents and q.documents and document_level(p, q, cfg)[0] in ("exact", "near"))

    def _twin(self, p: Prepared, t: _Traveller) -> bool:
        """The twin rule: no profile of traveller t (the first `_TWIN_PROFILES`) shares a document (exact
        or near) or an address (exact, near or in part) with p, a usual identity of its own (`_home`):
        what p shares with t is the name and date of birth a namesake has too."""
        profiles = self._profiles
        seen = 0
        for s in t.slots:
            q = profiles[s]
            if q is None:
                continue
            if self._shares(p, q):
                return False
            seen += 1
            if seen >= _TWIN_PROFILES:
                break
        return True

    def _profile_posterior(self, unit: _Traveller, p: Prepared, seen: dict[int, int],
                           scored: dict[int, tuple[float, int, bool]],
                           low: dict[int, tuple[float, int]]) -> tuple[int, float, int, bool] | None:
        """The best candidate traveller and its per-profile posterior (linked at `link_threshold`).

        A pair's probability weighs one candidate against the whole population's prior; here the best
        candidate is weighed against every other traveller the routes found for this profile and
        against "someone not found" (`new_person_odds`): posterior = O_best / (sum of O_j + that).
        Namesakes that fit as well share the posterior, so none is linked (as the ambiguity rule says).
        The caller asks only for a unit of one crossing whose candidate set is complete (`_place`).
        Returns (traveller, posterior, representative, documents agree) or None.
        """
        cfg = self.config
        best = None
        for tnum, (s, rep, *_rest) in (*scored.items(), *low.items()):
            if best is None or (s, -tnum) > (best[1], -best[0]):
                best = (tnum, s, rep)
        if best is None:
            return None
        tnum, best_s, rep = best
        t = self._travellers[tnum]
        # The hard date-of-birth rule and judgements are vetoes here as everywhere.
        if not self._may_join(unit, t) or self._conflicts(p, self._profiles[t.anchor]):
            return None
        others = []
        for other, orep in seen.items():
            s = best_s if other == tnum else self._score(p, self._profiles[orep], 0.0)[0]
            if s >= 1.0:
                return None
            if other != tnum:
                others.append(log2_odds(s))
        posterior = share_posterior(log2_odds(best_s), others, cfg.new_person_odds)
        doc = _document_agreement(p, self._profiles[rep], self._match)
        return tnum, posterior, rep, doc in ("exact", "near")

    def _rejoin_splits(self) -> None:
        """Last batch pass: join a traveller that has no home of its own to the one traveller it fits.

        A second or forged document with a new address founds a traveller of its own, and later
        crossings with the same document join it there, not the person's: the founders' rule then
        keeps the two apart. Such a traveller is weighed as one: its best pair with each candidate
        traveller (profiles x profiles, first `_REJOIN_PROFILES` of each), the best candidate against
        all the others plus `rejoin_odds` ("a namesake not found"), joined at `link_threshold`.
        Only a traveller whose profiles are each on one crossing and which never gave the same address
        twice: a namesake who is another person repeats his own identity and home (in the tuning runs,
        travellers with a repeated profile or address were wrongly joined as often as rightly), the
        date-of-birth rule and judgements stay vetoes, and the smaller traveller joins the larger.
        A traveller known only by a year of birth is weighed too, when its candidates (name pairs x
        years) are all scored: at 10^6 heavy namesakes the 3 % of persons whose full date was never
        known held a third of the missed pairs (docs/performance.md, s10a).
        """
        cfg = self.config
        profiles, crossings = self._profiles, self._crossings
        order = sorted(self._travellers, key=lambda n: len(self._travellers[n].slots))
        for tnum in order:
            t = self._travellers.get(tnum)
            if t is None or any(len(crossings[s]) != 1 for s in t.slots):
                continue
            live = [profiles[s] for s in t.slots if profiles[s] is not None]
            addresses = [q.address for q in live if q.address]
            if len(set(addresses)) < len(addresses) or not live:
                continue
            mine = live[:_REJOIN_PROFILES]
            anchor = profiles[t.anchor]
            if anchor is None:
                continue
            docs, pairs, dates, _ = _probe_keys(anchor, cfg)
            seen = self._candidates((docs,), {})
            self._candidates((dates,), seen)
            if len(seen) >= cfg.max_candidates:
                continue  # candidates left unscored: the posterior would be too high
            if not self._probe_pairs(anchor, pairs, seen):
                continue  # namesakes of that year left unscored, and no full date keeps them apart
            seen.pop(tnum, None)
            best, best_s, scores = None, 0.0, []
            for other in seen:
                c = self._travellers[other]
                c_anchor = profiles[c.anchor]
                theirs = [profiles[s] for s in c.slots if profiles[s] is not None][:_REJOIN_PROFILES]
                s = max((self._score(q, r, 0.0)[0] for q in mine if not self._conflicts(q, c_anchor)
                         for r in theirs), default=0.0)
                scores.append(s)
                if s > best_s:
                    best, best_s = other, s
            if best is None:
                continue
            c = self._travellers[best]
            if self._crossing_count(c) < self._crossing_count(t) or not self._may_join(t, c) \
                    or self._conflicts(anchor, profiles[c.anchor]):
                continue
            others = list(map(log2_odds, scores))
            others.remove(log2_odds(best_s))
            if share_posterior(log2_odds(best_s), others, cfg.rejoin_odds) >= cfg.link_threshold:
                self._union(best, tnum)

    def _crossing_count(self, t: _Traveller) -> int:
        return sum(len(self._crossings[s]) for s in t.slots)

    def _unfound(self, slot: int) -> None:
        """Undo `_found` for a traveller of this one slot (its slot stays, unplaced)."""
        tnum = self._traveller_of[slot]
        t = self._travellers.pop(tnum)
        del self._tnum_of_key[t.key]
        for k in _index_keys(self._profiles[slot], self.config.match.min_document_length):
            discard_slot(self._buckets, k, slot)
        self._traveller_of[slot] = -1

    def _set_anchor(self, t: _Traveller) -> None:
        if exact_ordinal(self._profiles[t.anchor].dob) is None:
            t.anchor = next((s for s in t.slots if exact_ordinal(self._profiles[s].dob) is not None), t.founder)

    def _founders_agree(self, a: int, b: int) -> bool:
        fa, fb = self._profiles[self._travellers[a].anchor], self._profiles[self._travellers[b].anchor]
        if self._conflicts(fa, fb):
            return False
        if self.config.twin_rule:  # two usual identities of their own sharing no document nor address
            ha, hb = self._home([self._travellers[a].anchor]), self._home([self._travellers[b].anchor])
            if ha is not None and hb is not None and not self._shares(ha, hb):
                return False
        floor = self.config.weak_link_threshold
        return self._score(fa, fb, floor)[0] >= floor

    def _found(self, slots: list[int], unit_ids: list, store: dict[int, list[int]]) -> int:
        tnum = self._next_traveller
        self._next_traveller += 1
        t = _Traveller(unit_ids[0], slots[0])
        t.slots = list(slots)
        self._set_anchor(t)
        t.judged = {c for c in unit_ids if c in self._cannot} or None
        self._travellers[tnum] = t
        self._tnum_of_key[t.key] = tnum
        for s in slots:
            self._traveller_of[s] = tnum
        for s in slots:
            self._index_slot(s, tnum, store[s])
        return tnum

    def _union(self, a: int, b: int) -> int:
        ta, tb = self._travellers[a], self._travellers[b]
        if len(ta.slots) < len(tb.slots):
            a, b, ta, tb = b, a, tb, ta
        for s in tb.slots:
            self._traveller_of[s] = a
        ta.slots.extend(tb.slots)
        self._set_anchor(ta)
        if tb.judged:
            ta.judged = (ta.judged or set()) | tb.judged
        del self._travellers[b]
        del self._tnum_of_key[tb.key]
        return a


_log_odds = lru_cache(maxsize=64)(log2_odds)  # memoised: few distinct floors


def _rescue_floor(cfg: ResolveConfig) -> float:
    """Least pair probability that the per-profile posterior can lift to the link threshold (alone,
    against "someone not found"): O_best >= new_person_odds x link odds."""
    if cfg.new_person_odds >= 1.0:
        return cfg.link_threshold
    odds = cfg.new_person_odds * cfg.link_threshold / (1.0 - cfg.link_threshold)
    return odds / (1.0 + odds)


def _probability(log2_odds: float) -> float:
    if log2_odds >= 0:
        return 1.0 / (1.0 + 2.0 ** -log2_odds)
    odds = 2.0 ** log2_odds
    return odds / (1.0 + odds)


def _document_agreement(p: Prepared, q: Prepared, cfg: MatchConfig) -> str:
    return document_level(p, q, cfg)[0] if p.documents and q.documents else "missing"


def resolve(records: Iterable[TravellerRecord], config: ResolveConfig | None = None,
            judgements: Judgements | None = None) -> dict[Any, Any]:
    """Batch resolution: {crossing id: traveller key}; a key is the first crossing of its traveller.

    The cyclic garbage collector stays paused until the index is freed, not only during the build
    (`TravellerIndex.build`): the index's millions of acyclic objects are released by reference
    counting, and no collection scans them after the build (a tenth of the CPU time at 10^5).
    """
    with gc_paused():
        index = TravellerIndex._build(records, config, judgements)
        assignment = index.assignment()
        del index
        return assignment


def pairwise_metrics(truth: dict[Any, Any], predicted: dict[Any, Any]) -> dict[str, float]:
    """Pairwise precision/recall/F1 of "same traveller" from cluster-size combinatorics (no pair list).

    TP = sum over (true, predicted) cells of C(n, 2); predicted pairs = sum over predicted clusters of
    C(n, 2); true pairs likewise. Linear in the number of crossings.
    """
    from collections import Counter

    cells: Counter = Counter()
    pred_sizes: Counter = Counter()
    true_sizes: Counter = Counter()
    for c, t in truth.items():
        p = predicted[c]
        cells[(t, p)] += 1
        pred_sizes[p] += 1
        true_sizes[t] += 1
    tp = sum(n * (n - 1) // 2 for n in cells.values())
    pp = sum(n * (n - 1) // 2 for n in pred_sizes.values())
    tt = sum(n * (n - 1) // 2 for n in true_sizes.values())
    return pair_scores(tp, pp, tt)


def pair_scores(tp: int, pp: int, tt: int) -> dict[str, float]:
    """Precision, recall and F1 from counts of true-positive, predicted and true pairs (and the counts)."""
    precision = tp / pp if pp else 1.0
    recall = tp / tt if tt else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1, "true_pairs": tt, "predicted_pairs": pp,
            "true_positive_pairs": tp}
