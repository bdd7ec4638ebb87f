"""The fitted match model: `screening fit`, the managers' model page, the per-process cache, and the
match probability officers see on flags."""

from __future__ import annotations

import html as htmllib
import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, insert, select

from bench.generate import BORDER_POSTS, generate_crossings, generate_persons
from screening import match_models, services
from screening.engine.fellegi_sunter import MatchModel, default_model
from screening.engine.normalize import parse_partial_date
from screening.models import Crossing, Flag, MatchModelRecord
from screening.screener import get_screener
from screening.views import percent as percent_shown
from tests.screening.builders import make_person, new_crossing
from tip_cases.extensions import db
from tip_cases.models import AuditEvent, BorderPost

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def _section(html: str, feature: str) -> str:
    match = re.search(rf'<section[^>]*data-testid="feature-{feature}".*?</section>', html, re.S)
    assert match, f"no section for {feature}"
    return match.group(0)


def _assert_page_shows(html: str, model: MatchModel) -> None:
    """Every feature has a chart and a table row per level with its m, u and weight."""
    for f in model.features:
        section = _section(html, f.name)
        assert f"<h2 class=\"h5\" id=\"feature-{f.name}-title\">{f.title}</h2>" in section
        assert '<svg' in section and 'role="img"' in section and "<title" in section
        for lv in f.levels:
            row = re.search(rf'<tr data-level="{lv.name}">(.*?)</tr>', section, re.S)
            assert row, (f.name, lv.name)
            cells = htmllib.unescape(row.group(1))
            assert lv.label in cells and f"{lv.m:.4f}" in cells and f"{lv.u:.4f}" in cells
            assert f"{lv.weight:+.2f}" in cells
            # The chart's description carries the same figure (for screen readers that reach it).
            assert f"{lv.label.split(' (')[0]}: {lv.weight:+.2f} bits" in htmllib.unescape(section)
    # The document x address interaction: one row per group of document levels, m and weight per level.
    if model.address_groups:
        found = re.search(r'<section[^>]*data-testid="address-given-document".*?</section>', html, re.S)
        assert found, "no table of the address given the documents"
        table = found.group(0)
        for g in model.address_groups:
            row = re.search(rf"<tr><th scope=\"row\">{re.escape(g.label)}</th>(.*?)</tr>", table, re.S)
            assert row, g.name
            for level, m in g.m.items():
                assert f"{m:.4f} · {model.address_weight(g.document_levels[0], level):+.2f}" in row.group(1)
    else:
        assert 'data-testid="address-given-document"' not in html


def _store_generated(n_persons: int, n_crossings: int, seed: int = 7) -> int:
    """Generated crossings written straight to the table (the fit reads stored crossings, nothing else)."""
    posts = {p.name: p.id for p in db.session.execute(select(BorderPost)).scalars()}
    names = {code: name for code, name, _ in BORDER_POSTS}
    rows = generate_crossings(generate_persons(n_persons, seed=seed), n_crossings, seed=seed)
    values = []
    for r in rows:
        dob = parse_partial_date(r["date_of_birth"]) if r["date_of_birth"] else None
        values.append({
            "source": "gen", "external_id": r["external_id"], "border_post_id": posts[names[r["border_post"]]],
            "direction": r["direction"], "crossed_at": datetime.fromisoformat(r["crossed_at"]),
            "surname": r["surname"], "given_names": r["given_names"], "sex": r["sex"] or None,
            "nationality": r["nationality"], "document_type": r["document_type"] or None,
            "document_number": r["document_number"] or None, "document_country": r["document_country"] or None,
            "address": r["address"], "dob_year": dob.year if dob else None, "dob_month": dob.month if dob else None,
            "dob_day": dob.day if dob else None, "dob_precision": dob.precision if dob else None,
            "consent_document": False, "created_at": NOW})
    db.session.execute(insert(Crossing), values)
    db.session.commit()
    return len(values)


# --- the page ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("role", ["manager", "admin"])
def test_model_page_shows_the_default_weights_and_is_audited(app, login_as, db_session, role):
    browser = login_as(role)
    home = browser.get("/").get_data(as_text=True)
    assert 'href="/screening/model">Match model</a>' in home
    resp = browser.get("/screening/model")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200
    assert "Shipped defaults" in html and "source <strong>default</strong>" in html
    _assert_page_shows(html, default_model())
    for name in ("surname", "given_names", "date_of_birth", "sex", "nationality", "document", "address"):
        assert f'data-testid="feature-{name}"' in html
    event = db_session.execute(select(AuditEvent).where(AuditEvent.action == "match_model.view")).scalar_one()
    assert event.actor_user_id == browser.user.id and event.outcome == "allowed" and event.object_id == "default"


def test_model_page_reads_sesotho_for_a_sesotho_reader(app, login_as, db_session):
    """Feature titles, level labels and the charts' titles and descriptions in Sesotho; the figures unchanged."""
    browser = login_as("manager")
    browser.user.locale = "st"
    html = htmllib.unescape(browser.get("/screening/model").get_data(as_text=True))
    surname = _section(html, "surname")
    assert '<h2 class="h5" id="feature-surname-title">Fane</h2>' in surname
    assert "<title" in surname and "Fane: boima ba boemo bo bong le bo bong ba ho tšoana, ka li-bit</title>" in surname
    exact = default_model().features[0].levels[0]
    assert re.search(rf'<tr data-level="{exact.name}"><th scope="row">E tšoana hantle</th>', surname)
    assert f"E tšoana hantle: {exact.weight:+.2f} li-bit" in surname  # the chart's description
    assert "Ha e a ngoloa ka lehlakoreng le leng" in surname and "Boima (li-bit)" in surname
    for english in ("Agrees exactly", "Not recorded on one side", "weight of each agreement level", " bits"):
        assert english not in html
    assert "Letsatsi le felletseng le tšoanang" in _section(html, "date_of_birth")


@pytest.mark.parametrize("role", ["border_officer", "investigator"])
def test_model_page_is_refused_to_other_roles(app, login_as, db_session, role):
    browser = login_as(role)
    resp = browser.get("/screening/model")
    assert resp.status_code == 403 and "feature-surname" not in resp.get_data(as_text=True)
    assert "/screening/model" not in browser.get("/").get_data(as_text=True)
    denied = db_session.execute(select(AuditEvent).where(AuditEvent.action == "match_model.view")).scalar_one()
    assert denied.outcome == "denied" and denied.actor_user_id == browser.user.id


# --- screening fit -----------------------------------------------------------------------------------


def test_fit_refuses_with_too_little_data_and_stores_nothing(app, runner, db_session):
    _store_generated(20, 60)
    result = runner.invoke(args=["screening", "fit"])
    assert result.exit_code != 0
    assert "Not enough data to fit the match model" in result.output and "a fit needs at least 2,000" in result.output
    assert db_session.scalar(select(func.count()).select_from(MatchModelRecord)) == 0
    assert db_session.scalar(select(func.count()).select_from(AuditEvent)
                             .where(AuditEvent.action == "match_model.fit")) == 0
    assert match_models.active_model() is default_model()


def test_fit_stores_an_active_model_that_the_page_shows_and_screening_uses(app, runner, login_as, db_session):
    n = _store_generated(500, 3000)
    result = runner.invoke(args=["screening", "fit", "--sample", "2500"])
    assert result.exit_code == 0, result.output
    record = db_session.execute(select(MatchModelRecord)).scalar_one()
    assert record.active and record.source == "fitted" and record.pairs >= 2000
    assert f"{record.pairs} pairs from 2500 of {n} crossings" in result.output
    fitted = MatchModel.from_json(record.model_json)
    assert fitted != default_model()
    # The printed table: one line per feature level with m, u and the weight.
    lines = result.output.splitlines()
    header = next(i for i, line in enumerate(lines) if line.split()[:2] == ["feature", "level"])
    given = next(i for i, line in enumerate(lines) if line.startswith("address given what the documents say"))
    body = lines[header + 1:given]
    assert len(body) == sum(len(f.levels) for f in fitted.features)
    # Then the address's weights given what the documents say, learned by the fit.
    assert fitted.address_groups and fitted.address_groups[1].m["disagree"] != fitted.address_groups[0].m["disagree"]
    interaction = lines[given + 1:]
    assert len(interaction) == sum(len(g.m) for g in fitted.address_groups)
    for g in fitted.address_groups:
        for level, m in g.m.items():
            weight = fitted.address_weight(g.document_levels[0], level)
            assert any(line.startswith(g.label) and f"{m:.4f}" in line and line.rstrip().endswith(f"{weight:+.2f}")
                       for line in interaction), (g.name, level)
    for f in fitted.features:
        for lv in f.levels:
            assert any(line.startswith(f.title) and lv.label in line and f"{lv.m:.4f}" in line
                       and line.rstrip().endswith(f"{lv.weight:+.2f}") for line in body), (f.name, lv.name)
    audit = db_session.execute(select(AuditEvent).where(AuditEvent.action == "match_model.fit")).scalar_one()
    assert audit.object_id == str(record.id) and audit.detail["sampled"] == 2500

    html = login_as("manager").get("/screening/model").get_data(as_text=True)
    assert "Fitted on this unit's crossings" in html and "source <strong>fitted</strong>" in html
    assert f"<strong>{record.pairs:,}</strong> candidate pairs" in html
    _assert_page_shows(html, fitted)

    # This process screens with the stored model from the next screening on.
    assert match_models.active_model() == fitted
    get_screener().current(db_session, NOW.date())
    assert get_screener().config.model == fitted


def test_a_second_fit_replaces_the_first_as_active(app, runner, db_session):
    _store_generated(500, 3000)
    assert runner.invoke(args=["screening", "fit", "--sample", "2500", "--seed", "1"]).exit_code == 0
    assert runner.invoke(args=["screening", "fit", "--sample", "2500", "--seed", "2"]).exit_code == 0
    rows = db_session.execute(select(MatchModelRecord).order_by(MatchModelRecord.id)).scalars().all()
    assert [r.active for r in rows] == [False, True]
    assert match_models.newest_active().id == rows[1].id


def test_fit_rejects_a_bad_sample_size(app, runner, db_session):
    result = runner.invoke(args=["screening", "fit", "--sample", "1"])
    assert result.exit_code == 2 and "--sample" in result.output
    assert db_session.scalar(select(func.count()).select_from(MatchModelRecord)) == 0


# --- the per-process cache ---------------------------------------------------------------------------


def _store_model(model: MatchModel, *, active=True) -> MatchModelRecord:
    row = MatchModelRecord(fitted_at=NOW, pairs=model.pairs, source=model.source, model_json=model.to_json(),
                           active=active, created_at=NOW)
    db.session.add(row)
    db.session.commit()
    return row


def _refit(prior: float) -> MatchModel:
    d = default_model().to_json()
    d.update(source="fitted", prior=prior, pairs=5000, fitted_at=NOW.isoformat())
    d["features"][0]["levels"][0]["m"] = 0.5
    return MatchModel.from_json(d)


def test_active_model_checks_the_newest_row_at_most_every_interval(app, db_session):
    clock = iter([0.0, 10.0, 61.0, 62.0])
    tick = lambda: next(clock)  # noqa: E731
    assert match_models.active_model(clock=tick) is default_model()
    refit = _refit(0.02)
    _store_model(refit)
    assert match_models.active_model(clock=tick) is default_model()  # 10 s later: not looked again yet
    assert match_models.active_model(clock=tick) == refit  # a minute on: another process's refit is used
    _store_model(_refit(0.03), active=False)
    assert match_models.active_model(clock=tick) == refit  # inactive rows are not used


def test_an_unreadable_row_falls_back_to_the_defaults(app, db_session):
    row = _store_model(_refit(0.02))
    row.model_json = {**row.model_json, "prior": "high"}
    db.session.commit()
    assert match_models.active_model() is default_model()
    with pytest.raises(ValueError, match="prior"):
        MatchModel.from_json(row.model_json)


def test_a_refit_rebuilds_the_screening_index_with_the_new_model(app, db_session):
    make_person()
    screener = get_screener()
    screener.current(db_session, NOW.date())
    assert screener.config.model is default_model()
    refit = _refit(0.02)
    _store_model(refit)
    match_models.forget_active_model()
    index = screener.current(db_session, NOW.date())
    assert screener.config.model == refit and len(index) == 1


# --- what the officer sees on a flag ----------------------------------------------------------------


def test_flag_page_and_queue_show_the_match_probability_and_explanations(app, login_as, db_session):
    make_person("Mokoena", "Palesa", dob="2009-03-14", documents=[("P", "RA123456", "LSO")],
                need_to_know_roles=["border_officer"])  # a protective alert: the officer must be named
    [result] = services.store_crossings([new_crossing(dob="2009-03-14", document_number="RA123456",
                                                      document_type="P", document_country="LSO")],
                                        source="test", actor=None, now=NOW)
    db.session.commit()
    flag = db_session.execute(select(Flag).where(Flag.kind == "identity")).scalar_one()
    percent = percent_shown(flag.score)
    officer = login_as("border_officer")
    page = officer.get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    shown = re.search(r'data-testid="match-probability">(.*?)</p>', page, re.S).group(1)
    assert f"Match probability <strong>{percent}</strong>" in shown
    assert "A flag is raised when this pair alone reaches 80%" in shown
    listed = re.search(r'<ul data-testid="explanations">(.*?)</ul>', page, re.S).group(1)
    for f in flag.features:
        if f["name"] != "namesakes" or f["contribution"]:
            assert htmllib.escape(f["explanation"], quote=False) in listed
    assert "<strong>Date of birth</strong>: Date of birth matches" in listed
    queue = officer.get("/screening/queue").get_data(as_text=True)
    row = re.search(r'<tr data-testid="flag-row">(.*?)</tr>', queue, re.S).group(1)
    assert f"Match probability {percent}" in row and "Match probability</th>" in queue
    assert result.flags and result.flags[0].id == flag.id
