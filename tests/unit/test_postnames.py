"""Post names as people write them: a table of spellings and what each resolves to (pure, no app)."""

from __future__ import annotations

import pytest

from tip_cases.postnames import KnownPost, PostDirectory, post_key
from tip_cases.reference import BORDER_POSTS, POST_ALIASES


def directory(with_aliases=True) -> PostDirectory:
    aliases: dict[str, list[str]] = {}
    for code, alias in POST_ALIASES if with_aliases else []:
        aliases.setdefault(code, []).append(alias)
    return PostDirectory([KnownPost(i, code, name, tuple(aliases.get(code, ())))
                          for i, (code, name, *_rest) in enumerate(BORDER_POSTS, start=1)])


@pytest.mark.parametrize(("text", "code", "how"), [
    ("MSB", "MSB", "exact"),                                   # the code
    ("msb", "MSB", "exact"),
    ("Maseru Bridge", "MSB", "exact"),
    ("  MASERU   bridge ", "MSB", "exact"),                    # case and spaces
    ("Van Rooyen's Gate", "VRG", "exact"),
    ("Van Rooyen\u2019s Gate", "VRG", "exact"),                # a typographic apostrophe
    ("Van Rooyens Gate", "VRG", "exact"),                      # no apostrophe at all
    ("Sephapo's Gate", "SPG", "alias"),                        # the South African side's spelling
    ("SEPHAPOS GATE", "SPG", "alias"),
    ("Moshoeshoe I Airport", "MIA", "alias"),
    ("Moshoeshoe I International Airport", "MIA", "exact"),
    ("Qacha\u0301s Nek", "QNK", "exact"),                      # a stray accent
    ("Ramatseliso Gate", "RMG", "close"),                      # a spelling slip, one post clearly nearest
    ("Maseru Brige", "MSB", "close"),
    ("Tele Brdge", "TLB", "close"),
])
def test_spellings_that_resolve(text, code, how):
    found = directory().resolve(text)
    assert found.ok and found.post.code == code and found.status == how


def test_sephapos_gate_needs_no_alias_to_be_close_but_the_alias_makes_it_certain():
    assert directory(with_aliases=False).resolve("Sephapo's Gate").status == "close"
    assert directory().resolve("Sephapo's Gate").status == "alias"


def test_moshoeshoe_airport_is_only_resolved_through_its_alias():
    found = directory(with_aliases=False).resolve("Moshoeshoe I Airport")
    assert not found.ok and found.status == "unknown"


def test_an_ambiguous_name_is_refused_with_its_candidates():
    d = directory()
    found = d.resolve("Ma Bridge")
    assert not found.ok and found.status == "ambiguous"
    assert {p.code for p in found.candidates} >= {"MSB", "PKB"}
    message = d.explain("Ma Bridge", found)
    assert "Maseru Bridge (MSB)" in message and "Peka Bridge (PKB)" in message and "post code" in message


@pytest.mark.parametrize("text", ["Durban", "Nowhere Gate", "", "   ", "'''"])
def test_an_unknown_name_lists_the_known_posts(text):
    d = directory()
    found = d.resolve(text)
    assert not found.ok and found.status == "unknown"
    message = d.explain(text, found)
    assert "is not a known border post" in message
    assert all(p.label in message for p in d.posts)


def test_a_code_and_a_name_win_over_another_posts_alias():
    d = PostDirectory([KnownPost(1, "AAA", "Alpha Gate", ("Beta Gate",)), KnownPost(2, "BBB", "Beta Gate")])
    assert d.resolve("Beta Gate").post.code == "BBB"


def test_post_key_ignores_case_apostrophes_accents_and_punctuation():
    assert post_key("Sephapho's Gate") == post_key("SEPHAPHOS  gate") == "sephaphos gate"
    assert post_key("Qáchá’s-Nek") == "qachas nek"
