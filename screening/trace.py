"""Finding a person among the stored crossings: the Trace page, `flask screening trace` and the bulk trace
of a list of persons. (screening.tracing is the other thing: grouping crossings into travellers.)
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from screening.engine.index import CandidateIndex
from screening.engine.ingest import RowError, parse_persons_csv
from screening.engine.matching import Document, Identity, MatchResult
from screening.match_models import match_config
from screening.models import Crossing, dob_of
from tip_cases.extensions import db

# --- one person among the crossings ----------------------------------------------------------------

def crossing_identity(c: Crossing) -> Identity:
    docs = [Document(c.document_type, c.document_number, c.document_country)] if c.document_number else []
    return Identity(id=c.id, surname=c.surname or "", given_names=c.given_names or "", dob=c.dob, sex=c.sex,
                    nationality=c.nationality, documents=docs)


def crossings_index(session: Session | None = None) -> tuple[CandidateIndex, dict[int, int]]:
    """A candidate index over stored crossings (tracing looks for a person among travellers, not persons),
    and each resolved crossing's traveller: one traveller's crossings do not compete for a hit's share."""
    session = session or db.session()
    index = CandidateIndex(match_config())
    travellers: dict[int, int] = {}
    stmt = select(Crossing.id, Crossing.traveller_id, Crossing.surname, Crossing.given_names, Crossing.sex,
                  Crossing.dob_year, Crossing.dob_month, Crossing.dob_day, Crossing.dob_precision, Crossing.nationality,
                  Crossing.document_type, Crossing.document_number, Crossing.document_country)
    for row in session.execute(stmt.execution_options(yield_per=5000)):
        dob = dob_of(row)
        docs = [Document(row.document_type, row.document_number, row.document_country)] \
            if row.document_number else []
        index.add(Identity(id=row.id, surname=row.surname or "", given_names=row.given_names or "", dob=dob,
                           sex=row.sex, nationality=row.nationality, documents=docs))
        if row.traveller_id is not None:
            travellers[row.id] = row.traveller_id
    return index, travellers


def trace(probes: Iterable[tuple[str, Identity]], *, min_score: float, index=None,
          limit: int = 50) -> list[tuple[str, int, MatchResult]]:
    """(ref, crossing id, result) for every crossing whose pair reaches `min_score` for each probe, best
    first per ref; the score is shared among the travellers found (an unresolved crossing is its own)."""
    index, travellers = index or crossings_index()

    def person_of(cid: int) -> tuple[str, int]:
        t = travellers.get(cid)
        return ("crossing", cid) if t is None else ("traveller", t)

    out: list[tuple[str, int, MatchResult]] = []
    for ref, identity in probes:
        for cid, result in index.screen(identity, min_score, limit=limit, person_of=person_of):
            out.append((ref, cid, result))
    return out


# --- bulk tracing ----------------------------------------------------------------------------------


@dataclass
class TraceHit:
    ref: str
    crossing: Crossing
    score: float
    explanations: list[str]


@dataclass
class BulkTrace:
    persons: list[tuple[str, str]] = field(default_factory=list)  # (ref, name as given)
    hits: dict[str, list[TraceHit]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)

    def travellers_of(self, ref: str) -> list[tuple[int | None, list[TraceHit]]]:
        by: dict[int | None, list[TraceHit]] = defaultdict(list)
        for h in self.hits.get(ref, []):
            by[h.crossing.traveller_id].append(h)
        return sorted(by.items(), key=lambda kv: -max(h.score for h in kv[1]))

    def csv_rows(self) -> Iterator[list[str]]:
        yield ["ref", "traveller_id", "external_id", "crossed_at", "border_post", "direction", "score", "explanation"]
        for ref, _name in self.persons:
            for tid, hits in self.travellers_of(ref):
                for h in hits:
                    c = h.crossing
                    yield [ref, "" if tid is None else str(tid), c.external_id, c.crossed_at.isoformat(),
                           c.border_post.code if c.border_post else "", c.direction, f"{h.score:.4f}",
                           "; ".join(h.explanations)]


def bulk_trace(stream, *, min_score: float, session: Session | None = None) -> BulkTrace:
    """Trace every person in a CSV (ref, surname, given_names, sex, date_of_birth, nationality,
    document_number, address) with the `screening trace` service, grouped by traveller."""
    session = session or db.session()
    result = BulkTrace()
    probes = []
    for row in parse_persons_csv(stream):
        if isinstance(row, RowError):
            result.errors.append(row.message)
            continue
        docs = [Document(None, row.document_number)] if row.document_number else []
        probes.append((row.ref, Identity(id=row.ref, surname=row.surname, given_names=row.given_names,
                                         dob=row.date_of_birth, sex=row.sex, nationality=row.nationality,
                                         documents=docs)))
        result.persons.append((row.ref, " ".join(x for x in (row.surname, row.given_names) if x)))
    found = trace(probes, min_score=min_score) if probes else []
    ids = list({cid for _, cid, _ in found})
    crossings = {}
    for start in range(0, len(ids), 900):
        crossings.update({c.id: c for c in session.execute(
            select(Crossing).options(selectinload(Crossing.border_post))
            .where(Crossing.id.in_(ids[start:start + 900]))).scalars()})
    for ref, cid, r in found:
        result.hits.setdefault(ref, []).append(TraceHit(ref, crossings[cid], r.score, list(r.explanations)))
    return result


def bulk_trace_csv(result: BulkTrace) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in result.csv_rows():
        writer.writerow(row)
    return out.getvalue()
