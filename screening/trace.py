"""Finding a person among the stored crossings: the Trace page, `flask screening trace` and the bulk trace
of a list of persons. (screening.tracing is the other thing: grouping crossings into travellers.)
"""

from __future__ import annotations

import csv
import io
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from screening import online, tracing
from screening.engine.blocking import trace_routes
from screening.engine.index import CandidateIndex
from screening.engine.ingest import RowError, parse_persons_csv
from screening.engine.matching import Document, Identity, MatchConfig, MatchResult, NameFrequencies, prepare
from screening.match_models import match_config
from screening.models import Crossing, dob_of
from tip_cases.extensions import db, utcnow

log = logging.getLogger("tsela.trace")

# --- one person among the crossings ----------------------------------------------------------------

TRACE_TRAVELLERS = 5000  # candidate travellers read for one traced person at most (documents, dates first)
PENDING_ROWS = 2000  # crossings not yet given a traveller read per trace at most (seconds of arrivals)

_IDENTITY = (Crossing.id, Crossing.traveller_id, Crossing.surname, Crossing.given_names, Crossing.sex,
             Crossing.dob_year, Crossing.dob_month, Crossing.dob_day, Crossing.dob_precision, Crossing.nationality,
             Crossing.document_type, Crossing.document_number, Crossing.document_country, Crossing.address)


def crossing_identity(c: Crossing) -> Identity:
    docs = [Document(c.document_type, c.document_number, c.document_country)] if c.document_number else []
    return Identity(id=c.id, surname=c.surname or "", given_names=c.given_names or "", dob=c.dob, sex=c.sex,
                    nationality=c.nationality, documents=docs, address=c.address or "")


def _row_identity(row) -> Identity:
    docs = [Document(row.document_type, row.document_number, row.document_country)] if row.document_number else []
    # The address too: a traveller's own home tells a namesake apart (the home rule, `CandidateIndex.screen`).
    return Identity(id=row.id, surname=row.surname or "", given_names=row.given_names or "", dob=dob_of(row),
                    sex=row.sex, nationality=row.nationality, documents=docs, address=row.address or "")


def _indexed(rows, index: CandidateIndex, travellers: dict[int, int]) -> None:
    for row in rows:
        index.add(_row_identity(row))
        if row.traveller_id is not None:
            travellers[row.id] = row.traveller_id


def crossings_index(session: Session | None = None) -> tuple[CandidateIndex, dict[int, int]]:
    """A candidate index over every stored crossing, and each resolved crossing's traveller.

    Memory and time grow with history (88 s and +800 MiB a request at 1M crossings): only for the
    per-process attach mode (TRACING_ATTACH = "memory", comparison benchmarks) and as the reference the
    database path is tested against. Everything else traces through `probe_index`."""
    session = session or db.session()
    index = CandidateIndex(match_config())
    travellers: dict[int, int] = {}
    _indexed(session.execute(select(*_IDENTITY).execution_options(yield_per=5000)), index, travellers)
    return index, travellers


def candidate_travellers(session: Session, probe: Identity, config: MatchConfig) -> list[int]:
    """The travellers a traced person may be, from the key table: the routes `CandidateIndex` takes over
    all crossings, taken through `traveller_keys` (bounded reads), so no request holds history."""
    routes = trace_routes(prepare(probe), config, utcnow().year)
    found = online.key_rows(session, routes.all(), online.CANDIDATE_ROWS)
    out: dict[int, None] = {}
    for keys in (routes.documents, routes.dates, routes.pairs):
        for k in keys:
            out.update(dict.fromkeys(found.get(k, ())))
    # A name key routes alone when its pool is small: the only name given, or a rare one beside others.
    pool_cap = config.max_single_key_pool if len(routes.tokens) == 1 else config.max_rare_key_pool
    for keys in routes.tokens.values():
        pool = sorted({t for k in keys for t in found.get(k, ())})
        if len(pool) <= pool_cap:
            out.update(dict.fromkeys(pool))
    if len(out) > TRACE_TRAVELLERS:
        log.info("trace: %d candidate travellers, the first %d read", len(out), TRACE_TRAVELLERS)
    return list(out)[:TRACE_TRAVELLERS]


def probe_index(session: Session, probe: Identity) -> tuple[CandidateIndex, dict[int, int]]:
    """A small index of the crossings one traced person may be: those of the candidate travellers and the
    few not yet given a traveller, weighed by the stored name-frequency table (as attach weighs)."""
    config = match_config()
    online.ensure_keys(session)
    index = CandidateIndex(config, frequencies=NameFrequencies())
    travellers: dict[int, int] = {}
    live = Crossing.pseudonymised_at.is_(None)
    ids = candidate_travellers(session, probe, config)
    for start in range(0, len(ids), 2000):
        _indexed(session.execute(select(*_IDENTITY).where(
            online.in_ids(session, Crossing.traveller_id, ids[start:start + 2000]), live)), index, travellers)
    _indexed(session.execute(select(*_IDENTITY).where(Crossing.traveller_id.is_(None), live)
                             .order_by(Crossing.id.desc()).limit(PENDING_ROWS)), index, travellers)
    online.load_frequencies(session, index.frequencies, index.name_tokens() | NameFrequencies.tokens_of(prepare(probe)))
    return index, travellers


def trace(probes: Iterable[tuple[str, Identity]], *, min_score: float, limit: int = 50,
          session: Session | None = None) -> list[tuple[str, int, MatchResult]]:
    """(ref, crossing id, result) for every crossing whose pair reaches `min_score` for each probe, best
    first per ref; the score is shared among the travellers found (an unresolved crossing is its own)."""
    session = session or db.session()
    whole = None if tracing.online_attach() else crossings_index(session)
    out: list[tuple[str, int, MatchResult]] = []
    for ref, identity in probes:
        index, travellers = whole or probe_index(session, identity)

        def person_of(cid: int, travellers=travellers) -> tuple[str, int]:
            t = travellers.get(cid)
            return ("crossing", cid) if t is None else ("traveller", t)

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


def read_probes(stream) -> tuple[list[tuple[str, Identity]], list[tuple[str, str]], list[str]]:
    """(ref, identity) probes of a persons CSV (ref, surname, given_names, sex, date_of_birth, nationality,
    document_number, address), (ref, name as given) of each, and the messages of rows rejected."""
    probes, persons, errors = [], [], []
    for row in parse_persons_csv(stream):
        if isinstance(row, RowError):
            errors.append(row.message)
            continue
        docs = [Document(None, row.document_number)] if row.document_number else []
        probes.append((row.ref, Identity(id=row.ref, surname=row.surname, given_names=row.given_names,
                                         dob=row.date_of_birth, sex=row.sex, nationality=row.nationality,
                                         documents=docs, address=row.address or "")))
        persons.append((row.ref, " ".join(x for x in (row.surname, row.given_names) if x)))
    return probes, persons, errors


def bulk_trace(stream, *, min_score: float, session: Session | None = None) -> BulkTrace:
    """Trace every person in a persons CSV (`read_probes`) with the `screening trace` service, grouped by
    traveller."""
    session = session or db.session()
    probes, persons, errors = read_probes(stream)
    result = BulkTrace(persons=persons, errors=errors)
    found = trace(probes, min_score=min_score, session=session) if probes else []
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
