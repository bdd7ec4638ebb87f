"""An officer who reads Sesotho reads the whole flag page in Sesotho: the matcher's explanation lines (with
their weights), the match probability, the navigation and the page's own words; the English reader's page
is unchanged."""

from __future__ import annotations

import html as htmllib
import re
from datetime import timedelta

from sqlalchemy import select

from screening import services
from screening.engine.normalize import parse_partial_date
from screening.models import Flag
from tests.factories import post
from tests.screening.builders import NOW, make_person, new_crossing
from tests.tracing.builders import NOW as TRACE_NOW
from tests.tracing.builders import arrive, run_pattern_job
from tip_cases.extensions import db


def _flag_from_the_matcher() -> Flag:
    """A real flag: a person of interest, then a crossing the matcher scores above the threshold."""
    # A protective alert shows its explanation only to the roles it names (need to know): name the officer.
    make_person("Mokoena", "Palesa", dob="2009-03-14", documents=[("P", "RA123456", "LSO")],
                need_to_know_roles=["border_officer"])
    services.store_crossings([new_crossing(dob="2009-03-14", document_number="RA123456", document_type="P",
                                           document_country="LSO")], source="test", actor=None, now=NOW)
    db.session.commit()
    return db.session.execute(select(Flag).where(Flag.kind == "identity")).scalar_one()


def _section(page: str, testid: str, tag: str) -> str:
    return re.search(rf'<{tag} data-testid="{testid}">(.*?)</{tag}>', page, re.S).group(1)


def _nav(page: str) -> str:
    return page.split('data-testid="main-nav"', 1)[1].split("</nav>", 1)[0]


def test_an_officer_reading_sesotho_sees_the_flag_explained_in_sesotho(app, login_as):
    flag = _flag_from_the_matcher()
    by_name = {f["name"]: f for f in flag.features}
    surname = by_name["surname"]["explanation"]
    assert surname.startswith("Surname agrees exactly (weight ")  # what the matcher stored, in English
    weight = re.search(r"\(weight ([^)]+)\)", surname).group(1)  # e.g. "+4.2", as the matcher wrote it

    officer = login_as("border_officer")
    officer.submit("/account/language", {"locale": "st"})
    page = officer.get(f"/screening/flags/{flag.id}").get_data(as_text=True)

    lines = _section(page, "explanations", "ul")
    assert f"<strong>Fane</strong>: Fane e tšoana hantle (boima {weight})" in lines
    assert "Letsatsi la tsoalo lea tšoana" in lines and "Nomoro ea tokomane ea tšoana" in lines
    for english in ("Surname agrees", "weight", "Date of birth matches", "Document number matches",
                    "this pair alone"):
        assert english not in lines
    assert "(para ena e le " in lines  # whether the probability is shared, and the pair's own
    # every line kept its figure: as many weights in Sesotho as the matcher stored
    assert lines.count("(boima ") == sum(htmllib.escape(f["explanation"]).count("(weight ")
                                         for f in flag.features if f["name"] != "namesakes" or f["contribution"])
    percent = "ho feta 99%" if flag.score >= 0.995 else f"{round(flag.score * 100)}%"
    assert f"Monyetla oa hore ke eena <strong>{percent}</strong>" in _section(page, "match-probability", "p")
    assert "Hobaneng sistimi e ba bapisitse" in page and "Why the system" not in page

    # the navigation and the page's frame are Sesotho too
    assert '<html lang="st">' in page
    nav = _nav(page)
    assert ">Mola oa litemoso" in nav and ">Ngola</a>" in nav and 'aria-label="Heke ea moeli"' in nav
    assert ">Puo</a>" in nav and ">Tsoa</button>" in nav and "ofisiri ea moeli" in nav
    for english in ("Flag queue", ">Capture<", "Sign out", "Password<", "border officer"):
        assert english not in nav


def test_the_same_flag_reads_english_for_an_english_reader(app, login_as):
    flag = _flag_from_the_matcher()
    officer = login_as("border_officer")
    page = officer.get(f"/screening/flags/{flag.id}").get_data(as_text=True)
    assert '<html lang="en">' in page
    lines = _section(page, "explanations", "ul")
    assert "<strong>Surname</strong>: Surname agrees exactly (weight " in lines and "boima" not in lines
    nav = _nav(page)
    assert ">Flag queue" in nav and 'href="/account/language" data-testid="nav-language">Language</a>' in nav


def test_a_risk_flag_names_its_rule_and_action_in_sesotho(app, login_as):
    """A risk flag stores its rule's label and action in English; the page says them in the reader's language."""
    from tip_cases import demo

    demo.load()
    db.session.commit()
    flag = db.session.execute(select(Flag).where(Flag.kind == "risk", Flag.rule == "no_return")
                              .order_by(Flag.id).limit(1)).scalar_one()
    assert flag.action.startswith("Inform the anti-TIP unit")  # stored in English, as the API returns it
    reader = login_as("investigator")
    reader.user.locale = "st"
    page = htmllib.unescape(reader.get(f"/screening/flags/{flag.id}").get_data(as_text=True))
    assert "Motho e monyenyane o tsoile 'me ha a so khutle" in page  # "Young person exited and has not returned"
    assert "Tsebisa lekala la anti-TIP" in _section(page, "flag-action", "span")
    assert "Young person exited" not in page and "Inform the anti-TIP unit" not in page
    patterns = htmllib.unescape(reader.get("/tracing/patterns").get_data(as_text=True))
    assert "Ngoana ea se nang motsoali kapa mohlokomeli ea ngotsoeng" in patterns  # the rule filter's choices
    assert "Minor without a recorded parent or guardian" not in patterns


def _risk_flags_from_the_rules() -> tuple[Flag, Flag]:
    """Real risk flags: a boy recorded as travelling without a parent or guardian (rule a), and a woman who
    crossed with a passport, then a national ID card (rule d), each stored as it arrives and evaluated by the
    pattern job."""
    arrive("Ramone", "Tumelo", dob="2012-01-09", document=None, relation="none")
    arrive("Lebona", "Nthabeleng", dob="1994-08-14", sex="F", document="RA3345120", days_ago=30)
    services.store_crossings([services.NewCrossing(
        external_id="LB-ID", border_post_id=post("MSB").id, direction="entry", crossed_at=TRACE_NOW - timedelta(days=5),
        surname="Lebona", given_names="Nthabeleng", sex="F", dob=parse_partial_date("1994-08-14"), nationality="LSO",
        document_type="ID", document_number="0494081412", document_country="LSO")],
        source="test", actor=None, now=TRACE_NOW)
    db.session.commit()
    run_pattern_job(TRACE_NOW)
    minor = db.session.execute(select(Flag).where(Flag.rule == "unaccompanied_minor")).scalar_one()
    documents = db.session.execute(select(Flag).where(Flag.rule == "many_identities")).scalar_one()
    return minor, documents


def _evidence(page: str) -> str:
    return re.search(r'<ul class="mb-1" data-testid="risk-evidence">(.*?)</ul>', page, re.S).group(1)


MINOR_ST = ("Mohahlauli ea lilemo li 14 o tšetse (ho tsoa) MSB ka 2026-11-20 10:00, o ngotsoe a tsamaea ntle le "
            "motsoali kapa mohlokomeli; lengolo la tumello ea motsoali ha le a bonoa")
MINOR_EN = ("Traveller aged 14 crossed (exit) at MSB on 2026-11-20 10:00, recorded as travelling without a parent "
            "or guardian; no parental consent letter seen")


def test_risk_evidence_reads_sesotho_for_a_sesotho_reader_and_english_for_an_english_one(app, login_as):
    """The rules' evidence sentences (stored in English for exports and the API) are said in the reader's
    language on the flag page and the patterns page, with their figures, dates and masked documents intact."""
    minor, documents = _risk_flags_from_the_rules()
    assert minor.evidence["sentences"] == [MINOR_EN]  # the English kept for old readers
    assert minor.reason == MINOR_EN
    assert documents.reason.startswith("2 different documents held within 25 days: passport RA")

    reader = login_as("investigator")
    reader.user.locale = "st"
    page = htmllib.unescape(reader.get(f"/screening/flags/{minor.id}").get_data(as_text=True))
    evidence = _evidence(page)
    assert f"<li>{MINOR_ST}</li>" in evidence
    assert "Traveller aged" not in page and "no parental consent letter" not in page  # nor in the reason
    assert page.count(MINOR_ST) == 2  # the reason for the alert and the evidence list

    page = htmllib.unescape(reader.get(f"/screening/flags/{documents.id}").get_data(as_text=True))
    evidence = _evidence(page)
    assert "Litokomane tse fapaneng tse 2 li tšoeroe ka hare ho matsatsi a 25: phasepoto RA•••••20 (LSO, " in evidence
    assert "karete ea boitsebiso ea naha 04••••••12 (LSO, hang, la pele " in evidence
    assert "different documents" not in page and "passport" not in evidence and "0494081412" not in page

    patterns = htmllib.unescape(reader.get("/tracing/patterns").get_data(as_text=True))
    assert MINOR_ST in patterns and "Traveller aged" not in patterns
    crossing = htmllib.unescape(reader.get(f"/screening/crossings/{minor.crossing_id}").get_data(as_text=True))
    assert MINOR_ST in crossing and "Traveller aged" not in crossing  # the screening result's reason

    reader.user.locale = "en"  # the same flag, read in English
    page = htmllib.unescape(reader.get(f"/screening/flags/{minor.id}").get_data(as_text=True))
    assert f"<li>{MINOR_EN}</li>" in _evidence(page)
    assert "Mohahlauli ea lilemo" not in page


def test_a_risk_flag_stored_before_the_rules_kept_their_templates_shows_its_english(app, login_as):
    """No "says" in the evidence (flags raised before): the stored English is shown, not an empty list."""
    minor, _ = _risk_flags_from_the_rules()
    english = minor.evidence["sentences"][0]
    minor.evidence = {k: v for k, v in minor.evidence.items() if k != "says"}  # as flags stored before
    db.session.commit()
    reader = login_as("investigator")
    reader.user.locale = "st"
    page = htmllib.unescape(reader.get(f"/screening/flags/{minor.id}").get_data(as_text=True))
    assert f"<li>{english}</li>" in _evidence(page)
    assert "Mohlokomeli" not in _evidence(page) and "Mohahlauli ea lilemo" not in page
