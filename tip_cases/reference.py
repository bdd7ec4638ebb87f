"""Reference data every installation has, demo or not. The migrations insert it; tests reseed from it."""

from __future__ import annotations

# (code, name, kind, district, post across the border)
BORDER_POSTS: list[tuple[str, str, str, str | None, str | None]] = [
    ("MSB", "Maseru Bridge", "road", "Maseru", "Maseru Bridge (Ladybrand, ZA)"),
    ("MPB", "Maputsoe Bridge", "road", "Leribe", "Ficksburg Bridge (ZA)"),
    ("VRG", "Van Rooyen's Gate", "road", "Mafeteng", "Van Rooyen's Gate (Wepener, ZA)"),
    ("CAL", "Caledonspoort", "road", "Butha-Buthe", "Caledonspoort (Fouriesburg, ZA)"),
    ("QNK", "Qacha's Nek", "road", "Qacha's Nek", "Qacha's Nek (Matatiele, ZA)"),
    ("SNP", "Sani Pass", "road", "Mokhotlong", "Sani Pass (Underberg, ZA)"),
    ("TLB", "Tele Bridge", "road", "Quthing", "Tele Bridge (Sterkspruit, ZA)"),
    ("PKB", "Peka Bridge", "road", "Leribe", "Peka Bridge (Clocolan, ZA)"),
    ("RMG", "Ramatseliso's Gate", "road", "Qacha's Nek", "Ramatseliso's Gate (Matatiele, ZA)"),
    ("SPG", "Sephapho's Gate", "road", None, "Sephapo's Gate (Dewetsdorp, ZA)"),
    ("MKB", "Makhaleng Bridge", "road", "Mohale's Hoek", "Makhaleng Bridge (Zastron, ZA)"),
    ("MIA", "Moshoeshoe I International Airport", "air", "Maseru", None),
    ("OGN", "Ongeluksnek", "road", "Qacha's Nek", "Ongeluksnek (Matatiele, ZA)"),
    ("MNP", "Monontsa Pass", "road", "Butha-Buthe", "Monontsha Pass (Phuthaditjhaba, ZA)"),
    ("NKG", "Nkonkoana Gate", "road", "Qacha's Nek", "Bushman's Nek (Underberg, ZA)"),
]

# (post code, alias): spellings the feeds use for these posts, so their crossings are not rejected.
POST_ALIASES: list[tuple[str, str]] = [
    ("SPG", "Sephapo's Gate"),
    ("MIA", "Moshoeshoe I Airport"),
    ("MIA", "Moshoeshoe Airport"),
    ("VRG", "Van Rooyens Gate"),
]
