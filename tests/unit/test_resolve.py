"""Traveller resolution: which crossings were made by the same person (screening/engine/resolve.py)."""

from dataclasses import replace

import pytest

from screening.engine.matching import Document
from screening.engine.normalize import parse_partial_date
from screening.engine.resolve import (
    JudgementConflict,
    Judgements,
    ResolveConfig,
    TravellerIndex,
    TravellerRecord,
    pairwise_metrics,
    resolve,
)


def rec(cid, surname, given, dob=None, doc="", sex="M", nat="LSO", doc_type="P"):
    docs = (Document(doc_type, doc, nat),) if doc else ()
    return TravellerRecord(cid, surname, given, parse_partial_date(dob) if dob else None, sex, nat, docs)


def partition(assignment):
    groups = {}
    for c, k in assignment.items():
        groups.setdefault(k, set()).add(c)
    return {frozenset(g) for g in groups.values()}


THABO = [rec(f"t{i}", "Mokoena", "Thabo David", "1985-03-04", "RA1234567") for i in range(3)]

# (id, earlier crossings, new crossing, same traveller as t0?)
CASES = [
    ("identical", [], rec("x", "Mokoena", "Thabo David", "1985-03-04", "RA1234567"), True),
    ("accents-and-case", [], rec("x", "MOKOENA", "THABO DAVID", "1985-03-04", "RA1234567"), True),
    ("renewed-passport", [], rec("x", "Mokoena", "Thabo David", "1985-03-04", "RC7777777"), True),
    ("renewed-passport-and-dropped-middle-name", [], rec("x", "Mokoena", "Thabo", "1985-03-04", "RC7777777"), True),
    ("passport-ocr-confusion", [], rec("x", "Mokoena", "Thabo David", "1985-03-04", "RA12345G7"), True),
    ("swapped-name-order-no-document", [], rec("x", "Thabo David", "Mokoena", "1985-03-04"), True),
    ("orthographic-variant", [], rec("x", "Mokwena", "Thabo David", "1985-03-04"), True),
    ("initial-and-exact-date", [], rec("x", "Mokoena", "T.", "1985-03-04"), True),
    ("day-month-swapped", [], rec("x", "Mokoena", "Thabo David", "1985-04-03"), True),
    ("year-only-no-other-candidate", [], rec("x", "Mokoena", "Thabo", "1985"), True),
    ("common-name-different-birthday", [], rec("x", "Mokoena", "Thabo David", "1991-07-12", "RB5550001"), False),
    ("common-name-different-birthday-no-document", [], rec("x", "Mokoena", "Thabo", "1979-10-30"), False),
    ("different-person-entirely", [], rec("x", "Letsie", "Palesa", "1990-11-20", "RB5550001", sex="F"), False),
    # Two Thabo Mokoenas born in 1985 are known; a crossing giving only the year fits both: not guessed.
    ("ambiguous-namesakes-year-only",
     [rec("o1", "Mokoena", "Thabo David", "1985-09-21", "RB2222222"),
      rec("o2", "Mokoena", "Thabo David", "1985-09-21", "RB2222222")],
     rec("x", "Mokoena", "Thabo David", "1985"), False),
]


@pytest.mark.parametrize(("earlier", "new", "same"), [pytest.param(*c[1:], id=c[0]) for c in CASES])
def test_attach_table(earlier, new, same):
    index = TravellerIndex.build(THABO + earlier)
    key, score, explanation = index.attach(new)
    assert (key == index.key_of("t0")) is same, explanation
    assert explanation
    if same:
        assert score >= index.config.weak_link_threshold
    assert partition(index.assignment()) == partition(resolve([*THABO, *earlier, new])), "batch and attach differ"


def test_a_second_document_is_evidence_not_a_second_traveller():
    """Same names, date of birth and address; a passport, then an ID card, then a forged passport
    number: one traveller holding three documents (a different number weighs against, it does not
    decide). Namesakes born on another day stay apart."""
    home = "12 Main Rd, Maseru"
    records = [
        TravellerRecord("p1", "Dlamini", "Sipho", parse_partial_date("1995-12-31"), "M", "ZAF",
                        (Document("P", "A01234567", "ZAF"),), home),
        TravellerRecord("p2", "Dlamini", "Sipho", parse_partial_date("1995-12-31"), "M", "ZAF",
                        (Document("P", "A01234567", "ZAF"),), home),
        TravellerRecord("id", "DLAMINI", "Sipho", parse_partial_date("1995-12-31"), "M", "ZAF",
                        (Document("ID", "9512315320080", "ZAF"),), "maseru 12 main road"),
        TravellerRecord("forged", "Dlamini", "Sipho", parse_partial_date("1995-12-31"), "M", "ZAF",
                        (Document("P", "A07777777", "ZAF"),), home),
        TravellerRecord("namesake", "Dlamini", "Sipho", parse_partial_date("1995-03-14"), "M", "ZAF",
                        (Document("P", "A05550001", "ZAF"),), home),
    ]
    assignment = resolve(records)
    assert assignment["id"] == assignment["forged"] == assignment["p1"] == assignment["p2"]
    assert assignment["namesake"] != assignment["p1"]
    index = TravellerIndex.build(records[:2])
    key, score, explanation = index.attach(records[2])
    assert key == index.key_of("p1") and score >= index.config.link_threshold
    assert "Address matches" in explanation and explanation.startswith("Match probability")


def test_national_id_numbers_differing_with_only_an_initial_stay_apart():
    """Same surname and date of birth, an initial, two different South African ID numbers: not enough."""
    a = [rec(f"a{i}", "Dlamini", "Sipho", "1995-12-31", "9512315320080", nat="ZAF", doc_type="ID") for i in range(2)]
    b = rec("b", "Dlamini", "S.", "1995", "9512319996086", nat="ZAF", doc_type="ID")
    assignment = resolve([*a, b])
    assert assignment["b"] != assignment["a0"]
    assert assignment["a1"] == assignment["a0"]


def test_no_chaining_through_a_year_only_crossing():
    """A year-only crossing may sit between two namesakes; it must not chain them into one traveller."""
    p1 = [rec(f"p{i}", "Mohapi", "Palesa", "1978-06-28", "RA4113534", sex="F") for i in range(3)]
    bridge = rec("y", "Mohapi", "Palesa", "1978", "RA3052322", sex="F")
    p2 = [rec(f"q{i}", "Mohapi", "Palesa", "1978-05-21", "RA3052322", sex="F") for i in range(2)]
    assignment = resolve([*p1, bridge, *p2])
    assert assignment["q0"] != assignment["p0"]
    assert assignment["q0"] == assignment["q1"]
    assert partition(assignment) >= {frozenset({"p0", "p1", "p2"})}


def test_cannot_link_is_respected_even_for_identical_records():
    records = [rec("a", "Mokoena", "Thabo", "1985"), rec("b", "Mokoena", "Thabo", "1985"),
               rec("c", "Mokoena", "Thabo", "1985")]
    assignment = resolve(records, judgements=Judgements.of(cannot=[("a", "b")]))
    assert assignment["a"] != assignment["b"]
    assert assignment["c"] in (assignment["a"], assignment["b"])


def test_must_link_is_respected_even_against_the_data():
    records = [*THABO, rec("w", "Letsie", "Palesa", "1990-11-20", "RB5550001", sex="F")]
    assignment = resolve(records, judgements=Judgements.of(must=[("w", "t2")]))
    assert assignment["w"] == assignment["t0"] == assignment["t2"]


def test_contradictory_judgements_are_refused():
    with pytest.raises(JudgementConflict):
        resolve(THABO, judgements=Judgements.of(must=[("t0", "t1")], cannot=[("t0", "t1")]))


def test_incremental_attach_equals_batch_on_small_data():
    people = [
        ("Mokoena", "Thabo David", "1985-03-04", "RA1234567", "M"),
        ("Letsie", "Palesa", "1990-11-20", "RB5550001", "F"),
        ("van der Merwe", "Pieter", "1972-06-30", "A01234567", "M"),
        ("Mokoena", "Thabo", "1992-08-15", "RC0000123", "M"),
    ]
    records = []
    for i, (sur, given, dob, doc, sex) in enumerate(people):
        records += [rec(f"{i}a", sur, given, dob, doc, sex=sex),
                    rec(f"{i}b", sur.upper(), given.upper(), dob, doc, sex=sex),
                    rec(f"{i}c", given, sur, dob, "", sex=sex),
                    rec(f"{i}d", sur, given.split()[0], dob[:4], doc[:-1] + "9", sex=sex)]
    batch = resolve(records)
    index = TravellerIndex()
    for r in records:
        index.attach(r)
    assert partition(index.assignment()) == partition(batch)
    assert len(partition(batch)) == 4
    assert {frozenset({f"{i}a", f"{i}b", f"{i}c", f"{i}d"}) for i in range(4)} == partition(batch)


def test_detach_merge_split_and_judgements_persist():
    records = [*THABO, rec("p", "Letsie", "Palesa", "1990-11-20", "RB5550001", sex="F")]
    index = TravellerIndex.build(records)
    thabo, palesa = index.key_of("t0"), index.key_of("p")
    assert thabo != palesa

    merged = index.merge(thabo, palesa)
    assert set(index.members(merged)) == {"t0", "t1", "t2", "p"}

    new_key = index.split(merged, ["t1"])
    assert index.members(new_key) == ["t1"]
    assert index.key_of("t0") != index.key_of("t1")
    with pytest.raises(JudgementConflict):
        index.merge(new_key, index.key_of("t0"))

    # A later full resolution with the stored judgements keeps both decisions.
    again = resolve(records, judgements=index.judgements)
    assert again["t1"] != again["t0"]
    assert again["p"] == again["t0"]

    index.detach("t1")
    assert index.traveller_count == 1
    assert "t1" not in index.assignment()


def test_config_threshold_is_a_parameter():
    # The per-profile posterior and the rejoin pass would weigh the one candidate in reach against
    # "someone not found" only: strict pair thresholds alone are asked for here, so both are off.
    strict = ResolveConfig(link_threshold=0.99, weak_link_threshold=0.99, new_person_odds=1.0, rejoin_odds=None)
    assignment = resolve([THABO[0], rec("x", "Mokoena", "Thabo", "1985")], config=strict)
    assert assignment["x"] != assignment["t0"]


@pytest.mark.parametrize(("truth", "predicted", "expected"), [
    pytest.param({1: "a", 2: "a", 3: "b"}, {1: "x", 2: "x", 3: "y"}, (1.0, 1.0), id="perfect"),
    pytest.param({1: "a", 2: "a", 3: "a"}, {1: "x", 2: "x", 3: "y"}, (1.0, 1 / 3), id="split"),
    pytest.param({1: "a", 2: "b", 3: "b"}, {1: "x", 2: "x", 3: "x"}, (1 / 3, 1.0), id="over-merged"),
])
def test_pairwise_metrics_from_contingency_counts(truth, predicted, expected):
    m = pairwise_metrics(truth, predicted)
    assert (m["precision"], m["recall"]) == pytest.approx(expected)


@pytest.mark.parametrize("record", [
    rec("a", "van der Merwe", "Pieter Jacobus", "1972-06-30", "A0123456 7", nat="zaf"),
    rec("b", "MOKOENA", "T.", "1985", "", sex="X"),
    rec("c", "", "", None, "RA12345G7"),
    rec("d", "Tšabalala", "'Mathato", "1990-02", "RB5550001", sex="F"),
], ids=lambda r: r.crossing_id)
def test_memoised_prepare_equals_the_engine(record):
    """The index normalises each name string once; the result must be exactly the engine's."""
    from screening.engine.matching import prepare

    index = TravellerIndex()
    mine, engine = index._prepare(record), prepare(record.identity())
    fields = [f for f in mine.__slots__ if f != "vid"]  # the index's number for the spelling, its own
    assert [getattr(mine, f) for f in fields] == [getattr(engine, f) for f in fields]
    assert engine.vid is None and mine.vid == index._variant_ids[mine.variants]


def test_memoised_prepare_drops_empty_document_numbers_like_the_engine():
    from screening.engine.matching import prepare

    record = TravellerRecord("e", "Mokoena", "Thabo", None, "M", "LSO", (Document("P", " - ", "LSO"),))
    assert TravellerIndex()._prepare(record).documents == prepare(record.identity()).documents == ()
    two = replace(record, documents=(Document("P", " - ", "LSO"), Document("ID", "RA 1234567", "lso")))
    assert TravellerIndex()._prepare(two).documents == prepare(two.identity()).documents
    assert [d[0] for d in prepare(two.identity()).documents] == ["RA1234567"]


# Namesakes one character apart, born the same year, kept apart by their full dates of birth and their
# documents, joined by a crossing that gives only the year and no document (a different document alone
# is weighed, not a veto: issue 15).
TRACING = ResolveConfig()  # the app's thresholds are the engine's (screening.records.resolve_config)


def namesake(cid, surname, doc="", sex="M", dob="1990-01-01"):
    return rec(cid, surname, "Thabo", dob, doc, sex=sex)


def test_a_key_an_attach_returned_can_be_joined_away_and_take_joined_says_where():
    index = TravellerIndex(TRACING)
    for r, key in ((namesake(1, "Traveller00009", "RA0000071", dob="1990-01-10"), -1),
                   (namesake(2, "Traveller00099", "RA0000133", sex=None, dob="1990-01-02"), -2)):
        assert index.attach(r)[0] == r.crossing_id
        index.rekey(r.crossing_id, key)  # stored, as tracing does
    assert index.take_joined() == {}
    assert index.attach(namesake(3, "Traveller00099", dob="1990"))[0] == 3  # fits both namesakes: founds its own
    # Fits 3 best (both give only the year) and the first too: joins 3, then the first joins them.
    joined_key = index.attach(namesake(4, "Traveller00009", dob="1990"))[0]
    assert index.key_of(3) == index.key_of(4) == index.key_of(1) == joined_key == 3
    assert -1 not in index._tnum_of_key and 3 in index._tnum_of_key, "the smaller traveller's key is gone"
    joined = index.take_joined()
    assert joined == {-1: 3}
    assert index.take_joined() == {}, "the record is cleared once taken"


def test_take_joined_names_stored_travellers_and_follows_rekeys():
    index = TravellerIndex(TRACING)
    for r in (namesake(1, "Traveller00099", "RA0000071", dob="1990-01-10"),
              namesake(2, "Traveller00009", "RA0000082", sex=None, dob="1990-01-02"),
              namesake(3, "Traveller00009", "RA0000097")):
        index.rekey(index.attach(r)[0], -r.crossing_id)
    assert len({index.key_of(c) for c in (1, 2, 3)}) == 3
    # The new crossing joins all three stored travellers: the keys of two of them disappear.
    assert index.attach(namesake(4, "Traveller00009", dob="1990-01-12"))[0] == -3
    assert {index.key_of(c) for c in (1, 2, 3, 4)} == {-3}
    index.rekey(-3, -99)  # renamed before the record was taken: the record follows
    assert index.take_joined() == {-1: -99, -2: -99}


def test_a_batch_build_keeps_no_record_of_its_merges():
    records = [namesake(1, "Traveller00009", "RA0000071"), namesake(2, "Traveller00099", "RA0000133", sex=None),
               namesake(3, "Traveller00099"), namesake(4, "Traveller00009")]
    index = TravellerIndex.build(records, TRACING)
    assert index.take_joined() == {}
    assert set(index.assignment()) == {1, 2, 3, 4}


def _one_year_level() -> ResolveConfig:
    """TRACING with the model before the year-of-birth level was split ("year" for year-only against a
    full date too, m 0.118391, u 0.00296668): the weights the merge-bookkeeping cases were built on."""
    model = TRACING.match.model
    dob = model.feature("date_of_birth")
    levels = tuple(replace(lv, m=0.118391, u=0.00296668) if lv.name == "year" else lv
                   for lv in dob.levels if lv.name != "year_date")
    features = tuple(replace(dob, levels=levels) if f.name == "date_of_birth" else f for f in model.features)
    return replace(TRACING, match=replace(TRACING.match, model=replace(model, features=features)))


def test_take_joined_follows_a_traveller_joined_twice():
    # The last crossing joins 76 into 103, then 103 into 83: both keys are reported as 83.
    index = TravellerIndex(_one_year_level())
    for cid, surname, doc, sex in ((76, "Traveller00025", "", "M"), (83, "Traveller00017", "RA0000083", "M"),
                                   (96, "Traveller00012", "", None), (103, "Traveller00027", "", None),
                                   (104, "Traveller00018", "RA0000104", "M"), (106, "Traveller00018", "RA0000106", "M"),
                                   (112, "Traveller00027", "", "M")):
        index.attach(rec(cid, surname, "Thabo Peter", "1990-01-01", doc, sex=sex))
    assert index.take_joined() == {76: 83, 103: 83}
    assert set(index.assignment().values()) == {83}


def test_a_document_typo_reaches_its_traveller_past_a_full_namesake_bucket():
    # More namesakes born the same year than travellers scored per profile (max_candidates), all filed
    # before the true person: the name x year bucket alone would fill the candidates with namesakes, and
    # the mistyped document number reaches nobody. The name x exact-date route is probed first.
    cfg = ResolveConfig(max_candidates=4)
    namesakes = [rec(f"n{i}", "Mokoena", "Thabo", f"1985-{1 + i % 12:02d}-{10 + i:02d}", f"RB{2000000 + 1234567 * i}")
                 for i in range(8)]
    true = rec("t0", "Mokoena", "Thabo", "1985-03-04", "RA1234567")
    index = TravellerIndex.build(namesakes + [true], cfg)
    key, score, explanation = index.attach(rec("x", "Mokoena", "Thabo", "1985-03-04", "RA1234576"))
    assert key == index.key_of("t0"), explanation


def test_an_online_attach_scores_fewer_candidates_than_the_batch():
    # The batch weighs up to 48 namesakes (its per-profile posterior needs the set whole); an attach, one
    # crossing at a time under the pair rule, reads at most `attach_candidates` from the database.
    namesakes = [rec(f"n{i}", "Mokoena", "Thabo", f"1985-{1 + i % 12:02d}-{10 + i:02d}", f"RB{2000000 + 1234567 * i}")
                 for i in range(8)]
    cfg = ResolveConfig(max_candidates=6, attach_candidates=3)
    assert cfg.for_attach().max_candidates == 3 and cfg.for_attach().new_person_odds == cfg.new_person_odds
    assert ResolveConfig(max_candidates=2, attach_candidates=3).for_attach().max_candidates == 2
    assert ResolveConfig().max_candidates == 48 and ResolveConfig().for_attach().max_candidates == 24
    probe = rec("x", "Mokoena", "Thabo", "1985", "RC7654321")
    for config, scored in ((cfg, 6), (cfg.for_attach(), 3)):
        index = TravellerIndex.build(namesakes, config)
        calls: list = []
        index._score = lambda p, c, floor, calls=calls, score=index._score: calls.append(c) or score(p, c, floor)
        index.attach(probe)
        assert len(calls) == scored


def _sparse_prior(cfg: ResolveConfig | None = None) -> ResolveConfig:
    """The per-profile posterior on ("someone not found" at odds 0.25), and a prior as low as a
    population of ~10^9 crossings makes it: a crossing with the traveller's name and date of birth
    but another document scores ~0.6 as a pair, under the weak link threshold."""
    from dataclasses import replace

    cfg = cfg or ResolveConfig(new_person_odds=0.25)
    return replace(cfg, match=replace(cfg.match, model=replace(cfg.match.model, prior=1.3e-8)))


def _second_document(cid):
    return rec(cid, "Mokoena", "Thabo", "1985-03-04", "0012345678", doc_type="ID")


# Namesakes: the same name and birth year, born on other days (each with a passport of their own).
YEAR_NAMESAKES = [rec(f"n{i}", "Mokoena", "Thabo", f"1985-{1 + i:02d}-{20 + i:02d}", f"RB{3000000 + 7654321 * i}")
                  for i in range(4)]
TRUE_THABO = [rec(f"t{i}", "Mokoena", "Thabo", "1985-03-04", "RA1234567") for i in range(2)]


def test_a_second_document_links_when_its_traveller_dominates_the_candidates():
    cfg = _sparse_prior()
    records = [*YEAR_NAMESAKES, *TRUE_THABO, _second_document("x")]
    index = TravellerIndex.build(records, cfg)
    p = index._prepare(_second_document("x"))
    pair = index._score(p, index._profiles[index._slot_of_crossing["t0"]], 0.0)[0]
    assert 0.5 < pair < cfg.weak_link_threshold  # as a pair, too weak to link on its own
    assert index.key_of("x") == index.key_of("t0")
    assert len({index.key_of(r.crossing_id) for r in YEAR_NAMESAKES} | {index.key_of("t0")}) == 5
    # With "someone not found" weighed as a pair's prior does (odds 1), nothing is rescued: the old rule
    # (the rejoin pass, which weighs the same crossing later at its own odds, off).
    plain = replace(cfg, new_person_odds=1.0, rejoin_odds=None)
    assert resolve(records, plain)["x"] != resolve(records, plain)["t0"]
    # An attach cannot wait for the persons still to come: it keeps the pair rule's answer.
    online = TravellerIndex.build(YEAR_NAMESAKES + TRUE_THABO, cfg)
    assert online.attach(_second_document("x"))[0] != online.key_of("t0")


def test_a_second_document_fitting_two_namesakes_equally_links_to_neither():
    # Two people share the name and the full date of birth (each with a passport of their own); a
    # crossing with an ID card fits both as well: the posterior is split, nothing is guessed.
    cfg = _sparse_prior()
    twin = [rec(f"u{i}", "Mokoena", "Thabo", "1985-03-04", "RB7654321") for i in range(2)]
    assignment = resolve([*YEAR_NAMESAKES, *TRUE_THABO, *twin, _second_document("x")], cfg)
    assert assignment["u0"] != assignment["t0"]
    assert assignment["x"] not in (assignment["t0"], assignment["u0"])


def test_the_per_profile_posterior_keeps_the_date_of_birth_veto():
    # Only a namesake born on another day is in reach: however dominant, it is not linked.
    assignment = resolve([YEAR_NAMESAKES[0], _second_document("x")], _sparse_prior())
    assert assignment["x"] == "x"


def _home(cid, doc="RA1234567", doc_type="P", address="12 Main Rd Maseru", given="Thabo"):
    docs = (Document(doc_type, doc, "LSO"),) if doc else ()
    return TravellerRecord(cid, "Mokoena", given, parse_partial_date("1985-03-04"), "M", "LSO", docs, address)


def _rejoin_prior() -> ResolveConfig:
    """A prior as sparse as heavy namesakes make it: an ID card with a new address scores ~0.6 against
    the passport crossings as a pair; with the passport's home address, over the link threshold."""
    cfg = ResolveConfig(rejoin_odds=3.0)
    return replace(cfg, match=replace(cfg.match, model=replace(cfg.match.model, prior=3e-8)))


def test_a_second_document_traveller_without_a_home_of_its_own_rejoins_its_person():
    # The ID card's first crossing (new address) is too weak to link and founds a traveller; its second
    # (home address) fits the passport traveller too, but the founders' rule keeps the two travellers
    # apart, so the card's crossings stay a second traveller. The rejoin pass weighs that traveller as
    # one: its best pair (the home address) against everyone else it could be.
    cfg = _rejoin_prior()
    card = [_home("x1", "0012345678", "ID", "4 Hill St Leribe"), _home("x2", "0012345678", "ID")]
    records = [*YEAR_NAMESAKES, *(_home(f"t{i}") for i in range(3)), *card]
    before = resolve(records, replace(cfg, rejoin_odds=None))
    assert before["x1"] == before["x2"] != before["t0"]
    after = resolve(records, cfg)
    assert after["x1"] == after["x2"] == after["t0"]
    assert len({after[r.crossing_id] for r in YEAR_NAMESAKES} | {after["t0"]}) == 5


def test_a_second_document_traveller_known_only_by_its_year_of_birth_rejoins_its_person():
    # As above, for a person whose full date of birth was never known (every crossing gives "1985"):
    # the candidates come from the name x year route alone and are all scored, so the pass weighs it.
    cfg = _rejoin_prior()

    def year_only(r):
        return replace(r, dob=parse_partial_date("1985"))

    card = [year_only(_home("x1", "0012345678", "ID", "4 Hill St Leribe")), year_only(_home("x2", "0012345678", "ID"))]
    records = [*YEAR_NAMESAKES, *(year_only(_home(f"t{i}")) for i in range(3)), *card]
    before = resolve(records, replace(cfg, rejoin_odds=None))
    assert before["x1"] == before["x2"] != before["t0"]
    after = resolve(records, cfg)
    assert after["x1"] == after["x2"] == after["t0"]
    assert len({after[r.crossing_id] for r in YEAR_NAMESAKES} | {after["t0"]}) == 5


def test_a_traveller_that_gave_one_address_twice_has_a_home_and_is_not_rejoined():
    # The same card traveller, once more at its own address (another spelling of the name, so another
    # profile): a home of its own, as a namesake who is another person has; it stays apart.
    cfg = _rejoin_prior()
    card = [_home("x1", "0012345678", "ID", "4 Hill St Leribe"), _home("x2", "0012345678", "ID"),
            _home("x3", "0012345678", "ID", "4 Hill St Leribe", given="Thabo T")]
    assignment = resolve([*YEAR_NAMESAKES, *(_home(f"t{i}") for i in range(3)), *card], cfg)
    assert assignment["x1"] == assignment["x2"] == assignment["x3"] != assignment["t0"]


# --- twin rule: a usual identity of its own needs a shared document or address -----------------------


def _twin_records():
    # Two persons with one name and one full date of birth, each crossing with his own passport from his
    # own home, twice or more: as pairs, name + date agree and only the document and address differ.
    thabo = [_home(f"t{i}") for i in range(3)]
    twin = [_home(f"w{i}", "RB7654321", address="7 Kingsway Mafeteng") for i in range(2)]
    return thabo, twin


def test_a_namesake_with_his_own_document_and_home_repeated_is_kept_apart_by_the_twin_rule():
    thabo, twin = _twin_records()
    cfg = ResolveConfig(twin_rule=True)
    index = TravellerIndex.build(thabo + twin, replace(cfg, twin_rule=False))
    p, q = (index._profiles[index._slot_of_crossing[c]] for c in ("w0", "t0"))
    assert index._score(p, q, 0.0)[0] >= cfg.link_threshold  # as a pair, name + date alone link them
    assert index.key_of("w0") == index.key_of("t0")  # ... and without the rule they are merged
    after = resolve(thabo + twin, cfg)
    assert after["w0"] == after["w1"] != after["t0"]


def test_the_twin_rule_still_joins_a_repeated_profile_sharing_an_address_or_a_document():
    thabo, _ = _twin_records()
    cfg = ResolveConfig(twin_rule=True)
    renewed_at_home = [_home(f"r{i}", "RC1111111") for i in range(2)]  # a new passport, the same home
    moved = [_home(f"m{i}", address="9 Pioneer Rd Hlotse") for i in range(2)]  # the same passport, moved
    after = resolve([*thabo, *renewed_at_home, *moved], cfg)
    assert after["r0"] == after["r1"] == after["m0"] == after["m1"] == after["t0"]


def test_the_twin_rule_leaves_a_single_crossing_to_the_pair_rule():
    # One crossing with another passport and another address is what a second document looks like:
    # the rule is for a usual identity (a profile repeated), not for one crossing.
    thabo, _ = _twin_records()
    once = _home("x", "RB7654321", address="7 Kingsway Mafeteng")
    after = resolve([*thabo, once], ResolveConfig(twin_rule=True))
    assert after["x"] == after["t0"]


def test_the_twin_rule_does_not_merge_two_usual_identities_through_one_crossing():
    # A crossing with no document fits both travellers over the merge threshold (at this small
    # population's prior); the two founders share neither a document nor an address, so they stay apart.
    thabo, twin = _twin_records()
    bridge = _home("x", "", address="")
    cfg = ResolveConfig(twin_rule=True)
    index = TravellerIndex.build([*thabo, *twin, bridge], cfg)
    p = index._profiles[index._slot_of_crossing["x"]]
    for c in ("t0", "w0"):
        assert index._score(p, index._profiles[index._slot_of_crossing[c]], 0.0)[0] >= cfg.merge_threshold
    assert index.key_of("t0") != index.key_of("w0")


# --- the address route and the year-only candidate set ------------------------------------------------


def _at(cid, given, dob, doc, address, doc_type="P"):
    return TravellerRecord(cid, "Mokoena", given, parse_partial_date(dob), "M", "LSO",
                           (Document(doc_type, doc, "LSO"),), address)


def test_a_document_typo_from_the_usual_home_reaches_its_traveller_past_a_full_namesake_bucket():
    # Only the person's year of birth is known, so the name pair x year bucket is the only name route, and
    # it holds more namesakes (filed first) than travellers scored per profile. The mistyped number reaches nobody;
    # the home address with a name and the year does.
    cfg = _sparse_prior(ResolveConfig(max_candidates=4))
    namesakes = [_at(f"n{i}", "Thabo", f"1985-{1 + i:02d}-{10 + i:02d}", f"RB{2000000 + 1234567 * i}",
                     f"{i} Kingsway Mafeteng") for i in range(8)]
    true = _at("t0", "Thabo", "1985", "RA1234567", "12 Main Rd Maseru")
    typo = _at("x", "Thabo", "1985", "RA1234576", "12 Main Rd Maseru")
    index = TravellerIndex.build(namesakes + [true], cfg)
    key, _, explanation = index.attach(typo)
    assert key == index.key_of("t0"), explanation
    # The same crossing from another address has no route to its traveller.
    index = TravellerIndex.build(namesakes + [true], cfg)
    assert index.attach(replace(typo, address="3 Hill St Leribe"))[0] != index.key_of("t0")


def test_the_address_route_is_read_only_once_the_name_routes_are_full():
    # A crossing with no given name and another birthday, from the village of a Thabo Mokoena: no name
    # route leads to him (one name key, another date). Read first, the address would put him in reach,
    # and as a pair the two score over the link threshold; at 10^6 heavy namesakes such village
    # neighbours cost more precision than the route gave recall (docs/performance.md, session 11).
    village = "Ha Seoli, Leribe District"
    thabo = [_at(f"a{i}", "Thabo", "1985-03-04", "RA1234567", village) for i in range(3)]
    x = TravellerRecord("x", "Mokoena", "", parse_partial_date("1985-03-14"), "M", "LSO", (), village)
    index = TravellerIndex.build(thabo)
    p = index._prepare(x)
    assert index._score(p, index._profiles[index._slot_of_crossing["a0"]], 0.0)[0] > 0.9
    assert resolve([*thabo, x])["x"] == "x"


def test_the_address_route_is_not_in_the_database_key_table():
    # The attach through the database blocks on `blocking.store_keys`, which stays as it was.
    from screening.engine.blocking import store_keys
    from screening.engine.resolve import _address_keys

    index = TravellerIndex()
    p = index._prepare(_at("t0", "Thabo", "1985", "RA1234567", "12 Main Rd Maseru"))
    assert _address_keys(p) and not set(_address_keys(p)) & set(store_keys(p, 6))
    assert _address_keys(index._prepare(_at("t1", "Thabo", "1985", "RA1234567", ""))) == []


def test_a_year_only_second_document_is_weighed_when_every_namesake_of_its_year_was_scored():
    # Namesakes born a year before or after fill the candidates (max_candidates) after the true person
    # and no one else born that year: the candidate set of the year is complete, the rest are a year off.
    # The per-profile posterior then links the ID card; counting those a year off as unscored, it did not.
    cfg = ResolveConfig(new_person_odds=0.25, max_candidates=4)
    cfg = replace(cfg, match=replace(cfg.match, model=replace(cfg.match.model, prior=3.6e-7)))
    true = [replace(r, dob=parse_partial_date("1985")) for r in TRUE_THABO]
    off = [rec(f"o{i}", "Mokoena", "Thabo", f"{1984 + 2 * (i % 2)}-{1 + i:02d}-{10 + i:02d}",
               f"RB{4000000 + 7654321 * i}") for i in range(6)]
    card = replace(_second_document("x"), dob=parse_partial_date("1985"))
    records = [*true, *off, card]
    index = TravellerIndex.build(records, cfg)
    pair = index._score(index._prepare(card), index._profiles[index._slot_of_crossing["t0"]], 0.0)[0]
    assert 0.5 < pair < cfg.weak_link_threshold  # too weak to link as a pair
    assert index.key_of("x") == index.key_of("t0")
    assert resolve(records, replace(cfg, year_complete=False, rejoin_odds=None))["x"] == "x"


def test_a_large_build_leaves_its_objects_to_reference_counting(monkeypatch):
    """Past the threshold the objects made during a build go to the permanent generation (the collector's
    first pass would walk them all for nothing); a small build leaves the collector as it was."""
    import gc

    import screening.engine.resolve as resolve_module

    records = [rec(str(i), "Mokoena", "Thabo", "1985-03-07", f"RA{i:07d}") for i in range(50)]
    frozen = gc.get_freeze_count()
    TravellerIndex.build(records)
    assert gc.isenabled() and gc.get_freeze_count() == frozen
    monkeypatch.setattr(resolve_module, "_FREEZE_AFTER", 0)
    try:
        index = TravellerIndex.build(records)
        assert gc.isenabled() and gc.get_freeze_count() > frozen
        assert index.traveller_count == 1
    finally:
        gc.unfreeze()


def test_the_name_memo_keys_spellings_prepared_elsewhere_too():
    """Profiles the index prepared carry its number for their spelling; one prepared by the engine has
    none and is numbered on first use. Both read the same weight as the engine computes."""
    from screening.engine.matching import compare_names, name_weight, prepare

    index = TravellerIndex.build([rec("1", "Mokoena", "Thabo", "1985-03-07", "RA1234567"),
                                  rec("2", "Mokwena", "Thabo", "1985-03-07", "RA7654321")])
    mine = index._profiles[index._slot_of_crossing["1"]]
    other = index._prepare(rec("3", "Mokwena", "Thabo"))
    foreign = prepare(rec("4", "Mokwena", "Thabo").identity())
    assert foreign.vid is None and other.vid is not None
    expected = name_weight(compare_names(mine, other, index._match), index._match)
    assert index._name_weight(mine, other) == expected
    assert index._name_weight(mine, foreign) == expected == index._name_weight(foreign, mine)
    assert index._name_weight(foreign, other) == name_weight(compare_names(foreign, other, index._match), index._match)
