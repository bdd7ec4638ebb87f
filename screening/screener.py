"""The in-process candidate index over persons of interest, one per app (so one per worker process).

Built lazily on first use, never in create_app. Person services bump a database counter
(`screening_state.persons_generation`) in the transaction that changes a person; after their commit
this process patches its own index in place, and any other worker notices the counter moved and
rebuilds on its next screening.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from datetime import date

from flask import current_app
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from screening.counters import bump_counter, read_counter
from screening.engine.index import CandidateIndex
from screening.engine.matching import DEFAULT, Document, Identity, MatchConfig
from screening.match_models import active_model
from screening.models import Person, PersonAlias, PersonDocument, ScreeningState, dob_of

log = logging.getLogger("tsela.screening")


@dataclass(frozen=True, slots=True)
class AlertInfo:
    """What a flag copies from its person, kept beside the index so screening needs no person query."""

    category: str
    alert_kind: str
    discreet: bool
    reason: str
    action: str
    review_date: date | None
    contact: str = ""  # whom to call, for those a need-to-know alert does not name


def person_identity(p: Person) -> Identity:
    return Identity(
        id=p.id, surname=p.surname or "", given_names=p.given_names or "",
        aliases=[(a.surname or "", a.given_names or "") for a in p.aliases],
        dob=p.dob, sex=p.sex, nationality=p.nationality,
        documents=[Document(d.type, d.number, d.country) for d in p.documents if d.number],
    )


def alert_info(p: Person) -> AlertInfo:
    return AlertInfo(p.category, p.alert_kind, bool(p.discreet), p.alert_reason or "", p.officer_action or "",
                     p.review_date, p.contact or "")


def read_generation(session: Session) -> int:
    return read_counter(session, ScreeningState.persons_generation)


def bump_generation(session: Session) -> int:
    """Move the counter in the caller's transaction; returns the new value."""
    return bump_counter(session, ScreeningState.persons_generation)


class Screener:
    def __init__(self, config: MatchConfig = DEFAULT) -> None:
        self.config = config
        self.index: CandidateIndex | None = None
        self.alerts: dict[int, AlertInfo] = {}
        self.generation: int | None = None
        self._lock = threading.Lock()

    def build(self, session: Session, today: date) -> None:
        """Read screened persons with plain column queries (ORM objects cost ~10x more at 10^5 rows)."""
        generation = read_generation(session)
        screened = (Person.screening_active.is_(True),
                    or_(Person.review_date.is_(None), Person.review_date >= today))
        aliases: dict[int, list[tuple[str, str]]] = {}
        for pid, surname, given in session.execute(
                select(PersonAlias.person_id, PersonAlias.surname, PersonAlias.given_names)
                .join(Person, Person.id == PersonAlias.person_id).where(*screened)):
            aliases.setdefault(pid, []).append((surname or "", given or ""))
        documents: dict[int, list[Document]] = {}
        for pid, type_, number, country in session.execute(
                select(PersonDocument.person_id, PersonDocument.type, PersonDocument.number, PersonDocument.country)
                .join(Person, Person.id == PersonDocument.person_id).where(*screened)):
            if number:
                documents.setdefault(pid, []).append(Document(type_, number, country))
        index = CandidateIndex(self.config)
        alerts: dict[int, AlertInfo] = {}
        stmt = select(Person.id, Person.surname, Person.given_names, Person.sex, Person.nationality,
                      Person.dob_year, Person.dob_month, Person.dob_day, Person.dob_precision, Person.category,
                      Person.alert_kind, Person.discreet, Person.alert_reason, Person.officer_action,
                      Person.review_date, Person.contact).where(*screened)
        for r in session.execute(stmt.execution_options(yield_per=10_000)):
            dob = dob_of(r)
            index.add(Identity(id=r.id, surname=r.surname or "", given_names=r.given_names or "",
                               aliases=aliases.get(r.id, []), dob=dob, sex=r.sex, nationality=r.nationality,
                               documents=documents.get(r.id, [])))
            alerts[r.id] = AlertInfo(r.category, r.alert_kind, bool(r.discreet), r.alert_reason or "",
                                     r.officer_action or "", r.review_date, r.contact or "")
        self.index, self.alerts, self.generation = index, alerts, generation
        log.info("screening index built: %d persons, generation %d", len(index), generation)

    def current(self, session: Session, today: date) -> CandidateIndex:
        """The index, rebuilt first if another process changed persons of interest since it was built."""
        generation = read_generation(session)
        model = active_model(session)
        with self._lock:
            if self.index is None or generation != self.generation or self.config.model is not model:
                # A refit model: rebuild, so every person is scored with the same weights.
                self.config = replace(self.config, model=model)
                self.build(session, today)
            assert self.index is not None
            return self.index

    def apply(self, changes: list[tuple[int, Identity | None, AlertInfo | None]], generation: int) -> None:
        """Patch the index after this process committed person changes (generation: the counter it left).

        Identity None means "no longer screened". If the counter moved by more than these changes,
        another process changed persons too, and the next screening rebuilds instead.
        """
        with self._lock:
            if self.index is None or self.generation is None or self.generation + len(changes) != generation:
                self.index = None
                return
            for pid, identity, info in changes:
                if pid in self.index:
                    self.index.remove(pid)
                self.alerts.pop(pid, None)
                if identity is not None and info is not None:
                    self.index.add(identity)
                    self.alerts[pid] = info
            self.generation = generation


def get_screener() -> Screener:
    app = current_app._get_current_object()
    screener = app.extensions.get("tsela_screener")
    if screener is None:
        screener = app.extensions.setdefault("tsela_screener", Screener())
    return screener
