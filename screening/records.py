"""How a stored crossing becomes the engine's record, and the resolution settings: one place for both.

Shared by the in-memory tracer (screening.tracing) and the database-backed attach (screening.online),
which import it at the top instead of importing each other.
"""

from __future__ import annotations

from flask import current_app

from screening.engine.matching import Document
from screening.engine.resolve import ResolveConfig, TravellerRecord
from screening.match_models import match_config
from screening.models import Crossing, dob_of

_ENGINE = ResolveConfig()


def resolve_config() -> ResolveConfig:
    """Thresholds from TRACING_* keys, else the engine's own (set on the generator with the shipped model,
    so the app resolves as the benchmark measures); the feature weights are the active fitted model's."""
    c = current_app.config
    return ResolveConfig(
        match=match_config(),
        link_threshold=float(c.get("TRACING_LINK_THRESHOLD", _ENGINE.link_threshold)),
        weak_link_threshold=float(c.get("TRACING_WEAK_LINK_THRESHOLD", _ENGINE.weak_link_threshold)),
        merge_threshold=float(c.get("TRACING_MERGE_THRESHOLD", _ENGINE.merge_threshold)),
    )


IDENTITY_COLUMNS = (Crossing.id, Crossing.surname, Crossing.given_names, Crossing.sex, Crossing.nationality,
                     Crossing.dob_year, Crossing.dob_month, Crossing.dob_day, Crossing.dob_precision,
                     Crossing.document_type, Crossing.document_number, Crossing.document_country,
                     Crossing.address, Crossing.traveller_id)


def record_of(row) -> TravellerRecord:
    docs = (Document(row.document_type, row.document_number, row.document_country),) if row.document_number else ()
    return TravellerRecord(row.id, row.surname or "", row.given_names or "", dob_of(row), row.sex, row.nationality,
                           docs, row.address or "")
