"""The fitted match model: which weights screening and tracing use, refitting them, and the page's figures.

The engine (`screening.engine.fellegi_sunter`, `screening.engine.model_fit`) is pure; this module keeps
its model in the `match_models` table. `active_model()` is what every MatchConfig the app builds
carries: the newest active row, else the shipped defaults. It is cached per process and the newest id
is compared at most every `MATCH_MODEL_CHECK_SECONDS` (60 s), so a refit in one process reaches the
web workers and the scheduler within a minute without a query per screening.
"""

from __future__ import annotations

import itertools
import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from html import escape

from flask import current_app
from flask_babel import gettext
from markupsafe import Markup
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from screening.engine import model_fit
from screening.engine.fellegi_sunter import MatchModel, default_model
from screening.engine.matching import Document, Identity, MatchConfig
from screening.models import Crossing, MatchModelRecord, dob_of
from tip_cases import audit
from tip_cases.extensions import db

log = logging.getLogger("tsela.screening")

DEFAULT_SAMPLE = 200_000  # crossings read by `screening fit`; memory is bounded by this, not by history


# --- the active model ------------------------------------------------------------------------------


@dataclass
class _Cached:
    lock: threading.Lock = field(default_factory=threading.Lock)
    model: MatchModel | None = None
    row_id: int | None = None
    checked: float | None = None


def _cache() -> _Cached:
    app = current_app._get_current_object()
    return app.extensions.setdefault("tsela_match_model", _Cached())


def newest_active(session: Session | None = None) -> MatchModelRecord | None:
    session = session or db.session()
    return session.execute(select(MatchModelRecord).where(MatchModelRecord.active.is_(True))
                           .order_by(MatchModelRecord.id.desc()).limit(1)).scalar_one_or_none()


def model_of(row: MatchModelRecord | None) -> MatchModel:
    """The engine model a row holds; the defaults when there is no row or it cannot be read."""
    if row is None:
        return default_model()
    try:
        return MatchModel.from_json(row.model_json)
    except ValueError as exc:
        # A row the engine cannot read must not stop screening at the border: use the defaults, loudly.
        log.error("match model %s unreadable (%s); using the shipped defaults", row.id, exc)
        return default_model()


def active_model(session: Session | None = None, *, clock: Callable[[], float] = time.monotonic) -> MatchModel:
    """The model screening and resolution use in this process (see the module notes for the caching)."""
    cache = _cache()
    interval = float(current_app.config.get("MATCH_MODEL_CHECK_SECONDS", 60))
    now = clock()
    with cache.lock:
        if cache.model is not None and cache.checked is not None and now - cache.checked < interval:
            return cache.model
        session = session or db.session()
        newest = session.execute(select(func.max(MatchModelRecord.id))
                                 .where(MatchModelRecord.active.is_(True))).scalar()
        if cache.model is None or newest != cache.row_id:
            row = session.get(MatchModelRecord, newest) if newest is not None else None
            cache.model, cache.row_id = model_of(row), newest
            log.info("match model in use: %s", f"row {newest}" if newest is not None else "shipped defaults")
        cache.checked = now
        return cache.model


def forget_active_model() -> None:
    """Make this process read the newest row on its next screening (after it stored a refit itself)."""
    cache = _cache()
    with cache.lock:
        cache.checked = None


def match_config(**overrides) -> MatchConfig:
    """The engine's MatchConfig carrying the active model; every place the app scores pairs uses it."""
    return MatchConfig(model=active_model(), **overrides)


# --- refitting ---------------------------------------------------------------------------------------

_IDENTITY_COLUMNS = (Crossing.id, Crossing.surname, Crossing.given_names, Crossing.sex, Crossing.nationality,
                     Crossing.dob_year, Crossing.dob_month, Crossing.dob_day, Crossing.dob_precision,
                     Crossing.document_type, Crossing.document_number, Crossing.document_country,
                     Crossing.address)


def identity_of(row) -> Identity:
    docs = [Document(row.document_type, row.document_number, row.document_country)] if row.document_number else []
    return Identity(id=row.id, surname=row.surname or "", given_names=row.given_names or "", dob=dob_of(row),
                    sex=row.sex, nationality=row.nationality, documents=docs, address=row.address or "")


def sample_identities(sample: int, *, seed: int = 1, session: Session | None = None) -> tuple[list[Identity], int]:
    """At most `sample` crossings as identities, drawn uniformly (reservoir) from a streamed read.

    Returns (identities, crossings read). Memory holds the sample only, however long the history.
    """
    session = session or db.session()
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    kept: list[Identity] = []
    seen = 0
    rows: Iterator = session.execute(select(*_IDENTITY_COLUMNS).order_by(Crossing.id)
                                     .execution_options(yield_per=10_000))
    for row in rows:
        seen += 1
        if len(kept) < sample:
            kept.append(identity_of(row))
        else:
            j = rng.randrange(seen)
            if j < sample:
                kept[j] = identity_of(row)
    return kept, seen


@dataclass
class FitResult:
    record: MatchModelRecord
    model: MatchModel
    crossings_read: int
    sampled: int


def fit_and_store(*, sample: int = DEFAULT_SAMPLE, actor=None, now: datetime, seed: int = 1,
                  session: Session | None = None) -> FitResult:
    """Fit the model on a sample of stored crossings and store it as the active one (audited).

    Raises `model_fit.NotEnoughData` (nothing stored) when the crossings give too few pairs. The caller
    commits; this process then uses the new model on its next screening, the others within a minute.
    """
    if sample < 2:
        raise ValueError("sample: at least 2 crossings are needed")
    session = session or db.session()
    identities, read = sample_identities(sample, seed=seed, session=session)
    model = model_fit.fit(identities, seed=seed, now=now)
    session.execute(update(MatchModelRecord).where(MatchModelRecord.active.is_(True)).values(active=False))
    record = MatchModelRecord(fitted_at=now, pairs=model.pairs, source=model.source,
                              model_json=model.to_json(), active=True,
                              created_by_user_id=getattr(actor, "id", None), created_at=now)
    session.add(record)
    session.flush()
    audit.record("match_model.fit", "match_model", record.id,
                 detail={"pairs": model.pairs, "crossings_read": read, "sampled": len(identities)})
    forget_active_model()
    log.info("match model %s fitted on %d pairs from %d sampled crossings", record.id, model.pairs, len(identities))
    return FitResult(record, model, read, len(identities))


def weight_rows(model: MatchModel) -> list[tuple[str, str, str, float, float, float]]:
    """(feature, level name, level label, m, u, weight) for every level, in the model's order."""
    return [(f.title, lv.name, lv.label, lv.m, lv.u, lv.weight) for f in model.features for lv in f.levels]


def interaction_rows(model: MatchModel) -> list[tuple[str, str, str, float, float, float]]:
    """(documents group label, address level name, address level label, m, u, weight) for every address
    level of every group of the document x address interaction; empty for a model without one."""
    address = model.feature("address")
    return [(g.label, lv.name, lv.label, g.m[lv.name], lv.u, model.address_weight(g.document_levels[0], lv.name))
            for g in model.address_groups for lv in address.levels if lv.name in g.m]


# --- the page ----------------------------------------------------------------------------------------


@dataclass
class FeatureView:
    name: str
    title: str
    levels: list[tuple[str, str, float, float, float]]  # (name, label, m, u, weight)
    chart: Markup


@dataclass
class ModelPage:
    record: MatchModelRecord | None
    model: MatchModel
    features: list[FeatureView]
    history: list[MatchModelRecord]
    # The address's weights given what the documents say: column heads (address levels), then per group
    # of document levels its label and (m, weight) per column. Empty without the interaction.
    interaction_head: list[str] = field(default_factory=list)
    interaction: list[tuple[str, list[tuple[float, float]]]] = field(default_factory=list)


def N_(text: str) -> str:  # noqa: N802 - gettext's name for "extract this, translate it later"
    return text


# The shipped model's feature titles and level labels, for the translators: a model keeps them in English
# (a fitted one copies them from the shipped one) and the page says them in the reader's language.
MODEL_WORDS = (
    N_('Surname'),
    N_('Agrees exactly'),
    N_('Agrees but for a typo, variant or compound part'),
    N_('Agrees in part'),
    N_('Differs'),
    N_('Not recorded on one side'),
    N_('Given names'),
    N_('Agree exactly'),
    N_('Agree but for a typo, initial, variant or missing name'),
    N_('Agree in part'),
    N_('Differ'),
    N_('Date of birth'),
    N_('Same full date'),
    N_('Day and month swapped'),
    N_('One slip (a digit, or the year off by one)'),
    N_('Same year and month (one side knows no day)'),
    N_('Same year (one side knows only the year)'),  # the one year level of models stored before s10a
    N_('Same year (both sides know only the year)'),
    N_('Same year (one side knows only the year, the other the full date)'),
    N_('Year within an estimated age'),
    N_('Year off by one (one side knows only the year)'),
    N_('Two slips (swapped and year off by one)'),
    N_('Sex'),
    N_('Same'),
    N_('Nationality'),
    N_('Document number'),
    N_('Same number'),
    N_('One digit typo, transposition or OCR confusion'),
    N_('Different numbers on different document types'),
    N_('Different numbers on the same document type'),
    N_('Different national ID numbers from one country'),
    N_('Address'),
    N_('Same address'),
    N_('Nearly the same address'),
    N_('Partly the same address'),
    N_('Different address'),
    N_('Documents agree'),
    N_('Documents of different types'),
    N_('Different numbers on the same document type'),
    N_('No document on one side'),
)


def model_page(session: Session | None = None) -> ModelPage:
    """What the model page shows: the active model as stored now (not this process's cache), its titles
    and labels in the reader's language (one the catalog does not know stays as stored)."""
    session = session or db.session()
    record = newest_active(session)
    model = model_of(record)
    features = []
    for f in model.features:
        title = gettext(f.title)
        levels = [(lv.name, gettext(lv.label), lv.m, lv.u, lv.weight) for lv in f.levels]
        chart = Markup(weight_chart(  # noqa: S704 - weight_chart escapes every label
            gettext("%(feature)s: weight of each agreement level, in bits", feature=title),
            [level[1].split(" (")[0] for level in levels], [lv.weight for lv in f.levels],
            unit=gettext("bits"), empty=gettext("No levels")))
        features.append(FeatureView(f.name, title, levels, chart))
    history = list(session.execute(select(MatchModelRecord).order_by(MatchModelRecord.id.desc()).limit(10))
                   .scalars())
    addr_levels = [lv for lv in model.feature("address").levels if lv.name != "missing"]
    head = [gettext(lv.label) for lv in addr_levels] if model.address_groups else []
    interaction = [(gettext(g.label), [(g.m[lv.name], model.address_weight(g.document_levels[0], lv.name))
                                       for lv in addr_levels]) for g in model.address_groups]
    return ModelPage(record, model, features, history, head, interaction)


_chart_ids = itertools.count(1)


def weight_chart(title: str, labels: list[str], weights: list[float], *, width: int = 520, bar: int = 22,
                 unit: str = "bits", empty: str = "No levels") -> str:
    """Horizontal bars either side of a zero line (for the match, right; against it, left), as SVG.

    Drawn like tip_cases.reports.charts (which screening may not import): no script, presentation
    attributes only (CSP), role="img" labelled by its title and a description giving every figure;
    the page shows the same figures in a table beside it.
    """
    n = next(_chart_ids)
    desc = "; ".join(f"{lab}: {w:+.2f} {unit}" for lab, w in zip(labels, weights, strict=True)) or empty
    label_w = min(200, 12 + 7 * max((len(lab) for lab in labels), default=4))
    height = 20 + max(1, len(labels)) * (bar + 6) + 10
    half = (width - label_w - 20 - 100) / 2  # room for the figure beside each bar, on both sides
    zero = label_w + 50 + half
    reach = max((abs(w) for w in weights), default=0) or 1
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" role="img" class="tsela-chart" viewBox="0 0 {width} {height}" '
             f'width="100%" preserveAspectRatio="xMinYMin meet" aria-labelledby="wchart-t{n} wchart-d{n}" '
             f'font-family="sans-serif" font-size="12"><title id="wchart-t{n}">{escape(title)}</title>'
             f'<desc id="wchart-d{n}">{escape(desc)}</desc>']
    for i, (lab, w) in enumerate(zip(labels, weights, strict=True)):
        y = 20 + i * (bar + 6)
        length = half * abs(w) / reach
        x = zero if w >= 0 else zero - length
        fill = "#2e8b57" if w >= 0 else "#c0392b"
        tx, anchor = (zero + length + 4, "start") if w >= 0 else (zero - length - 4, "end")
        parts.append(f'<text x="{label_w - 6}" y="{y + bar * 0.7:.1f}" text-anchor="end" fill="#222">'
                     f'{escape(lab)}</text><rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{bar}" '
                     f'fill="{fill}"/><text x="{tx:.1f}" y="{y + bar * 0.7:.1f}" text-anchor="{anchor}" '
                     f'fill="#222">{w:+.2f}</text>')
    parts.append(f'<line x1="{zero:.1f}" y1="14" x2="{zero:.1f}" y2="{height - 6}" stroke="#888"/></svg>')
    return "".join(parts)
