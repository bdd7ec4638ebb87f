"""The miss anatomy's ceiling: only a crossing a namesake could equally have made stays out of reach."""

from itertools import combinations

from bench.miss_anatomy import anatomy, ceiling, identity_key, sequence_signal


def _person(pid, surname="Mokoena", given="Thabo", dob="1990-05-17", address="12 Main Rd Maseru"):
    return {"person_id": pid, "surname": surname, "given_names": given, "date_of_birth": dob, "sex": "M",
            "nationality": "LSO", "address": address}


def _row(xid, person, cls="clean", noise=(), address=None, number="RA123456", at="2025-01-01T08:00:00+00:00",
         direction="exit", post="Maseru Bridge"):
    return {"external_id": xid, "person_id": person["person_id"], "surname": person["surname"],
            "given_names": person["given_names"], "date_of_birth": person["date_of_birth"], "sex": "M",
            "nationality": "LSO", "document_number": number, "address": address or person["address"],
            "noise_class": cls, "noise": list(noise), "crossed_at": at, "direction": direction,
            "border_post": post}


def test_identity_key_folds_case_and_given_name_order_and_needs_a_full_date():
    assert identity_key("MOKOENA", "Thabo Lerato", "1990-05-17", "M", "LSO") == \
        identity_key("mokoena", "lerato thabo", "1990-05-17", "M", "LSO")
    assert identity_key("Mokoena", "Thabo", "1990", "M", "LSO") is None


def test_a_moved_forgery_is_out_of_reach_only_when_a_namesake_shares_the_identity():
    alone, twin_a, twin_b = _person(1, surname="Ntlama"), _person(2), _person(3, address="4 Hill St Leribe")
    rows = [
        _row("a1", alone), _row("a2", alone),
        _row("a3", alone, "forged_document", ("forged_document", "address_move"), "9 Far Rd Mafeteng", "RA999999"),
        _row("b1", twin_a), _row("b2", twin_a),
        _row("b3", twin_a, "forged_document", ("forged_document", "address_move"), "7 New Rd Berea", "RA888888"),
        _row("c1", twin_b, number="RB111111"),
    ]
    # Every forgery was left apart; everything else is right.
    predicted = {"a1": "A", "a2": "A", "a3": "A3", "b1": "B", "b2": "B", "b3": "B3", "c1": "C"}
    an = anatomy([alone, twin_a, twin_b], rows, predicted, ("forged_document",))
    assert an["ambiguous"] == {"b3"}
    keys = {key[1]: n for key, n in an["table"].items()}
    assert keys == {"0": 1, "1": 1}  # twins: none for Ntlama, one (person 3) for Mokoena
    total, kept = ceiling(an["rows_of"], an["ambiguous"])
    assert total == 3 + 3 + 0
    assert kept == 3 + 1  # b3's two pairs out of reach


def test_ambiguous_crossings_of_one_person_still_link_to_each_other_through_a_shared_document():
    p = _person(1)
    rows = [_row("x1", p), _row("x2", p, number="RZ1"), _row("x3", p, number="RZ1")]
    total, kept = ceiling({1: rows}, {"x2", "x3"})
    assert (total, kept) == (3, 1)
    assert kept == sum(1 for a, b in combinations(rows, 2)
                       if {a["external_id"], b["external_id"]} == {"x2", "x3"})


def test_the_travel_sequence_is_read_in_time_order_per_person():
    p = _person(1)
    rows = [_row("x2", p, at="2025-01-02T08:00:00+00:00", direction="entry"),
            _row("x1", p, at="2025-01-01T08:00:00+00:00", direction="exit"),
            _row("x3", p, at="2025-01-03T08:00:00+00:00", direction="entry", post="Ficksburg")]
    s = sequence_signal(rows)
    assert s["steps"] == 2
    assert s["reverses"] == 0.5  # exit -> entry reverses, entry -> entry does not
    assert s["same_post"] == 0.5
