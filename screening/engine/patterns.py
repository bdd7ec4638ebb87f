"""Pure trafficking-pattern rules over crossings already resolved to travellers.

Risk indicators, not identity matches: each rule reads the crossings of travellers (as `resolve`
grouped them) and returns `RiskFinding`s with the crossings that are its evidence and sentences an
officer can check. Every number a rule uses is a field of `PatternConfig`.

Who travels "with" whom:
- recorded together: the same travel group, or the same vehicle through the same post in the same
  direction within `together_minutes`;
- inferred together (`companions`): the same post, the same direction, within `together_minutes`,
  on at least `companion_min_times` occasions. One shared minute at Maseru Bridge is chance (it
  handles a crossing every minute or so at peak); the same two travellers side by side again and
  again is not.

Parent or guardian (rule a), as MIDAS registers minors: the minor's crossing records the accompanying
adult's relation (`GUARDIAN_RELATIONS`), the adult's document number, and whether a parental consent
letter was seen. In order of strength:
- a parent or legal guardian recorded, or the recorded guardian document found on an adult crossing
  with the minor (same group or vehicle, or the same post and direction within `together_minutes`):
  accompanied, no finding;
- a relative recorded: accompanied with a consent letter; without one a medium finding;
- "none" recorded (travelling without a parent or guardian): high, or low with a consent letter;
- nothing recorded: the old surname heuristic, as weaker evidence only. No group: high; no adult in
  the group: high; adults none of whom share a surname token (after the engine's normalisation, so
  "Mokoena"/"MOKOENA"/"Mokwena" agree): medium; an adult sharing the surname:
  `surname_guardian_severity` ("low" by default, "" for no finding). Basotho children often carry a
  parent's surname, but a trafficker may share a common surname by chance and a mother may carry
  another, so a shared surname asks the officer to record the guardian rather than clears the child.

Family and wards (rule b): a minor recorded as the adult's child or ward (parent or legal guardian,
with the adult's document, or the only adult of the group), or crossing with the parent or guardian
recorded for them (their document in the minor's group), or sharing the adult's surname in the same
recorded group, is family and not counted. Companions are counted once each, and only when they come
from at least `repeat_min_occasions` different occasions (groups, or crossings when no group): three
children on one trip are one family outing, not a pattern.

Ages use `normalize.age_on`, which takes the latest birthday the known precision allows, so a
traveller who may be a minor is treated as one.

Evidence sentences are `phrases.say` templates, so the flag page says them in the officer's language.

Long because the five rules share one context (recorded groups, inferred companions, the time index)
built once per evaluation; split apart, each rule would rebuild it or reach into another module's internals.

PURE: standard library and the screening engine only; no Flask, no SQLAlchemy.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from screening.engine.matching import DEFAULT, Identity, Prepared, name_feature, prepare, token_distance
from screening.engine.normalize import PartialDate, age_on, canonical, name_tokens, normalize_document, ocr_key, shift
from screening.engine.phrases import Phrase, say

__all__ = [
    "GUARDIAN_RELATIONS",
    "PARENTAL",
    "RULES",
    "CrossingFact",
    "PatternConfig",
    "RiskFinding",
    "companions",
    "document_label",
    "evaluate",
    "mask_document",
    "rule_frequent_minor_companions",
    "rule_many_identities",
    "rule_no_return",
    "rule_suspect_companion",
    "rule_unaccompanied_minor",
]

# How the accompanying adult is related to a minor, as recorded at the counter; None: not recorded.
GUARDIAN_RELATIONS = ("parent", "legal_guardian", "relative", "none")
PARENTAL = frozenset({"parent", "legal_guardian"})


@dataclass(frozen=True, slots=True)
class CrossingFact:
    """What the rules need to know about one crossing."""

    crossing_id: Hashable
    traveller: Hashable
    post: str
    direction: str  # "entry" | "exit"
    at: datetime
    group: Hashable | None = None  # recorded travel group
    vehicle: str | None = None  # registration number, as recorded
    dob: PartialDate | None = None
    sex: str | None = None
    surname: str = ""
    given_names: str = ""
    document: str = ""  # document number as recorded
    guardian_relation: str | None = None  # on a minor's crossing: one of GUARDIAN_RELATIONS, None if not recorded
    guardian_document: str = ""  # the accompanying adult's document number, as recorded
    consent: bool = False  # a parental consent letter was seen
    document_type: str | None = None  # "P" passport, "ID" national identity card, ... as recorded
    document_country: str | None = None  # issuing country of the document


@dataclass(frozen=True, slots=True)
class RiskFinding:
    rule: str
    travellers: tuple  # the traveller the finding is about first, then others involved
    crossings: tuple  # crossing ids that are the evidence
    evidence: tuple[str, ...]  # `Phrase`s: English text that an application can translate
    severity: str  # "low" | "medium" | "high"


@dataclass(frozen=True, slots=True)
class PatternConfig:
    adult_age: int = 18
    young_woman_max_age: int = 24  # "young women" for rule b: under 25
    young_max_age: int = 24  # "young person" for rule c
    together_minutes: float = 5.0
    companion_min_times: int = 2
    use_inferred_companions: bool = True
    # b) an adult with different minors or young women
    repeat_min_distinct: int = 3
    repeat_window_days: int = 90
    repeat_min_occasions: int = 2  # the companions come from at least this many different trips
    # a) severity when no guardian is recorded but an adult in the group shares the surname ("" = none)
    surname_guardian_severity: str = "low"
    # c) exited and not returned
    no_return_days: int = 30
    # d) several documents or name spellings
    identity_window_days: int = 90
    identity_min_documents: int = 3  # document numbers in the window, a renewal included
    identity_min_held: int = 2  # documents held at once: different types or countries, or used alternately
    identity_min_names: int = 3
    identity_same_name_score: float = 0.80  # engine name score at or above which two spellings are one name
    timezone: str = "Africa/Maseru"  # evidence sentences show local times


# --- helpers --------------------------------------------------------------------------------------


def _age(c: CrossingFact) -> int | None:
    return None if c.dob is None else age_on(c.dob, c.at.date())


def _surname_keys(c: CrossingFact) -> set[str]:
    return {canonical(t) for t in name_tokens(c.surname) if len(t) > 1}


def _is_minor(c: CrossingFact, cfg: PatternConfig) -> bool:
    a = _age(c)
    return a is not None and a < cfg.adult_age


def _is_adult(c: CrossingFact, cfg: PatternConfig) -> bool:
    a = _age(c)
    return a is not None and a >= cfg.adult_age


def _is_minor_or_young_woman(c: CrossingFact, cfg: PatternConfig) -> bool:
    a = _age(c)
    return a is not None and (a < cfg.adult_age or (c.sex == "F" and a <= cfg.young_woman_max_age))


class _Moments:
    """Crossings by (post, direction), sorted by time, for "who crossed within n minutes" look-ups."""

    def __init__(self, crossings: Iterable[CrossingFact]) -> None:
        lanes: dict[tuple[str, str], list[CrossingFact]] = defaultdict(list)
        for c in crossings:
            lanes[(c.post, c.direction)].append(c)
        self.lanes = {k: sorted(v, key=lambda c: c.at) for k, v in lanes.items()}
        self.times = {k: [c.at for c in v] for k, v in self.lanes.items()}

    def near(self, c: CrossingFact, minutes: float) -> list[CrossingFact]:
        key = (c.post, c.direction)
        times, lane = self.times[key], self.lanes[key]
        d = timedelta(minutes=minutes)
        lo, hi = bisect_left(times, shift(c.at, -d)), bisect_right(times, shift(c.at, d))
        return [o for o in lane[lo:hi] if o.traveller != c.traveller]


def _recorded_with(crossings: list[CrossingFact], moments: _Moments, cfg: PatternConfig) -> dict[Any, list]:
    """Crossing id -> crossings recorded in the same travel group or vehicle."""
    by_group: dict[Any, list[CrossingFact]] = defaultdict(list)
    for c in crossings:
        if c.group is not None:
            by_group[c.group].append(c)
    out: dict[Any, list[CrossingFact]] = {}
    for c in crossings:
        mates = {o.crossing_id: o for o in by_group.get(c.group, ()) if o.traveller != c.traveller} \
            if c.group is not None else {}
        if c.vehicle:
            plate = ocr_key(c.vehicle)
            for o in moments.near(c, cfg.together_minutes):
                if o.vehicle and ocr_key(o.vehicle) == plate:
                    mates[o.crossing_id] = o
        out[c.crossing_id] = list(mates.values())
    return out


def companions(crossings: Iterable[CrossingFact], config: PatternConfig | None = None,
               min_times: int | None = None) -> Counter:
    """{(traveller a, traveller b): occasions together} for pairs seen together often enough.

    An occasion is a crossing of `a` with `b` recorded in its group or vehicle, or at the same post in
    the same direction within `together_minutes`. Pairs recorded together at least once are kept
    whatever their count; pairs only inferred need `min_times` (default `companion_min_times`).
    Keys are ordered (a < b by repr) so each pair appears once.
    """
    cfg = config or PatternConfig()
    need = cfg.companion_min_times if min_times is None else min_times
    crossings = list(crossings)
    moments = _Moments(crossings)
    recorded = _recorded_with(crossings, moments, cfg)
    counts: Counter = Counter()
    explicit: set = set()
    window = timedelta(minutes=cfg.together_minutes)
    for lane in moments.lanes.values():
        # Sliding window over one post and direction: each pair of nearby crossings counted once.
        start = 0
        for i, c in enumerate(lane):
            while lane[start].at < shift(c.at, -window):
                start += 1
            seen = set()
            for o in lane[start:i]:
                if o.traveller != c.traveller and o.traveller not in seen:
                    seen.add(o.traveller)
                    counts[_pair(c.traveller, o.traveller)] += 1
    for c in crossings:
        for o in recorded[c.crossing_id]:
            pair = _pair(c.traveller, o.traveller)
            if pair not in explicit:
                explicit.add(pair)
                if counts[pair] == 0:
                    counts[pair] = 1  # recorded together but outside the time window
    return Counter({p: n for p, n in counts.items() if n >= need or p in explicit})


def _pair(a: Any, b: Any) -> tuple:
    return (a, b) if repr(a) <= repr(b) else (b, a)


def _when(c: CrossingFact | datetime, cfg: PatternConfig) -> str:
    """Evidence is read by officers: times in the unit's local time, as on every page."""
    at = c if isinstance(c, datetime) else c.at
    try:
        return f"{at.astimezone(ZoneInfo(cfg.timezone)):%Y-%m-%d %H:%M}"
    except (OverflowError, ValueError):  # a time at the calendar's edge (stored before the date window)
        return f"{at:%Y-%m-%d %H:%M} UTC"


# --- the rules ------------------------------------------------------------------------------------


def _guardian_crossing(c: CrossingFact, mates: Iterable[CrossingFact]) -> CrossingFact | None:
    """The adult crossing with the minor whose document is the one recorded as the minor's guardian's."""
    key = ocr_key(c.guardian_document) if c.guardian_document else ""
    if not key:
        return None
    for o in mates:
        if o.document and ocr_key(o.document) == key:
            return o
    return None


def _with_own_guardian(minor: CrossingFact, adult: CrossingFact, mates: list[CrossingFact],
                       cfg: PatternConfig) -> bool:
    """The minor is recorded as this adult's child or ward, or crosses with the parent or guardian
    recorded for them (found by document in the same group), so this adult is not the one taking them."""
    if (minor.guardian_relation or "") not in PARENTAL:
        return False
    if minor.guardian_document:
        key = ocr_key(minor.guardian_document)
        return any(o.document and ocr_key(o.document) == key for o in (adult, *mates))
    adults = {o.traveller for o in mates if _is_adult(o, cfg)}
    return adults == {adult.traveller}


def rule_unaccompanied_minor(crossings: list[CrossingFact], cfg: PatternConfig,
                             ctx: _Context) -> list[RiskFinding]:
    """a) A minor crossing without a recorded parent or guardian (see the module notes for the ladder)."""
    out = []
    for c in crossings:
        if not _is_minor(c, cfg):
            continue
        mates = ctx.recorded[c.crossing_id]
        relation = (c.guardian_relation or "").lower() or None
        guardian = _guardian_crossing(c, [*mates, *ctx.moments.near(c, cfg.together_minutes)])
        if relation in PARENTAL or (guardian is not None and relation is None):
            continue
        adults = [o for o in mates if _is_adult(o, cfg)]
        age = _age(c)
        head = say("Traveller aged {age} crossed ({direction}) at {post} on {when}", age=age,
                   direction=_DIRECTIONS.get(c.direction, c.direction), post=c.post, when=_when(c, cfg))
        involved = [guardian] if guardian is not None else adults
        if relation == "relative":
            if c.consent:
                continue
            with_whom = (say("the relative's crossing found") if guardian is not None
                         else say("the relative's crossing not found"))
            text = say("{head} with a relative ({with_whom}); no parental consent letter seen", head=head,
                       with_whom=with_whom)
            severity = "medium"
        elif relation == "none":
            if c.consent:
                text = say("{head}, recorded as travelling without a parent or guardian; parental consent letter "
                           "seen", head=head)
                severity = "low"
            else:
                text = say("{head}, recorded as travelling without a parent or guardian; no parental consent "
                           "letter seen", head=head)
                severity = "high"
        else:
            keys = _surname_keys(c)
            if not mates:
                text, severity = say("{head} with no recorded group and no parent or guardian recorded",
                                     head=head), "high"
            elif not adults:
                text, severity = say("{head} in a group of {size} with no adult", head=head,
                                     size=len(mates) + 1), "high"
            elif keys and any(keys & _surname_keys(o) for o in adults):
                if not cfg.surname_guardian_severity:
                    continue
                text = say("{head} with an adult sharing the surname, but no parent or guardian recorded: "
                           "record who the child travels with", head=head)
                severity = cfg.surname_guardian_severity
            else:
                text = say("{head} with {adults} adult(s), none recorded as parent or guardian and none "
                           "sharing a surname", head=head, adults=len(adults))
                severity = "medium"
        out.append(RiskFinding("unaccompanied_minor", (c.traveller, *sorted({o.traveller for o in involved}, key=repr)),
                               (c.crossing_id, *(o.crossing_id for o in involved)), (text,), severity))
    return out


def rule_frequent_minor_companions(crossings: list[CrossingFact], cfg: PatternConfig,
                                   ctx: _Context) -> list[RiskFinding]:
    """b) An adult crossing with >= N different minors or young women within a window of days."""
    # adult traveller -> [(time, companion traveller, adult crossing, companion crossing, minor?)]
    events: dict[Any, list] = defaultdict(list)
    for c in crossings:
        if not _is_adult(c, cfg):
            continue
        recorded = ctx.recorded[c.crossing_id]
        mates = {o.crossing_id: o for o in recorded}
        if cfg.use_inferred_companions:
            for o in ctx.moments.near(c, cfg.together_minutes):
                if ctx.companion_counts.get(_pair(c.traveller, o.traveller), 0) >= cfg.companion_min_times:
                    mates.setdefault(o.crossing_id, o)
        own_keys = _surname_keys(c)
        occasion = ("group", c.group) if c.group is not None else ("crossing", c.crossing_id)
        for o in mates.values():
            if not _is_minor_or_young_woman(o, cfg) or _with_own_guardian(o, c, ctx.recorded[o.crossing_id], cfg):
                continue
            if c.group is not None and o.group == c.group and own_keys & _surname_keys(o):
                continue  # family: same surname in the same recorded group
            events[c.traveller].append((c.at, o.traveller, c.crossing_id, o.crossing_id, _is_minor(o, cfg),
                                        occasion))
    out = []
    window = timedelta(days=cfg.repeat_window_days)
    for adult, evs in events.items():
        evs.sort(key=lambda e: e[0])
        best = None
        start = 0
        for i in range(len(evs)):
            while evs[i][0] - evs[start][0] > window:
                start += 1
            distinct = {e[1] for e in evs[start:i + 1]}
            occasions = {e[5] for e in evs[start:i + 1]}
            if (len(distinct) >= cfg.repeat_min_distinct and len(occasions) >= cfg.repeat_min_occasions
                    and (best is None or len(distinct) > len(best[2]))):
                best = (start, i, distinct)
        if best is None:
            continue
        start, end, distinct = best
        chosen = evs[start:end + 1]
        minors = {e[1] for e in chosen if e[4]}
        days = max((chosen[-1][0] - chosen[0][0]).days, 1)
        text = say("Adult crossed with {distinct} different minors or young women within {days} days "
                   "({minors} of them minors), on {trips} different trips; none recorded as the adult's child "
                   "or ward", distinct=len(distinct), days=days, minors=len(minors),
                   trips=len({e[5] for e in chosen}))
        evidence = [text]
        by_id = ctx.by_id
        claimed = {e[1] for e in chosen if (by_id[e[3]].guardian_relation or "") == "relative"
                   and by_id[e[3]].guardian_document
                   and ocr_key(by_id[e[3]].guardian_document) == ocr_key(by_id[e[2]].document)}
        if claimed:
            evidence.append(say("Recorded as a relative accompanying {count} of them", count=len(claimed)))
        out.append(RiskFinding("frequent_minor_companions", (adult, *sorted(distinct, key=repr)),
                               tuple(dict.fromkeys(x for e in chosen for x in (e[2], e[3]))), tuple(evidence),
                               "high" if len(minors) >= 2 else "medium"))
    return out


def rule_no_return(crossings: list[CrossingFact], cfg: PatternConfig, ctx: _Context) -> list[RiskFinding]:
    """c) A young person who exited and has not come back after N days; worse with a flagged companion."""
    last: dict[Any, CrossingFact] = {}
    for c in crossings:
        cur = last.get(c.traveller)
        if cur is None or c.at > cur.at:
            last[c.traveller] = c
    out = []
    limit = timedelta(days=cfg.no_return_days)
    for traveller, c in last.items():
        if c.direction != "exit" or ctx.now - c.at < limit:
            continue
        age = _age(c)
        if age is None or age > cfg.young_max_age:
            continue
        mates = {o.traveller for o in ctx.recorded[c.crossing_id]}
        if cfg.use_inferred_companions:
            mates |= {o.traveller for o in ctx.moments.near(c, cfg.together_minutes)
                      if ctx.companion_counts.get(_pair(c.traveller, o.traveller), 0) >= cfg.companion_min_times}
        flagged = sorted(mates & ctx.flagged, key=repr)
        days = (ctx.now - c.at).days
        text = say("Traveller aged {age} exited at {post} on {when} and has not re-entered for {days} days",
                   age=age, post=c.post, when=_when(c, cfg), days=days)
        evidence = [text]
        if flagged:
            evidence.append(say("Exited together with {count} flagged traveller(s)", count=len(flagged)))
        out.append(RiskFinding("no_return", (traveller, *flagged), (c.crossing_id,), tuple(evidence),
                               "high" if flagged or age < cfg.adult_age else "medium"))
    return out


@dataclass(slots=True)
class _DocumentUse:
    """One document a traveller crossed with (OCR misreads and one-edit slips folded in)."""

    key: str
    number: str
    type: str | None
    country: str | None
    first: datetime
    last: datetime
    count: int = 1


def _documents_used(crossings: Iterable[CrossingFact]) -> list[_DocumentUse]:
    """Documents that are not the same one misread: OCR-normalised, more than one edit apart; by first use."""
    kept: list[_DocumentUse] = []
    for c in sorted(crossings, key=lambda c: c.at):
        k = ocr_key(c.document)
        if not k:
            continue
        same = next((d for d in kept if d.key == k or token_distance(k, d.key, 1) <= 1), None)
        if same is None:
            kept.append(_DocumentUse(k, normalize_document(c.document), (c.document_type or "").upper() or None,
                                     (c.document_country or "").upper() or None, c.at, c.at))
        else:
            same.count += 1
            same.last = max(same.last, c.at)
            same.type = same.type or (c.document_type or "").upper() or None
            same.country = same.country or (c.document_country or "").upper() or None
    return kept


def _renewal(old: _DocumentUse, new: _DocumentUse) -> bool:
    """`new` replaced `old`: the same kind from the same country, and `old` never used once `new` was."""
    same_kind = old.type is None or new.type is None or old.type[0] == new.type[0]
    same_country = old.country is None or new.country is None or old.country == new.country
    return same_kind and same_country and old.last <= new.first


def _held(docs: list[_DocumentUse]) -> list[_DocumentUse]:
    """Documents held at the same time: each one that is not a renewal of the one before it starts a
    new holding, so a passport then an ID card, two countries' passports, or two numbers used
    alternately count, and a passport renewed once does not."""
    held: list[_DocumentUse] = []
    for d in docs:
        if held and all(_renewal(h, d) for h in held):
            held[-1] = d  # the newer document replaces the older
        else:
            held.append(d)
    return held


_DOCUMENT_KINDS = {"P": "passport", "I": "national ID card", "T": "travel document"}
_DIRECTIONS = {"exit": say("exit"), "entry": say("entry")}
_DOCUMENT_PHRASES = {"P": say("passport"), "I": say("national ID card"), "T": say("travel document")}


def document_label(doc_type: str | None) -> str:
    """What an officer calls a document type: "P" -> passport, "ID" -> national ID card."""
    t = (doc_type or "").strip().upper()
    if not t:
        return "document"
    return _DOCUMENT_KINDS.get(t[0], f"document ({t})")


def mask_document(number: str) -> str:
    """Enough of a document number to tell two apart on screen, not enough to copy it (first and last two)."""
    n = normalize_document(number)
    if len(n) <= 4:
        return "\u2022" * len(n)
    return n[:2] + "\u2022" * (len(n) - 4) + n[-2:]


def _document_phrase(doc_type: str | None) -> Phrase:
    """`document_label` as a phrase, so the evidence names the document in the reader's language."""
    t = (doc_type or "").strip().upper()
    if not t:
        return say("document")
    return _DOCUMENT_PHRASES.get(t[0]) or say("document ({type})", type=t)


def _describe(docs: list[_DocumentUse], cfg: PatternConfig) -> Phrase:
    """Each document: kind, masked number, country, how often, first use; "; " between them."""
    out = Phrase(())
    for i, d in enumerate(docs):
        kind, number, first = _document_phrase(d.type), mask_document(d.number), _when(d.first, cfg)[:10]
        if d.count == 1:
            part = (say("{kind} {number} ({country}, once, first {first})", kind=kind, number=number,
                        country=d.country, first=first) if d.country
                    else say("{kind} {number} (once, first {first})", kind=kind, number=number, first=first))
        else:
            part = (say("{kind} {number} ({country}, {count} times, first {first})", kind=kind, number=number,
                        country=d.country, count=d.count, first=first) if d.country
                    else say("{kind} {number} ({count} times, first {first})", kind=kind, number=number,
                             count=d.count, first=first))
        out = out + ("; " if i else "") + part
    return out


def _distinct_names(names: Iterable[tuple[str, str]], cfg: PatternConfig) -> list[Prepared]:
    """Spellings the engine does not consider the same name (typos, initials, order, variants are one)."""
    kept: list[Prepared] = []
    for surname, given in names:
        p = prepare(Identity(None, surname, given))
        if p.variants and all(name_feature(p, o, DEFAULT).score < cfg.identity_same_name_score for o in kept):
            kept.append(p)
    return kept


def rule_many_identities(crossings: list[CrossingFact], cfg: PatternConfig, ctx: _Context) -> list[RiskFinding]:
    """d) One traveller holding several documents, or using several names, within a short time.

    Raised when, within `identity_window_days`, the traveller holds `identity_min_held` documents at
    once (a passport then an ID card, passports of two countries, or two numbers used alternately: a
    renewed passport is not a second document), or crosses with `identity_min_documents` numbers
    whatever their kind, or under `identity_min_names` names. Documents are compared OCR-normalised
    and one edit apart counts as a misread; names are compared with the engine's name feature, so a
    typo, an initial, a dropped middle name, swapped order or a spelling variant is the same name.
    The evidence lists each document's type and masked number, so the officer knows what to ask for.
    """
    by_traveller: dict[Any, list[CrossingFact]] = defaultdict(list)
    for c in crossings:
        by_traveller[c.traveller].append(c)
    window = timedelta(days=cfg.identity_window_days)
    least = min(cfg.identity_min_documents, cfg.identity_min_names, cfg.identity_min_held)
    out = []
    for traveller, cs in by_traveller.items():
        if len(cs) < least:
            continue
        cs.sort(key=lambda c: c.at)
        start = 0
        found = None
        for i in range(len(cs)):
            while cs[i].at - cs[start].at > window:
                start += 1
            part = cs[start:i + 1]
            docs = _documents_used(part)
            held = _held(docs)
            names = _distinct_names(dict.fromkeys((c.surname, c.given_names) for c in part), cfg)
            hits = (len(held) >= cfg.identity_min_held, len(docs) >= cfg.identity_min_documents,
                    len(names) >= cfg.identity_min_names)
            if any(hits) and (found is None or sum(hits) >= sum(found[4])):
                found = (part, docs, held, names, hits)
        if found is None:
            continue
        part, docs, held, names, (several_held, many_numbers, many_names) = found
        days = max((part[-1].at - part[0].at).days, 1)
        evidence = []
        if several_held:
            evidence.append(say("{count} different documents held within {days} days: {documents}",
                                count=len(held), days=days, documents=_describe(held, cfg)))
        if many_numbers and (not several_held or len(docs) > len(held)):
            evidence.append(say("{count} different document numbers used within {days} days: {documents}",
                                count=len(docs), days=days, documents=_describe(docs, cfg)))
        if many_names:
            evidence.append(say("{count} different name spellings used within {days} days", count=len(names),
                                days=days))
        strong = (several_held or many_numbers) and many_names or len(held) >= cfg.identity_min_held + 1
        out.append(RiskFinding("many_identities", (traveller,), tuple(c.crossing_id for c in part), tuple(evidence),
                               "high" if strong else "medium"))
    return out


def rule_suspect_companion(crossings: list[CrossingFact], cfg: PatternConfig,
                           ctx: _Context) -> list[RiskFinding]:
    """e) A traveller crossing with a person of interest who is a suspect."""
    if not ctx.suspects:
        return []
    hits: dict[tuple, list] = defaultdict(list)
    for c in crossings:
        if c.traveller not in ctx.suspects:
            continue
        mates = {o.crossing_id: o for o in ctx.recorded[c.crossing_id]}
        if cfg.use_inferred_companions:
            for o in ctx.moments.near(c, cfg.together_minutes):
                if ctx.companion_counts.get(_pair(c.traveller, o.traveller), 0) >= cfg.companion_min_times:
                    mates.setdefault(o.crossing_id, o)
        for o in mates.values():
            if o.traveller not in ctx.suspects:
                hits[(o.traveller, c.traveller)].append((o, c))
    out = []
    for (traveller, suspect), pairs in hits.items():
        recorded = sum(1 for o, c in pairs if o in ctx.recorded[c.crossing_id])
        text = say("Crossed {count} time(s) with a suspect person of interest ({recorded} recorded in the same "
                   "group or vehicle), last at {post} on {when}", count=len(pairs), recorded=recorded,
                   post=pairs[-1][0].post, when=_when(pairs[-1][0], cfg))
        out.append(RiskFinding("suspect_companion", (traveller, suspect),
                               tuple(x for o, c in pairs for x in (o.crossing_id, c.crossing_id)), (text,), "high"))
    return out


RULES = {
    "unaccompanied_minor": rule_unaccompanied_minor,
    "frequent_minor_companions": rule_frequent_minor_companions,
    "no_return": rule_no_return,
    "many_identities": rule_many_identities,
    "suspect_companion": rule_suspect_companion,
}


@dataclass(slots=True)
class _Context:
    moments: _Moments
    recorded: dict[Any, list]
    companion_counts: Counter
    suspects: frozenset
    flagged: frozenset
    now: datetime
    by_id: dict[Any, CrossingFact]


def evaluate(crossings: Iterable[CrossingFact], *, now: datetime, config: PatternConfig | None = None,
             suspects: Iterable = (), flagged: Iterable = (), rules: Iterable[str] | None = None) -> list[RiskFinding]:
    """Run the rules (all by default) over resolved crossings.

    `suspects`: traveller keys of persons of interest who are suspects (rule e); `flagged`: traveller
    keys already flagged (a suspect or a prior risk flag), which make rule c more severe.
    """
    cfg = config or PatternConfig()
    crossings = list(crossings)
    moments = _Moments(crossings)
    ctx = _Context(moments, _recorded_with(crossings, moments, cfg),
                   companions(crossings, cfg) if cfg.use_inferred_companions else Counter(),
                   frozenset(suspects), frozenset(flagged) | frozenset(suspects), now,
                   {c.crossing_id: c for c in crossings})
    out: list[RiskFinding] = []
    for name in (RULES if rules is None else rules):
        out.extend(RULES[name](crossings, cfg, ctx))
    return out
