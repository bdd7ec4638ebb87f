"""Pure in-memory candidate index (blocking) over persons of interest.

Scoring every person of interest for every crossing costs ~375 ms at 10^6 persons, so the index first
picks a few dozen plausible candidates with dictionary lookups and only those are scored in full.
Routes to a candidate (a true match needs only one of them to survive the noise of a crossing):

1. Document: the OCR-tolerant key of any document number.
2. Name and year: a phonetic key of each name token combined with the year of birth, looked up for
   the probe's year +-1. Common names make these buckets large (every Mokoena born in 1985), so a
   candidate must share at least two distinct name keys with the probe.
3. Name and full date: persons sharing at least one name key in the year window (route 2's counts)
   and born on the probe's exact date (also with day and month swapped, and +-1 year). This rescues
   probes where only one name token survived (an initial, a typo) without scoring a whole
   common-name bucket.

Scoring: before the full (Python, rapidfuzz) score, each candidate gets a cheap upper bound from
date of birth, sex, nationality and, if needed, documents, assuming a perfect name; a candidate whose
bound is under the threshold cannot be flagged and is skipped (exact: no flag is lost). Candidates with
the same names (namesakes in a common-name bucket) share one name computation per probe.

Name frequencies: the index keeps a `NameFrequencies` table of its persons and screens with a config
that carries it, so a rare name agreeing counts for more than a common one (see
`matching.namesake_feature`).

Memory: identities are kept as `Prepared` (slots, interned tokens and dates); buckets hold shared int
slots; single-slot buckets hold the bare int.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Hashable, Iterable
from dataclasses import replace
from datetime import date
from itertools import chain
from typing import Any

from screening.engine.matching import (
    DEFAULT,
    Identity,
    MatchConfig,
    MatchResult,
    NameComparison,
    NameFrequencies,
    Prepared,
    address_level,
    compare_names,
    dob_level,
    dob_rule_applies,
    document_level,
    home_capped,
    home_rule_applies,
    linked_hit,
    log2_odds,
    match_prepared,
    max_name_weight,
    name_weight,
    prepare,
    prior_log_odds,
    share_among,
)
from screening.engine.normalize import PartialDate, phonetic_key
from screening.engine.postings import add_slot, discard_slot, exact_ordinal, extend_slots

__all__ = ["CandidateIndex"]

_EMPTY: tuple[int, ...] = ()
_RIVAL_RANGE = math.log2(1e4)  # bits under the weakest hit's odds from which a rival is scored
_UNKNOWN_YEAR = 0


def _name_keys(p: Prepared) -> set[str]:
    # Initials ("t") are too unselective to block on; the other tokens and the date carry them.
    return {phonetic_key(t) for sur, given in p.variants for t in chain(sur, given) if len(t) > 1}


def _date_variants(dob: PartialDate) -> list[int]:
    """Exact-date keys a probe looks up: as given, day/month swapped, year +-1."""
    out = []
    for y, m, d in ((dob.year, dob.month, dob.day), (dob.year, dob.day, dob.month),
                    (dob.year - 1, dob.month, dob.day), (dob.year + 1, dob.month, dob.day)):
        try:
            candidate = date(y, m, d)
        except ValueError:
            continue
        if (m, d) != (1, 1):
            out.append(candidate.toordinal())
    return out


class CandidateIndex:
    """Blocking index: `candidates()` is a handful of dict lookups, `screen()` scores only those."""

    def __init__(self, config: MatchConfig = DEFAULT, *, weigh_names: bool = True,
                 frequencies: NameFrequencies | None = None) -> None:
        """`weigh_names=False` screens without name-frequency weighting (the pure field features);
        `frequencies` weighs by a table kept elsewhere (the stored one, for a small index read from the
        database), which the index then does not count its own identities into."""
        self._counts_own = frequencies is None
        self.frequencies = NameFrequencies() if frequencies is None else frequencies
        self.full_scores = 0  # candidates scored in full since creation (for benchmarks)
        self.config = replace(config, frequencies=self.frequencies if weigh_names else None)
        self._slots: list[Prepared | None] = []
        self._slot_of: dict[Any, int] = {}
        self._free: list[int] = []
        self._name_year: dict[tuple[str, int], list[int]] = {}
        self._dates: dict[int, int | list[int]] = {}  # exact date of birth (ordinal) -> slot(s)
        # One copy of each name token, token tuple, date, country and document type (see prepare()).
        self._shared: dict = {}
        self._documents: dict[str, int | list[int]] = {}  # OCR key -> slot(s)
        self._min_year = 9999
        self._max_year = 0

    @classmethod
    def build(cls, identities: Iterable[Identity], config: MatchConfig = DEFAULT, *,
              weigh_names: bool = True) -> CandidateIndex:
        index = cls(config, weigh_names=weigh_names)
        for identity in identities:
            index.add(identity)
        return index

    def __len__(self) -> int:
        return len(self._slot_of)

    def __contains__(self, id: Any) -> bool:  # noqa: A002
        return id in self._slot_of

    def name_tokens(self) -> set[str]:
        """The name tokens of the indexed identities (what a frequency table must count for them)."""
        out: set[str] = set()
        for p in self._slots:
            if p is not None:
                out |= NameFrequencies.tokens_of(p)
        return out

    # --- maintenance -------------------------------------------------------------------------------

    def _keys(self, p: Prepared) -> tuple[set[str], int, int | None, set[str]]:
        year = p.dob.year if p.dob is not None else _UNKNOWN_YEAR
        return _name_keys(p), year, exact_ordinal(p.dob), {d[1] for d in p.documents}

    def add(self, identity: Identity) -> None:
        """Index an identity; an id already present is replaced (same as `update`)."""
        if identity.id in self._slot_of:
            self.remove(identity.id)
        p = prepare(identity, shared=self._shared)
        if p.dob is not None:
            p.dob = self._shared.setdefault(p.dob, p.dob)
        slot = self._free.pop() if self._free else len(self._slots)
        if slot == len(self._slots):
            self._slots.append(p)
        else:
            self._slots[slot] = p
        self._slot_of[identity.id] = slot
        if self._counts_own:
            self.frequencies.add(p)
        names, year, ordinal, docs = self._keys(p)
        if year != _UNKNOWN_YEAR:
            self._min_year = min(self._min_year, year)
            self._max_year = max(self._max_year, year)
        for k in names:
            bucket = self._name_year.get((k, year))
            if bucket is None:
                self._name_year[(k, year)] = [slot]
            else:
                bucket.append(slot)
        if ordinal is not None:
            add_slot(self._dates, ordinal, slot)
        for k in docs:
            add_slot(self._documents, k, slot)

    def remove(self, id: Any) -> None:  # noqa: A002
        """Forget an identity; unknown ids raise KeyError."""
        slot = self._slot_of.pop(id)
        p = self._slots[slot]
        assert p is not None
        if self._counts_own:
            self.frequencies.remove(p)
        names, year, ordinal, docs = self._keys(p)
        for k in names:
            bucket = self._name_year.get((k, year))
            if bucket is not None:
                bucket.remove(slot)
                if not bucket:
                    del self._name_year[(k, year)]
        if ordinal is not None:
            discard_slot(self._dates, ordinal, slot)
        for k in docs:
            discard_slot(self._documents, k, slot)
        self._slots[slot] = None
        self._free.append(slot)

    def update(self, identity: Identity) -> None:
        """Replace the indexed version of an identity (e.g. a new alias or document)."""
        self.add(identity)

    # --- queries -----------------------------------------------------------------------------------

    def _candidate_slots(self, p: Prepared) -> set[int]:
        cfg = self.config
        out: set[int] = set()
        for d in p.documents:
            extend_slots(out, self._documents.get(d[1]))
        keys = _name_keys(p)
        if not keys:
            return out
        if p.dob is None:
            years = [_UNKNOWN_YEAR, *range(self._min_year, self._max_year + 1)]
        else:
            w = cfg.block_estimated_year_window if p.dob.precision == "estimated" else cfg.block_year_window
            years = [_UNKNOWN_YEAR, *range(p.dob.year - w, p.dob.year + w + 1)]
        get = self._name_year.get
        # One set per name key over the year window (a slot sits in one year bucket per key). Set
        # building and intersection run in C; counting shared keys with a Counter cost twice as much.
        key_sets = [set(chain.from_iterable([b for y in years if (b := get((k, y)))])) for k in keys]
        if len(key_sets) >= 2:
            by_size = sorted(key_sets, key=len)
            for i, a in enumerate(by_size):
                for b in by_size[i + 1:]:
                    out |= a & b  # at least two distinct shared keys
            # A rare name shared alone still routes (a typo may have broken the other key): its
            # buckets are small by definition, so this costs little and rescues year-only probes.
            for ks in by_size:
                if len(ks) > cfg.max_rare_key_pool:
                    break
                out |= ks
        elif len(key_sets[0]) <= cfg.max_single_key_pool:
            out |= key_sets[0]
        ordinal = exact_ordinal(p.dob)
        if ordinal is not None:
            born_then: set[int] = set()
            for o in _date_variants(p.dob):
                extend_slots(born_then, self._dates.get(o))
            for ks in key_sets:
                out |= born_then & ks
        return out

    def candidates(self, probe: Identity) -> set[Any]:
        """Ids worth scoring in full for this probe (a superset of the likely matches)."""
        slots = self._slots
        return {slots[s].id for s in self._candidate_slots(prepare(probe))}

    def screen(self, probe: Identity, threshold: float | None = None, limit: int = 20, *,
               person_of: Callable[[Any], Hashable] | None = None) -> list[tuple[Any, MatchResult]]:
        """Score the candidates and return those whose pair reaches the threshold, best first.

        The score returned is the probability shared among the persons found (`share_among`): every
        candidate from `compete_floor` up weighs against the others, so two namesakes that fit as well
        each get about half. `person_of` maps an indexed id to its person (a crossing to its
        traveller) so that one person's records do not compete; by default each id is one person.
        The threshold applies to the pair's own probability (`pair_score`), as a flag's always has;
        with `person_of`, a candidate under the flag threshold whose person has a record sure on its
        own (`MatchConfig.person_anchor`) comes with it (`_by_traveller`, `MatchResult.via`); a namesake's
        own home keeps him out (`home_rule_applies`).

        Exact pruning: a candidate is skipped only when an upper bound of its match probability (a
        perfect name at the largest frequency bonus, the best document and address levels) is under
        the floor; the bound tightens as features are computed, costliest (the names) last.
        """
        cfg = self.config
        threshold = cfg.flag_threshold if threshold is None else threshold
        floor = min(threshold, cfg.compete_floor)
        p = prepare(probe)
        slots = self._slots
        model = cfg.model
        weights = model.weights
        w_dob, w_sex, w_nat, w_doc = (weights["date_of_birth"], weights["sex"], weights["nationality"],
                                      weights["document"])
        name_best = max_name_weight(cfg)
        doc_best, address_best = model.max_weight("document"), model.max_weight("address")
        prior = prior_log_odds(cfg)
        names: dict[Any, NameComparison] = {}

        def score(c: Prepared, least: float) -> MatchResult | None:
            """The pair's result if it reaches `floor`, or None (also when it cannot reach `least`:
            checked cheapest first)."""
            # Weight needed to reach it (a probability of 0 needs nothing).
            need = -math.inf if least <= 0.0 else (math.log2(least / (1.0 - least)) - prior
                                                   if least < 1.0 else math.inf)
            dob = dob_level(p.dob, c.dob, cfg)
            bound = name_best + w_dob[dob]
            if p.sex is not None and c.sex is not None:
                bound += w_sex["agree" if p.sex == c.sex else "disagree"]
            if p.nationality is not None and c.nationality is not None:
                bound += w_nat["agree" if p.nationality == c.nationality else "disagree"]
            if p.address and c.address:
                bound += address_best
            both_documents = bool(p.documents and c.documents)
            if bound + (doc_best if both_documents else 0.0) < need:
                return None
            doc = document_level(p, c, cfg)[0] if both_documents else "missing"
            bound += w_doc[doc]
            if bound < need:
                return None
            if dob == "disagree" and least > cfg.dob_rule_cap and dob_rule_applies(p, c, dob, doc):
                return None  # the hard rule caps this pair under `least`
            cmp = names.get(c.variants)
            if cmp is None:
                cmp = names[c.variants] = compare_names(p, c, cfg)
            if bound - name_best + name_weight(cmp, cfg) < need - 1e-9:
                return None
            self.full_scores += 1
            r = match_prepared(p, c, cfg, names=cmp)
            return r if r.score >= floor else None

        # Rivals under the threshold matter only when something is returned, and only if they can
        # weigh against the weakest hit: most probes (a crossing against persons of interest) have no
        # hit, and most hits are near certain, so the names of a common-name bucket are compared again
        # only for a hit that namesakes could share (a rival at 1/10^4 of its odds is left out).
        scored: list[tuple[Any, Hashable, MatchResult]] = []
        later: list[Prepared] = []
        for s in self._candidate_slots(p):
            c = slots[s]
            r = score(c, threshold)
            if r is not None:
                scored.append((c.id, c.id if person_of is None else person_of(c.id), r))
            else:
                later.append(c)
        weakest = min((log2_odds(r.score) if r.score < 1.0 else prior + r.weight
                       for _, _, r in scored if r.score >= threshold), default=None)
        if weakest is None:
            return []
        least = max(floor, 1.0 / (1.0 + 2.0 ** min(_RIVAL_RANGE - weakest, 1000.0)))
        if least < threshold:
            for c in later:
                r = score(c, least)
                if r is not None:
                    scored.append((c.id, c.id if person_of is None else person_of(c.id), r))
        hits = share_among(scored, cfg, threshold)
        if person_of is not None and cfg.person_anchor is not None:
            hits = self._by_traveller(p, hits, scored, later, person_of, threshold, names)
        hits.sort(key=lambda h: (-h[1].score, -h[1].pair_score))
        return hits[:limit]

    def _by_traveller(self, p: Prepared, hits: list[tuple[Any, MatchResult]],
                      scored: list[tuple[Any, Hashable, MatchResult]], later: list[Prepared],
                      person_of: Callable[[Any], Hashable], threshold: float,
                      names: dict[Any, NameComparison]) -> list[tuple[Any, MatchResult]]:
        """What the travellers found say beyond each pair: the weak crossings of the person, and namesakes'
        own homes.

        Pair by pair, a second document shown from a new address (names and date of birth agreeing)
        looks exactly like a namesake with his own document and home (docs/performance.md, session 10,
        s10b). Which one it is shows above the pair:

        - a candidate under the flag threshold whose traveller has an anchor, a crossing whose own pair
          reaches `MatchConfig.person_anchor`, is the person's: it is returned at the anchor's probability
          with a sentence saying so (`linked_hit`); its features stay its own;
        - a namesake has a home of his own: the home rule (`home_rule_applies`) keeps a crossing under the
          anchor level out of the flags (its probability capped at `home_rule_cap`, and said), and out of
          the crossings found through a traveller that merged him in. The hard rule on dates of birth
          keeps a crossing out of those too.
        """
        cfg = self.config
        anchor_at = max(threshold, cfg.person_anchor)
        shown = dict(hits)
        keys = {cid: key for cid, key, _ in scored}
        pairs = {cid: r.score for cid, _, r in scored}
        for c in later:
            keys.setdefault(c.id, person_of(c.id))
        anchors: dict[Hashable, tuple[Any, MatchResult]] = {}
        confirmed: set[tuple[Hashable, str]] = set()  # (traveller, address) of a crossing sure on its own
        homes: dict[tuple[Hashable, str], int] = {}  # (traveller, address) -> candidates recorded there
        slots, slot_of = self._slots, self._slot_of
        for cid, key in keys.items():
            c = slots[slot_of[cid]]
            pair = pairs.get(cid, 0.0)
            if c.address:
                homes[(key, c.address)] = homes.get((key, c.address), 0) + 1
            if pair >= anchor_at:
                if c.address:
                    confirmed.add((key, c.address))
                best = anchors.get(key)
                if best is None or pair > best[1].pair_score:
                    anchors[key] = (cid, shown[cid])

        def doc_of(c: Prepared) -> str:
            return document_level(p, c, cfg)[0] if p.documents and c.documents else "missing"

        def own_home(c: Prepared, key: Hashable, doc: str) -> int:
            """Crossings from this crossing's own home when the home rule applies, else 0. The home of a
            crossing sure on its own is the person's; without the traced person's address, only such a
            home tells a namesake's apart (in an anchored traveller)."""
            if not c.address or cfg.home_rule_cap is None or (not p.address and key not in anchors):
                return 0
            if any(k == key and address_level(a, c.address, cfg) in ("exact", "near") for k, a in confirmed):
                return 0
            n = homes.get((key, c.address), 0)
            return n if home_rule_applies(p, c, n, doc, cfg) else 0

        out: list[tuple[Any, MatchResult]] = []
        for cid, r in hits:
            key = keys[cid]
            c = slots[slot_of[cid]]
            doc = doc_of(c)
            n = own_home(c, key, doc) if r.pair_score < anchor_at else 0
            if n:
                capped = home_capped(r, n, cfg)
                if capped.pair_score >= threshold:
                    out.append((cid, capped))
            elif r.pair_score >= cfg.flag_threshold or key not in anchors:
                out.append((cid, r))
            elif not dob_rule_applies(p, c, dob_level(p.dob, c.dob, cfg), doc):
                out.append((cid, linked_hit(r, *anchors[key])))
            else:
                out.append((cid, r))
        if not anchors:
            return out
        kept = set(shown)
        for cid, key in keys.items():
            if cid in kept or key not in anchors:
                continue
            c = slots[slot_of[cid]]
            doc = doc_of(c)
            if dob_rule_applies(p, c, dob_level(p.dob, c.dob, cfg), doc) or own_home(c, key, doc):
                continue
            cmp = names.get(c.variants)
            if cmp is None:
                cmp = names[c.variants] = compare_names(p, c, cfg)
            self.full_scores += 1
            out.append((cid, linked_hit(match_prepared(p, c, cfg, names=cmp), *anchors[key])))
        return out
