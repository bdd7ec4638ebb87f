"""Navigation shaped by role: each role's own few destinations, the rest under "More", counts that help."""

from __future__ import annotations

import re
from datetime import date, timedelta

import pytest

from tests.cases.builders import make_case, make_flag
from tests.factories import make_user
from tip_cases.access import scope_for
from tip_cases.cases.models import CaseTask
from tip_cases.extensions import db
from tip_cases.navigation import ITEMS, ROLE_NAV, plan

ALL_ENDPOINTS = {i.endpoint for i in ITEMS.values()}


def _plan(roles, registered=ALL_ENDPOINTS):
    groups, more = plan(roles, lambda role, action: scope_for(role, action) is not None,
                        lambda endpoint: endpoint in registered)
    return [(name, [i.key for i in items]) for name, items in groups], [i.key for i in more]


@pytest.mark.parametrize(("role", "primary"), [
    ("border_officer", ["queue", "capture", "crossings"]),
    ("investigator", ["cases", "travellers", "patterns", "trace"]),
    ("manager", ["dashboard", "statistics", "exports", "approvals"]),
    ("admin", ["people", "posts", "partners", "audit", "jobs"]),
])
def test_each_role_has_its_own_few_destinations(role, primary):
    groups, more = _plan([role])
    assert groups == [(ROLE_NAV[role].group, primary)]
    assert not set(more) & set(primary)


def test_officer_has_nothing_hidden_and_manager_keeps_the_rest_under_more():
    assert _plan(["border_officer"])[1] == []
    _, more = _plan(["manager"])
    assert {"cases", "queue", "audit", "partners", "import", "situation"} <= set(more)
    assert "people" not in more  # never offered a page the role may not open


def test_several_roles_merge_their_groups_without_repeating_a_destination():
    groups, more = _plan(["investigator", "manager"])
    assert [name for name, _ in groups] == ["Investigations", "Management"]
    shown = [k for _, keys in groups for k in keys] + more
    assert len(shown) == len(set(shown))
    assert "cases" in groups[0][1] and "cases" not in more  # the manager's "More" copy is dropped
    assert {"dashboard", "approvals", "persons", "audit"} <= set(shown)


def test_a_page_not_yet_registered_is_left_out_and_appears_once_it_is():
    _, more = _plan(["manager"], ALL_ENDPOINTS - {"screening.match_model"})
    assert "model" not in more
    _, more = _plan(["manager"])
    assert "model" in more


def _nav_html(browser) -> str:
    html = browser.get("/").get_data(as_text=True)
    return html[html.index('data-testid="main-nav"'):html.index("</nav>")]


def test_officer_sees_new_flags_at_their_post_only(app, login_as):
    make_flag(status="new", post_code="MSB")
    make_flag(status="new", post_code="MSB")
    make_flag(status="acknowledged", post_code="MSB")
    make_flag(status="new", post_code="MPB")  # another post's flag is not counted
    nav = _nav_html(login_as("border_officer", post_code="MSB"))
    count = re.search(r'data-testid="nav-count-queue">(\d+)<span class="visually-hidden"> new flags', nav)
    assert count and count.group(1) == "2"
    assert 'data-testid="nav-more"' not in nav


def test_investigator_sees_their_tasks_due(app, login_as):
    inv = make_user("investigator")
    case = make_case(inv)
    today = date.today()
    db.session.add_all([
        CaseTask(case_id=case.id, title="Due yesterday", assignee_id=inv.id, due_on=today - timedelta(days=1)),
        CaseTask(case_id=case.id, title="Due in a week", assignee_id=inv.id, due_on=today + timedelta(days=7)),
        CaseTask(case_id=case.id, title="Someone else's", assignee_id=make_user("investigator").id, due_on=today),
    ])
    db.session.commit()
    browser = login_as(inv)
    nav = _nav_html(browser)
    assert re.search(r'data-testid="nav-count-cases">1<span class="visually-hidden"> tasks due', nav)
    # The home page says the same in words.
    home = browser.get("/").get_data(as_text=True)
    assert re.search(r'data-testid="home-count-cases"><span class="fw-semibold">1</span> tasks due', home)


def test_no_count_is_shown_when_nothing_is_due(app, login_as):
    nav = _nav_html(login_as("investigator"))
    assert "nav-count-cases" not in nav


def test_the_current_page_is_marked(app, login_as):
    html = login_as("manager").get("/reports/statistics").get_data(as_text=True)
    assert re.search(r'class="nav-link active" aria-current="page"\s+href="/reports/statistics"', html)
