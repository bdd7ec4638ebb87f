"""One search box: a case reference, a document number or a name finds the records the user may see.

The query's kind is recognised first (`parse_query`), then each package answers for its own records:
screening here (persons of interest, travellers, crossings), cases through `signals.search` (screening
never imports cases). Every finder applies the access policy in its SQL, so a record the user may not
see is never fetched; each hit says why it matched, in the engine's translatable phrases.

Names are compared by the matching engine (`compare_names`: typos, initials, spelling variants, swapped
order, aliases). Candidates come from a bounded query: the first letters of each folded name token
against surname or given names, at most `CANDIDATES` rows a table, so no search loads a whole table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import url_for
from sqlalchemy import and_, func, or_, select
from sqlalchemy.orm import selectinload

from screening import signals
from screening.engine.matching import DEFAULT, MISSING, Identity, compare_names, name_weight, prepare
from screening.engine.normalize import canonical, name_tokens, normalize_document
from screening.engine.phrases import Phrase, say
from screening.models import Crossing, Person, PersonAlias, PersonDocument, Traveller
from screening.models import sees_in_full as models_sees_in_full
from screening.services import record_need_to_know
from tip_cases import audit
from tip_cases.access import can, scope_filter
from tip_cases.extensions import db

MAX_QUERY = 120  # longer than any name, reference or document number people type
MAX_TOKENS = 6
CANDIDATES = 300  # rows fetched per table for a name, before the engine scores them
PER_KIND = 20  # hits shown per kind of record
KINDS = ("case", "person", "traveller", "crossing")

# Case references as the cases package makes them (tip_cases.cases.workflow.allocate_reference:
# TIP-2026-0042); typed with spaces, without the dash or without the leading zeros too.
_CASE_REF = re.compile(r"^(TIP|SMG)[\s-]*(\d{4})[\s-]*(\d{1,6})$", re.I)
_DOCUMENT = re.compile(r"^[A-Z0-9]{5,20}$")
_DIGIT = re.compile(r"\d")

_DOC_KINDS = {"P": say("passport"), "I": say("identity card"), "ID": say("identity card"),
              "C": say("identity card"), "V": say("visa"), "TD": say("travel document")}


class SearchError(ValueError):
    """The query cannot be searched; the message says what to type instead."""


@dataclass(frozen=True)
class Query:
    kind: str  # "reference" | "document" | "name"
    text: str  # as typed, trimmed
    value: str  # the normalised value the finders use (reference, document number, folded name)
    tokens: tuple[str, ...] = ()  # name tokens, folded, particles dropped


@dataclass
class Hit:
    kind: str  # one of KINDS
    id: int
    title: str
    url: str
    reasons: list[str]  # Phrases: the page says them in the reader's language
    score: float = 1.0  # for ordering within a kind: 1.0 for an exact reference or document
    detail: str = ""
    limited: bool = False  # a restricted alert shown only as "an alert exists"


@dataclass
class Results:
    query: Query
    hits: dict[str, list[Hit]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(len(v) for v in self.hits.values())


def parse_query(raw: str | None) -> Query:
    """Recognise what was typed: a case reference, a document number, or a name."""
    text = " ".join((raw or "").split())
    if "\x00" in (raw or ""):
        raise SearchError(say("The search holds a NUL character; type a reference, a document number or a name."))
    if not text:
        raise SearchError(say("Type a case reference, a document number or a name to search."))
    if len(text) > MAX_QUERY:
        raise SearchError(say("The search is too long: at most {n} characters.", n=MAX_QUERY))
    m = _CASE_REF.match(text)
    if m:
        return Query("reference", text, f"{m.group(1).upper()}-{m.group(2)}-{int(m.group(3)):04d}")
    doc = normalize_document(text)
    if _DIGIT.search(text):
        digits = sum(ch.isdigit() for ch in doc)
        # Document numbers are mostly digits ("RA1234567", "0123456789"); "Mokoena 2009" is a name and a year.
        if _DOCUMENT.match(doc) and digits >= 3 and digits >= len(doc) - digits:
            return Query("document", text, doc)
        raise SearchError(say("Type a case reference (TIP-2026-0001), a document number (letters and digits, "
                              "5 to 20) or a name without digits."))
    tokens = tuple(name_tokens(text))
    if not any(len(t) > 1 for t in tokens):
        raise SearchError(say("Type at least two letters of a name."))
    if len(tokens) > MAX_TOKENS:
        raise SearchError(say("A name of at most {n} parts, please.", n=MAX_TOKENS))
    return Query("name", text, " ".join(tokens), tokens)


# --- names ------------------------------------------------------------------------------------------

def name_prefixes(q: Query) -> list[str]:
    """The lower-case prefixes a candidate's surname or given names must start with.

    Three letters of each token: a typo after them still finds the candidate; the Lesotho/South African
    spellings that differ at the start (Lineo / Dineo) are both asked for.
    """
    out: set[str] = set()
    for t in q.tokens:
        if len(t) < 2:
            continue
        for v in {t, canonical(t), ("l" + t[1:]) if t[:2] in ("di", "du") else t}:
            out.add(v[:3])
    return sorted(out)


def name_candidates(q: Query, *columns) -> Any:
    """A WHERE clause: any of `columns` (surname, given names) starts with one of the query's prefixes."""
    prefixes = name_prefixes(q)
    return or_(*(func.lower(col).like(p + "%") for col in columns for p in prefixes))


def _probes(q: Query) -> list:
    """The query read both ways: surname first (as officials write) and surname last (as people say)."""
    tokens = list(q.tokens)
    probes = [prepare(Identity(id=0, surname=tokens[0], given_names=" ".join(tokens[1:])))]
    if len(tokens) > 1:
        probes.append(prepare(Identity(id=0, surname=tokens[-1], given_names=" ".join(tokens[:-1]))))
    return probes


def name_match(q: Query, surname: str, given_names: str,
               aliases: list[tuple[str, str]] | None = None) -> tuple[float, Phrase] | None:
    """(weight, reason) when the matching engine finds the recorded name close to the query, else None.

    The surname must agree at least fuzzily; given names, when the query has any, must not differ.
    """
    cand = prepare(Identity(id=1, surname=surname or "", given_names=given_names or "", aliases=aliases or []))
    best = None
    for probe in _probes(q):
        names = compare_names(probe, cand, DEFAULT)
        if names.surname in (MISSING, "disagree"):
            continue
        if len(q.tokens) > 1 and names.given == "disagree":
            continue
        # Both orders are probed, so the engine's own "swapped" reading only repeats the other probe in
        # words that describe the probe, not what was typed: it counts only when nothing else matched.
        rank = (names.how != "swapped", name_weight(names, DEFAULT))
        if best is None or rank > best[0]:
            best = (rank, names)
    if best is None:
        return None
    (_, w), names = best
    reason = names.surname_text
    if len(q.tokens) > 1 and names.given != MISSING:
        reason = reason + "; " + names.given_text
    if names.via_alias:
        reason = reason + say(" (through an alias)")
    return w, say("Name: {reading}", reading=reason)


def document_reason(kind: str | None, country: str | None) -> Phrase:
    """"Document number matches (passport LSO)": the kind of document and its country, as recorded."""
    label = _DOC_KINDS.get((kind or "").upper())
    country = (country or "").upper()
    if label is not None and country:
        return say("Document number matches ({document} {country})", document=label, country=country)
    if label is not None:
        return say("Document number matches ({document})", document=label)
    if country:
        return say("Document number matches ({country})", country=country)
    return say("Document number matches")


def document_variants(q: Query) -> list[str]:
    """Spellings a stored number may have (stored as captured): the normalised one and the one typed."""
    return sorted({q.value, q.text.upper(), q.text})


# --- persons of interest ------------------------------------------------------------------------------

def sees_in_full(actor, person: Person) -> bool:
    """Need to know: whether `actor` may see this person of interest's identity (policy "poi.view_protected")."""
    return can(actor, "poi.view", person) and models_sees_in_full(actor, person)


def _person_hit(actor, p: Person, reasons: list, score: float) -> Hit:
    url = url_for("screening.person", person_id=p.id)
    if not sees_in_full(actor, p):
        # Only that an alert exists: no name, no reference, no reason; the person page says whom to call.
        return Hit("person", p.id, say("A restricted alert (need to know)"), url,
                   [say("A restricted alert matches this search"),
                    say("Action to take: {action}", action=p.officer_action or "contact the duty investigator"),
                    say("Whom to call: {contact}", contact=p.contact or "the duty investigator")],
                   score, limited=True)
    detail = " · ".join(x for x in (p.dob_text, p.nationality or "", p.reference or "") if x)
    return Hit("person", p.id, p.display_name, url, reasons, score, detail)


def _persons(actor, q: Query) -> list[Hit]:
    if not can(actor, "poi.view"):
        return []
    # Parties to a case (source "case") are found through their case, which only its team may see: as a
    # person of interest here, "Party to case TIP-..." would tell anyone that the case exists.
    scope = and_(scope_filter(actor, "poi.view", Person), Person.source != "case")
    hits: dict[int, Hit] = {}
    if q.kind in ("reference", "document"):
        for p in db.session.execute(select(Person).where(
                scope, Person.reference.in_(document_variants(q)))).scalars():
            hits[p.id] = _person_hit(actor, p, [say("Reference matches")], 1.0)
        rows = db.session.execute(select(Person, PersonDocument).join(
            PersonDocument, PersonDocument.person_id == Person.id).where(
            scope, PersonDocument.number.in_(document_variants(q))).limit(PER_KIND)).all()
        for p, d in rows:
            hits.setdefault(p.id, _person_hit(actor, p, [document_reason(d.type, d.country)], 1.0))
        return list(hits.values())
    alias_ids = select(PersonAlias.person_id).where(
        name_candidates(q, PersonAlias.surname, PersonAlias.given_names)).limit(CANDIDATES)
    stmt = select(Person).options(selectinload(Person.aliases)).where(
        scope, or_(name_candidates(q, Person.surname, Person.given_names), Person.id.in_(alias_ids))
    ).limit(CANDIDATES)
    for p in db.session.execute(stmt).scalars():
        found = name_match(q, p.surname, p.given_names, [(a.surname, a.given_names) for a in p.aliases])
        if found:
            hits[p.id] = _person_hit(actor, p, [found[1]], found[0])
    return list(hits.values())


# --- travellers and crossings ----------------------------------------------------------------------------

def _crossing_hit(c: Crossing, reasons: list, score: float) -> Hit:
    post = c.border_post.code if c.border_post else ""
    detail = " · ".join(x for x in (f"{c.crossed_at:%Y-%m-%d %H:%M}", post, c.direction) if x)
    return Hit("crossing", c.id, c.display_name, url_for("screening.crossing", crossing_id=c.id), reasons, score,
               detail)


def _traveller_hit(t: Traveller, reasons: list, score: float) -> Hit:
    detail = " · ".join(x for x in (t.dob_text, t.nationality or "") if x)
    return Hit("traveller", t.id, t.display_name, url_for("tracing.traveller", traveller_id=t.id), reasons,
               score, detail)


def _crossings_and_travellers(actor, q: Query) -> tuple[list[Hit], list[Hit]]:
    crossings: list[Hit] = []
    travellers: dict[int, Hit] = {}
    see_crossings = can(actor, "crossing.view")
    see_travellers = can(actor, "traveller.view")
    if q.kind == "reference" or not (see_crossings or see_travellers):
        return [], []
    if q.kind == "document":
        # ix on crossings.document_number answers this; the travellers are those of the crossings found.
        rows = db.session.execute(select(Crossing).options(selectinload(Crossing.border_post)).where(
            scope_filter(actor, "crossing.view", Crossing) if see_crossings else Crossing.id.is_(None),
            Crossing.document_number.in_(document_variants(q)))
            .order_by(Crossing.crossed_at.desc()).limit(CANDIDATES)).scalars().all()
        if see_travellers:
            ids = {c.traveller_id for c in rows if c.traveller_id is not None}
            reason_of = {c.traveller_id: document_reason(c.document_type, c.document_country) for c in rows}
            for t in db.session.execute(select(Traveller).where(
                    Traveller.id.in_(ids), Traveller.merged_into_id.is_(None),
                    scope_filter(actor, "traveller.view", Traveller))).scalars():
                travellers[t.id] = _traveller_hit(t, [reason_of[t.id]], 1.0)
        if see_crossings:
            crossings = [_crossing_hit(c, [document_reason(c.document_type, c.document_country)], 1.0)
                         for c in rows[:PER_KIND]]
        return crossings, list(travellers.values())
    if see_travellers:
        stmt = select(Traveller).where(
            Traveller.merged_into_id.is_(None), scope_filter(actor, "traveller.view", Traveller),
            name_candidates(q, Traveller.surname, Traveller.given_names)) \
            .order_by(Traveller.last_crossed_at.desc()).limit(CANDIDATES)
        for t in db.session.execute(stmt).scalars():
            found = name_match(q, t.surname, t.given_names)
            if found:
                travellers[t.id] = _traveller_hit(t, [found[1]], found[0])
    if see_crossings:
        stmt = select(Crossing).options(selectinload(Crossing.border_post)).where(
            scope_filter(actor, "crossing.view", Crossing),
            name_candidates(q, Crossing.surname, Crossing.given_names)) \
            .order_by(Crossing.crossed_at.desc()).limit(CANDIDATES)
        for c in db.session.execute(stmt).scalars():
            found = name_match(q, c.surname, c.given_names)
            if found:
                crossings.append(_crossing_hit(c, [found[1]], found[0]))
    return crossings, list(travellers.values())


# --- the search ------------------------------------------------------------------------------------------

def run(actor, raw: str | None) -> Results:
    """Search every kind of record `actor` may see; the search is audited (kind and counts, never a name).

    The audit row keeps the query text only for a case reference: a name or a document number typed
    here identifies a person, and the audit trail is read by more people than the records are. Which
    records were shown is kept (their ids), so who saw what stays answerable.
    """
    q = parse_query(raw)
    results = Results(q)
    crossings, travellers = _crossings_and_travellers(actor, q)
    found: list[Hit] = [*_persons(actor, q), *travellers, *crossings]
    for _receiver, hits in signals.search.send(q, actor=actor):
        found.extend(hits or [])
    for kind in KINDS:
        of_kind = sorted((h for h in found if h.kind == kind), key=lambda h: (-h.score, -h.id))
        if of_kind:
            results.hits[kind] = of_kind[:PER_KIND]
    detail: dict[str, Any] = {"kind": q.kind, "results": results.total,
                              "ids": {k: [h.id for h in v if not h.limited] for k, v in results.hits.items()}}
    limited = [h.id for h in results.hits.get("person", []) if h.limited]
    if limited:
        detail["limited"] = limited
    if q.kind == "reference":
        detail["reference"] = q.value
    audit.record("search.run", "search", None, detail=detail)
    shown = [h.id for h in results.hits.get("person", [])]
    if shown:  # a protective or discreet entry shown, in full or not, is audited as on the person page
        record_need_to_know(actor, db.session.scalars(select(Person).where(Person.id.in_(shown))), "search")
    return results
