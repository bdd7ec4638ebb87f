"""The flag page speaks the officer's language: marks on the side-by-side rows, risk-flag decisions."""

from __future__ import annotations

from tests.cases.builders import make_flag
from tests.screening.builders import make_person


def _officer_named_flag():
    """A flag whose (protective) alert names border officers, so the officer sees the comparison in full."""
    return make_flag(status="new", person=make_person(need_to_know_roles=["border_officer"]))


def test_identity_flag_rows_are_marked_with_the_verdict(app, login_as):
    flag = _officer_named_flag()
    flag.features = [{"name": "name", "verdict": "agree", "score": 1.0, "contribution": 0.6,
                      "explanation": "Surname and given names match"},
                     {"name": "dob", "verdict": "partial", "score": 0.8, "contribution": 0.2,
                      "explanation": "Date of birth matches with day and month swapped"}]
    from tip_cases.extensions import db

    db.session.commit()
    page = login_as("border_officer").get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert 'class="match-agree"' in page and 'class="match-partial"' in page
    assert "✓</span>Surname" in page and "≈</span>Date of birth" in page
    assert 'value="Same person"' in page and 'value="Not the same person"' in page


def test_flag_rows_read_the_per_field_features_of_the_weighed_model(app, login_as):
    flag = _officer_named_flag()
    flag.features = [{"name": "surname", "verdict": "agree", "score": 1.0, "contribution": 1.5,
                      "explanation": "Surname agrees exactly (weight +1.5)"},
                     {"name": "given_names", "verdict": "disagree", "score": 0.0, "contribution": -7.5,
                      "explanation": "Given names differ (weight \u22127.5)"},
                     {"name": "date_of_birth", "verdict": "partial", "score": 0.85, "contribution": 5.3,
                      "explanation": "Date of birth matches with day and month swapped (weight +5.3)"}]
    from tip_cases.extensions import db

    db.session.commit()
    page = login_as("border_officer").get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert "✓</span>Surname" in page and "✗</span>Given names" in page and "≈</span>Date of birth" in page


def test_risk_flag_offers_concern_decisions(app, login_as):
    flag = make_flag(status="new")
    flag.kind, flag.person_id, flag.rule = "risk", None, "no_return"
    flag.evidence = {"rule": "no_return", "severity": "high", "evidence": ["Traveller aged 16 exited"],
                     "travellers": [1], "crossing_ids": [flag.crossing_id]}
    from tip_cases.extensions import db

    db.session.commit()
    page = login_as("border_officer").get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert 'value="Concern confirmed"' in page and 'value="No concern"' in page
    assert 'value="Same person"' not in page
