"""Synthetic Southern African travellers with known truth, for benchmarks and load tests.

Seeded and deterministic. Persons are plain dicts whose keys follow the crossings CSV columns, plus
a `person_id` truth key, so benchmarks can both feed them to the importer and score the matcher.
Noise mirrors what the screening issue lists from real border data: swapped name order, a dropped
middle name, initials, dropped diacritics, orthographic variants, typos, day/month swaps, year-only
or 1 January dates, +-1 year, OCR confusions in document numbers, and renewed passports.

Issue 15 adds the noises that defeat a document-first matcher: a second document of another type, a
forged number, digit typos and transpositions in the number, a missing given name or surname, address
variants and moves (`profile="issue15"`), and a `names="namesakes"` population in which many people
share a name and a birth year. Every observation carries a `noise_class` (see NOISE_CLASSES).
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any

__all__ = [
    "BORDER_POSTS",
    "ISSUE15_RATES",
    "NAME_MODELS",
    "NEW_NOISES",
    "NOISES",
    "NOISE_CLASSES",
    "PROFILES",
    "noise_class",
    "generate_crossings",
    "generate_persons",
    "noisy_observation",
    "person_to_identity",
]

# (given names male, given names female, surnames) per naming tradition.
_NAMES: dict[str, tuple[list[str], list[str], list[str]]] = {
    "sesotho": (
        ["Thabo", "Thabang", "Mpho", "Teboho", "Mohlomi", "Tumelo", "Katleho", "Lehlohonolo", "Tšepo",
         "Retšelisitsoe", "Motlatsi", "Nthabeleng", "Bokang", "Rethabile", "Tebello", "Lerato", "Kamohelo",
         "Puleng", "Tlotliso", "Neo", "Tšeliso", "Lebohang", "Moeketsi", "Relebohile", "Sello", "Khotso",
         "Thato", "Refiloe", "Tau", "Molefi", "Kabelo", "Pheello", "Limpho", "Mosiuoa", "Lipholo",
         "Tankiso", "Sechaba", "Paballo", "Liteboho", "Thuso"],
        ["Palesa", "Lerato", "Mpho", "Nthabiseng", "Lineo", "Masechaba", "Limakatso", "Mamello",
         "Reitumetse", "Mathabo", "Puleng", "Lisebo", "Nthati", "Keneuoe", "Tsepang", "Mpolokeng",
         "Mamokete", "Bohlale", "Lebohang", "Rethabile", "Liteboho", "Nthabeleng", "'Mathato",
         "Boitumelo", "Mosa", "Karabo", "Lipuo", "Thakane", "Ntsoaki", "Malineo", "Moliehi", "Itumeleng",
         "Tšepiso", "Lieketseng", "Mantšali", "Khauhelo", "Nkhetheleng", "Relebohile", "Mathapelo",
         "Seipati"],
        ["Mokoena", "Mofokeng", "Mohapi", "Letsie", "Moshoeshoe", "Motšoanakaba", "Ramaboea", "Sekhonyana",
         "Nthako", "Molapo", "Lerotholi", "Mokhothu", "Thamae", "Makhetha", "Mosisili", "Ntsekhe",
         "Phakoe", "Tšabalala", "Ramoreboli", "Mothibeli", "Lebona", "Sefali", "Mahao", "Masupha",
         "Majara", "Posholi", "Sehloho", "Moletsane", "Khoabane", "Lekhanya", "Tlali", "Motsamai",
         "Makara", "Ramakoae", "Rantšo", "Matela", "Mokhesi", "Mphutlane", "Maqelepo", "Thabane",
         "Seeiso", "Jonathan", "Lepheana", "Tsoeu", "Ralitsie", "Mohale", "Pitso", "Moeketsi", "Nkuebe",
         "Letšaba", "Ramokhoro", "Makoae", "Mokete", "Tšosane", "Mafereka", "Sekoati", "Nyakane",
         "Lehloenya", "Molise", "Kolisang"],
    ),
    "isizulu": (
        ["Sipho", "Bongani", "Sibusiso", "Themba", "Mandla", "Nkosinathi", "Sifiso", "Thulani", "Mthokozisi",
         "Lungelo", "Sanele", "Nqobile", "Siyabonga", "Bheki", "Musa", "Lwazi", "Njabulo", "Sandile"],
        ["Nomvula", "Thandeka", "Zanele", "Nokuthula", "Lindiwe", "Sibongile", "Nqobile", "Zodwa", "Ayanda",
         "Nosipho", "Thembi", "Busisiwe", "Nompumelelo", "Zinhle", "Khanyisile", "Sbongiseni"],
        ["Dlamini", "Nkosi", "Ndlovu", "Khumalo", "Zulu", "Mthembu", "Buthelezi", "Ngcobo", "Zungu",
         "Mkhize", "Cele", "Shabalala", "Ntuli", "Mahlangu", "Nxumalo", "Gumede", "Sithole", "Hlongwane",
         "Magagula", "Mabuza", "Shongwe", "Maseko"],
    ),
    "isixhosa": (
        ["Sizwe", "Lwando", "Luvuyo", "Xolani", "Siyabulela", "Mzwandile", "Andile", "Lukhanyo", "Unathi",
         "Vuyani", "Thando", "Aphiwe"],
        ["Nosipho", "Siphokazi", "Nomsa", "Ntombizodwa", "Noluthando", "Asanda", "Yonela", "Zintle",
         "Nandipha", "Thandiwe", "Liyema", "Anathi"],
        ["Mahlaba", "Nqayi", "Ngqukumba", "Qwabe", "Mbeki", "Sisulu", "Tshabalala", "Mgqamqo", "Nkwinti",
         "Mabandla", "Gxowa", "Mtshali", "Nqakula", "Dyantyi", "Xaba", "Madikizela"],
    ),
    "setswana": (
        ["Kagiso", "Tumelo", "Oratile", "Kabelo", "Tshepo", "Onalenna", "Boitumelo", "Mothusi", "Goitseone",
         "Keabetswe"],
        ["Naledi", "Dineo", "Kelebogile", "Masego", "Goitsemang", "Lesedi", "Boipelo", "Onthatile",
         "Kgomotso", "Refilwe"],
        ["Molefe", "Mokgosi", "Seretse", "Kgosana", "Masire", "Mogae", "Modise", "Motsumi", "Sebego",
         "Ramotswa", "Mokwena", "Moshweshwe"],
    ),
    "english": (
        ["John", "David", "Michael", "Peter", "James", "Joseph", "Paul", "Thomas", "William", "Daniel",
         "Samuel", "Richard", "George", "Charles"],
        ["Mary", "Elizabeth", "Grace", "Elizabeth", "Sarah", "Ruth", "Margaret", "Anna", "Christina",
         "Catherine", "Rose", "Patricia", "Faith", "Mercy"],
        ["Smith", "Brown", "Jones", "Taylor", "Williams", "Johnson", "Thompson", "Wilson", "Walker",
         "Harris", "Clarke", "Roberts"],
    ),
    "afrikaans": (
        ["Johannes", "Pieter", "Jacobus", "Hendrik", "Willem", "Gerhardus", "Francois", "Christiaan",
         "Petrus", "Stefanus", "Andries", "Barend", "Deon", "Riaan"],
        ["Maria", "Susanna", "Johanna", "Anna", "Elizabeth", "Magdalena", "Aletta", "Marietjie",
         "Annelie", "Carina", "Elmarie", "Hester"],
        ["van der Merwe", "du Plessis", "Botha", "Pretorius", "Nel", "van Wyk", "Venter", "le Roux",
         "Coetzee", "Fourie", "Joubert", "Steyn", "van Zyl", "Swanepoel", "Kruger", "de Villiers",
         "Oosthuizen", "Erasmus", "du Toit", "Viljoen"],
    ),
}
# Naming tradition mix by nationality.
_TRADITIONS: dict[str, list[tuple[str, float]]] = {
    "LSO": [("sesotho", 0.93), ("english", 0.05), ("isixhosa", 0.02)],
    "ZAF": [("isizulu", 0.35), ("isixhosa", 0.2), ("sesotho", 0.15), ("setswana", 0.08),
            ("afrikaans", 0.12), ("english", 0.10)],
    "BWA": [("setswana", 0.9), ("english", 0.1)],
    "SWZ": [("isizulu", 0.9), ("english", 0.1)],
    "ZWE": [("isizulu", 0.3), ("english", 0.7)],
    "MOZ": [("english", 0.3), ("isizulu", 0.7)],
}
_NATIONALITIES = [("LSO", 0.62), ("ZAF", 0.28), ("BWA", 0.03), ("SWZ", 0.03), ("ZWE", 0.03), ("MOZ", 0.01)]

# Orthographic variants an officer may write instead of the registered spelling (applied to folded
# text, so they work on names with or without diacritics).
_VARIANTS = [("oe", "we"), ("we", "oe"), ("li", "di"), ("di", "li"), ("ts", "tš"), ("nq", "nk"),
             ("ie", "y"), ("ph", "f")]
_PLAIN = str.maketrans("šŠ'", "sS ")

BORDER_POSTS: list[tuple[str, str, float]] = [
    # code, name, share of traffic
    ("MSU", "Maseru Bridge", 0.45), ("MPT", "Maputsoe Bridge", 0.18), ("VRG", "Van Rooyen's Gate", 0.08),
    ("CLP", "Caledonspoort", 0.06), ("QNK", "Qacha's Nek", 0.04), ("SNP", "Sani Pass", 0.02),
    ("TLB", "Tele Bridge", 0.04), ("PKB", "Peka Bridge", 0.03), ("RMG", "Ramatseliso's Gate", 0.02),
    ("SPG", "Sephapho's Gate", 0.02), ("MKB", "Makhaleng Bridge", 0.03),
    ("MIA", "Moshoeshoe I International Airport", 0.03),
]

NOISES = ("swap_order", "drop_middle", "initials", "plain_ascii", "variant", "typo", "dob_swap",
          "dob_year_only", "dob_placeholder", "dob_off_by_one", "doc_ocr", "doc_renewed", "doc_missing")
# Probability that each noise is applied to one observation (several may apply together).
_NOISE_P = {"swap_order": 0.10, "drop_middle": 0.15, "initials": 0.08, "plain_ascii": 0.30, "variant": 0.10,
            "typo": 0.12, "dob_swap": 0.05, "dob_year_only": 0.05, "dob_placeholder": 0.03,
            "dob_off_by_one": 0.04, "doc_ocr": 0.08, "doc_renewed": 0.10, "doc_missing": 0.10}
# Issue 15's noises (drawn only by the "issue15" profile, or when named in `noises=`).
NEW_NOISES = ("second_document", "forged_document", "doc_typo", "missing_given", "missing_surname",
              "address_variant", "address_move")

# Noise classes, least to most severe. An observation's class is that of its most severe noise; a pair
# of observations belongs to the class of its noisier side (the benchmarks split metrics so).
# "plain_ascii" (upper case, diacritics dropped) belongs to no class: every matcher folds it away.
NOISE_CLASSES = ("clean", "address_variant", "name_variant", "ocr_confusion", "name_typo", "dob_slip",
                 "document_missing", "document_typo", "document_renewed", "address_move", "missing_name",
                 "forged_document", "second_document")
_CLASS_OF = {"swap_order": "name_variant", "drop_middle": "name_variant", "initials": "name_variant",
             "variant": "name_variant", "typo": "name_typo", "dob_swap": "dob_slip", "dob_year_only": "dob_slip",
             "dob_placeholder": "dob_slip", "dob_off_by_one": "dob_slip", "doc_ocr": "ocr_confusion",
             "doc_renewed": "document_renewed", "doc_missing": "document_missing",
             "second_document": "second_document", "forged_document": "forged_document",
             "doc_typo": "document_typo", "missing_given": "missing_name", "missing_surname": "missing_name",
             "address_variant": "address_variant", "address_move": "address_move"}
_RANK = {c: i for i, c in enumerate(NOISE_CLASSES)}


def noise_class(noises) -> str:
    """The class of an observation: that of its most severe noise ("clean" when none has a class)."""
    return max((_CLASS_OF[k] for k in noises if k in _CLASS_OF), key=_RANK.__getitem__, default="clean")


# The "issue15" profile: each observation draws one primary class at these rates (an estimate of a
# busy post's mix, not a measured one), then the noise that makes it. Document changes often come
# with a new address and sometimes with a name or date slip, as in the misses issue 15 describes.
ISSUE15_RATES = {"clean": 0.42, "name_variant": 0.08, "name_typo": 0.06, "dob_slip": 0.06, "ocr_confusion": 0.04,
                 "document_missing": 0.04, "second_document": 0.07, "forged_document": 0.03,
                 "document_typo": 0.05, "missing_name": 0.03, "address_variant": 0.09, "address_move": 0.03}
_CLASS_NOISES = {"clean": [()], "name_variant": [("swap_order",), ("drop_middle",), ("initials",), ("variant",)],
                 "name_typo": [("typo",)],
                 "dob_slip": [("dob_swap",), ("dob_year_only",), ("dob_placeholder",), ("dob_off_by_one",)],
                 "ocr_confusion": [("doc_ocr",)], "document_missing": [("doc_missing",)],
                 "second_document": [("second_document",)], "forged_document": [("forged_document",)],
                 "document_typo": [("doc_typo",)], "missing_name": [("missing_given",), ("missing_surname",)],
                 "address_variant": [("address_variant",)], "address_move": [("address_move",)]}
PROFILES = ("default", "issue15")


def _issue15_noises(rng: random.Random) -> tuple[str, ...]:
    cls = _pick(rng, list(ISSUE15_RATES.items()))
    noises = list(rng.choice(_CLASS_NOISES[cls]))
    if cls in ("second_document", "forged_document"):
        r = rng.random()
        if r < 0.45:
            noises.append("address_move")
        elif r < 0.65:
            noises.append("address_variant")
    if cls in ("second_document", "forged_document", "document_typo") and rng.random() < 0.15:
        noises.append(rng.choice(("typo", "dob_swap", "dob_off_by_one", "drop_middle")))
    if rng.random() < 0.3:
        noises.append("plain_ascii")
    return tuple(noises)


def _pick(rng: random.Random, weighted: list[tuple[str, float]]) -> str:
    return rng.choices([w[0] for w in weighted], [w[1] for w in weighted])[0]


def _zipf(rng: random.Random, items: list[str], s: float = 0.6) -> str:
    # The "narrow" pools of the first benchmark: a mild Zipf law over a few dozen names per tradition.
    weights = [1.0 / (i + 1) ** s for i in range(len(items))]
    return rng.choices(items, weights)[0]


# --- Realistic name frequencies ---------------------------------------------------------------------
# Real name registries have a head of very common names and a long tail: the commonest surname in
# South Africa (Dlamini) is borne by roughly 1% of people, and in Lesotho a Sesotho surname such as
# Mphutlane (in the list above) by about 900 people, some 0.04% (public surname-incidence sites). A few
# dozen names per tradition drawn with a Zipf law (the "narrow" pools) give the first Sesotho surname
# ~9% and Mphutlane ~1% of a 1M population: 10-20x too many namesakes. "realistic" keeps the listed
# names as the head of a Zipf-Mandelbrot law p(rank) ~ 1 / (rank + 10) and appends thousands of
# synthetic names built from each language's syllables, so the commonest surname carries ~1.4% and
# the listed head ~25% of the population. Synthetic names are pronounceable, not real.

_SYLLABLES: dict[str, tuple[list[str], list[str], list[str], list[str], list[str]]] = {
    # (consonants, vowels, surname prefixes, given-name prefixes, endings)
    "sesotho": (["b", "f", "h", "hl", "j", "k", "kh", "l", "m", "n", "ng", "ny", "p", "ph", "q", "r", "s",
                 "sh", "t", "th", "tl", "tlh", "ts", "tš", "tsh"],
                ["a", "e", "i", "o", "u", "oa", "oe"],
                ["Mo", "Ra", "Ma", "Le", "Se", "Mot", "Mak", "Ntšo", "Tha", "Ramo", "Mphe", "Li"],
                ["Re", "Ke", "Li", "Tše", "Ma", "Mo", "Le", "Ntha", "Bo", "Pa", "Lebo", "Tu", "Ts'i", "Ka"],
                ["ng", "o", "e", "a", "lo", "tso", "ho", "li", "ane", "eng", "ile", "ang"]),
    "nguni": (["b", "bh", "c", "d", "dl", "g", "gc", "h", "hl", "k", "kh", "l", "m", "mb", "n", "nd", "ng",
               "nj", "nk", "nq", "ny", "p", "ph", "q", "s", "sh", "th", "ts", "tsh", "v", "w", "x", "y", "z"],
              ["a", "e", "i", "o", "u"],
              ["Ma", "Nx", "Ng", "Mk", "Dl", "Mth", "Nd", "Kh", "Sh", "Mb", "Mn", "Bh", "Gc", "Qw", "Xh", "Zu"],
              ["No", "Si", "Tha", "Nko", "Lu", "Nom", "Zi", "Mzi", "Sa", "Ba", "Nto", "Lwa", "Aya", "Bu"],
              ["le", "ni", "ile", "iso", "zi", "ndo", "nga", "thi", "ka", "sa", "ini", "ane", "wa", "ela"]),
    "setswana": (["b", "d", "f", "g", "h", "j", "k", "kg", "l", "m", "n", "ng", "p", "ph", "r", "s", "t",
                  "th", "tl", "tlh", "ts", "tsh", "w"],
                 ["a", "e", "i", "o", "u"],
                 ["Mo", "Ra", "Se", "Kg", "Ma", "Mot", "Ga", "Mme"],
                 ["Goi", "Kea", "Ona", "Ora", "Bo", "Ke", "Le", "Tsh", "Ka", "Ma", "Re", "Ama"],
                 ["ng", "o", "e", "a", "lo", "tse", "we", "mang", "tswe", "di"]),
}
_ENGLISH_PARTS = (["Ash", "Black", "Brad", "Brook", "Brom", "Cart", "Chad", "Chap", "Craw", "Dal", "Dun",
                   "East", "Fair", "Fen", "Hal", "Har", "Hart", "Holl", "Kings", "Lang", "Lock", "Mar", "Mid",
                   "New", "North", "Oak", "Pen", "Rad", "Red", "Ship", "South", "Stan", "Stock", "Thorn",
                   "Wal", "West", "Whit", "Wood", "Ald", "Bar", "Cal", "Den", "Eld", "Gar", "Hig", "Lind"],
                  ["ford", "ley", "ton", "well", "wood", "man", "field", "by", "ham", "stone", "bridge",
                   "worth", "combe", "hurst", "dale", "son", "er", "ing", "ridge", "more"])
_AFRIKAANS_PARTS = (["Bos", "Brand", "Kot", "Kru", "Lou", "Mal", "Mey", "Nie", "Oos", "Pie", "Rous", "Smit",
                     "Stey", "Vil", "Wes", "Bez", "Bot", "Coet", "Cro", "Deys", "Eng", "Fer", "Gel", "Groe",
                     "Hat", "Jan", "Kemp", "Kle", "Lom", "Mar", "Nau", "Oden", "Pot", "Ras", "Rit", "Scho",
                     "Spa", "Ter", "Vis", "Wol"],
                    ["huizen", "berg", "sen", "ter", "man", "mann", "zee", "haal", "ts", "er", "ers", "ouw",
                     "kamp", "dorp", "hof", "daal", "link", "se"])
_EXTRA_GIVEN = {
    "M": ["Andrew", "Anthony", "Benjamin", "Christopher", "Edward", "Francis", "Frederick", "Gabriel",
          "Henry", "Isaac", "Jacob", "Kenneth", "Lawrence", "Mark", "Matthew", "Nicholas", "Patrick",
          "Philip", "Raymond", "Robert", "Simon", "Stephen", "Timothy", "Victor", "Vincent", "Walter",
          "Emmanuel", "Moses", "Elias", "Abel", "Aaron", "Solomon", "Isaiah", "Gideon", "Jeremiah"],
    "F": ["Agnes", "Alice", "Angela", "Beatrice", "Caroline", "Cecilia", "Charity", "Dorothy", "Esther",
          "Florence", "Gloria", "Helen", "Irene", "Joyce", "Julia", "Lucy", "Martha", "Monica", "Naomi",
          "Pauline", "Priscilla", "Rebecca", "Regina", "Sylvia", "Teresa", "Veronica", "Victoria",
          "Blessing", "Hope", "Precious", "Patience", "Gift", "Lydia", "Rachel", "Hannah"],
}
_TAIL_SIZES = {"surname": 6000, "given": 2500}


def _synthetic_bantu(rng: random.Random, syllables: tuple, given: bool) -> str:
    consonants, vowels, sur_prefixes, given_prefixes, endings = syllables
    name = rng.choice(given_prefixes if given else sur_prefixes)
    if name[-1] not in "aeiou":
        name += rng.choice(vowels)  # "Dl" + "tsh..." would give unpronounceable clusters
    for _ in range(rng.choice((1, 1, 2, 2, 3))):
        name += rng.choice(consonants) + rng.choice(vowels)
    if rng.random() < 0.5:
        name += rng.choice(endings)
    return name[0].upper() + name[1:]


def _synthetic(rng: random.Random, tradition: str, kind: str) -> str:
    if tradition in ("english", "afrikaans"):
        first, second = _ENGLISH_PARTS if tradition == "english" else _AFRIKAANS_PARTS
        name = rng.choice(first) + rng.choice(second)
        if tradition == "afrikaans" and rng.random() < 0.12:
            name = rng.choice(("van ", "du ", "de ", "le ", "van der ")) + name
        return name
    syllables = _SYLLABLES["nguni" if tradition in ("isizulu", "isixhosa") else tradition]
    return _synthetic_bantu(rng, syllables, kind == "given")


_REALISTIC: dict[tuple[str, str], tuple[list[str], list[float]]] = {}


def _realistic_pool(tradition: str, kind: str) -> tuple[list[str], list[float]]:
    """Ranked names (the listed head, then a synthetic tail) with Zipf-Mandelbrot cumulative weights."""
    key = (tradition, kind)
    if key not in _REALISTIC:
        male, female, surnames = _NAMES[tradition]
        if kind == "surname":
            head, size = list(surnames), _TAIL_SIZES["surname"]
        else:
            sex = kind[-1]
            head = list(male if sex == "M" else female)
            if tradition in ("english", "afrikaans"):
                head += [n for n in _EXTRA_GIVEN[sex] if n not in head]
            size = 0 if tradition in ("english", "afrikaans") else _TAIL_SIZES["given"]
        names = list(dict.fromkeys(head))
        seen = {n.casefold() for n in names}
        rng = random.Random(f"{tradition}/{kind}")  # fixed: the name pool is part of the population
        attempts = 0
        while len(names) < len(head) + size and attempts < 20 * size:
            attempts += 1
            name = _synthetic(rng, tradition, "given" if kind != "surname" else "surname")
            if name.casefold() not in seen:
                seen.add(name.casefold())
                names.append(name)
        cum, total = [], 0.0
        for rank in range(1, len(names) + 1):
            total += 1.0 / (rank + 10)
            cum.append(total)
        _REALISTIC[key] = (names, cum)
    return _REALISTIC[key]


def _realistic(rng: random.Random, tradition: str, kind: str) -> str:
    names, cum = _realistic_pool(tradition, kind)
    return rng.choices(names, cum_weights=cum)[0]


def _document(rng: random.Random, nationality: str, dob: date, sex: str) -> tuple[str, str, str]:
    if nationality == "ZAF":
        # SA ID number: YYMMDD, 4-digit sequence (>= 5000 male), citizenship, 8, checksum-ish digit.
        seq = rng.randint(5000, 9999) if sex == "M" else rng.randint(0, 4999)
        return "ID", f"{dob:%y%m%d}{seq:04d}08{rng.randint(0, 9)}", "ZAF"
    if nationality == "LSO":
        return "P", f"R{rng.choice('ABC')}{rng.randint(0, 9_999_999):07d}", "LSO"
    prefix = {"BWA": "BN", "SWZ": "SZ", "ZWE": "FN", "MOZ": "AB"}.get(nationality, "XX")
    return "P", f"{prefix}{rng.randint(0, 9_999_999):07d}", nationality


def _other_document(rng: random.Random, nationality: str, primary_type: str) -> tuple[str, str, str]:
    """A second document of another type: a passport for an ID-number holder, else a national ID card.

    Formats are illustrative (SA passports: a letter and 8 digits; ID cards: digits only), not official.
    """
    if primary_type == "ID":
        return "P", f"{rng.choice('AMT')}{rng.randint(0, 99_999_999):08d}", nationality
    digits = 12 if nationality == "LSO" else 10
    return "ID", f"{rng.randint(10 ** (digits - 1), 10 ** digits - 1)}", nationality


def _differs_wholly(a: str, b: str) -> bool:
    """More than two positions differ (or the lengths do): not a typo, not an OCR slip."""
    return len(a) != len(b) or sum(x != y for x, y in zip(a, b, strict=True)) > 2


# --- addresses (Lesotho-style) ----------------------------------------------------------------------
# Rural Lesotho addresses name a village (often "Ha <chief's name>", "the place of ...") and a district;
# in Maseru and the camp towns they are a plot on a named road. South African and other addresses are
# a street in a border town. Names are real places; plots and combinations are made up.

_DISTRICTS = ["Maseru", "Berea", "Leribe", "Butha-Buthe", "Mokhotlong", "Thaba-Tseka", "Qacha's Nek",
              "Quthing", "Mohale's Hoek", "Mafeteng"]
_VILLAGES = ["Ha Abia", "Ha Thetsane", "Ha Mabote", "Ha Foso", "Ha Tsosane", "Ha Matala", "Ha Seoli",
             "Ha Leqele", "Ha Hoohlo", "Ha Mohlalefi", "Ha Ratjomose", "Ha Makhoathi", "Ha Mokhethi",
             "Ha Majara", "Ha Sekhonyana", "Ha Nqheku", "Ha Rammeleke", "Ha Motloheloa", "Roma", "Morija",
             "Semonkong", "Matsieng", "Teyateyaneng", "Hlotse", "Mapoteng", "Thaba-Bosiu", "Nazareth",
             "Lithabaneng", "Khubetsoana", "Qoaling", "Sefikeng", "Pitseng", "Maputsoe", "Peka", "Kolonyama",
             "Tsikoane", "Mahobong", "Likhetlane", "Lithoteng", "Masianokeng", "Thabong", "Motimposo"]
_MASERU_ROADS = ["Kingsway", "Moshoeshoe", "Pioneer", "Parliament", "Constitution", "Lerotholi", "Bowker",
                 "Orpen", "Maluti", "Cathedral", "Airport", "Main North 1", "Main South 1", "Mpilo",
                 "Lancers", "Balfour", "Griffith", "Palace", "Hospital", "Linare"]
_LSO_TOWNS = ["Maseru", "Maseru", "Maseru", "Maputsoe", "Mafeteng", "Teyateyaneng", "Hlotse"]
_SA_TOWNS = ["Ladybrand", "Ficksburg", "Bloemfontein", "Wepener", "Zastron", "Clocolan", "Welkom",
             "Johannesburg", "Durban", "Matatiele", "Botshabelo", "Thaba Nchu"]
_SA_STREETS = ["Church", "Voortrekker", "Piet Retief", "Nelson Mandela", "Main", "Market", "President Brand",
               "Kerk", "Station", "Victoria", "Joubert", "Van Riebeeck", "Oliver Tambo", "Steve Biko"]
_STREET_TYPES = [("Street", 0.45), ("Road", 0.4), ("Avenue", 0.15)]


def _address(rng: random.Random, nationality: str) -> str:
    if nationality == "LSO":
        if rng.random() < 0.55:
            return f"{rng.choice(_VILLAGES)}, {rng.choice(_DISTRICTS)} District"
        road = rng.choice(_MASERU_ROADS)
        kind = "Road" if road.startswith("Main ") else _pick(rng, _STREET_TYPES)
        return f"{rng.randint(1, 999)} {road} {kind}, {rng.choice(_LSO_TOWNS)}"
    return f"{rng.randint(1, 399)} {rng.choice(_SA_STREETS)} {_pick(rng, _STREET_TYPES)}, {rng.choice(_SA_TOWNS)}"


_ABBREVIATIONS = [("Street", "St"), ("Road", "Rd"), ("Avenue", "Ave"), ("District", "Dist")]
_TYPE_WORDS = {w.lower() for pair in _ABBREVIATIONS for w in pair}


def _address_variant(rng: random.Random, address: str) -> tuple[str, list[str]]:
    """The same address written differently; returns it and the kinds of change applied."""
    kinds = ["abbreviation", "case", "punctuation", "order", "spelling"]
    for _ in range(20):
        text, applied = address, []
        for kind in rng.sample(kinds, rng.choice((1, 1, 2))):
            before = text
            if kind == "abbreviation":
                pairs = [(a, b) for a, b in _ABBREVIATIONS if a in text]
                if pairs:
                    a, b = rng.choice(pairs)
                    text = text.replace(a, b + rng.choice(("", ".")))
            elif kind == "case":
                text = text.upper() if rng.random() < 0.7 else text.lower()
            elif kind == "punctuation":
                text = rng.choice((text.replace(",", ""), text.replace(", ", " - "), text.replace("'", ""),
                                   text.replace("-", " ")))
            elif kind == "order" and ", " in text:
                head, tail = text.split(", ", 1)
                text = f"{tail}, {head}"
            elif kind == "spelling":
                if "Ha " in text and rng.random() < 0.6:
                    text = text.replace("Ha ", rng.choice(("Ha-", "Ha", "HA ")), 1)
                else:  # a place name spelled another way (Moshoeshoe / Moshweshwe), not "District"
                    words = text.split(" ")
                    places = [i for i, w in enumerate(words) if len(w) > 4 and w.strip(",.").lower() not in _TYPE_WORDS]
                    options = [(i, a, b) for i in places for a, b in _VARIANTS if a in words[i].lower()]
                    if options:
                        i, a, b = rng.choice(options)
                        j = words[i].lower().index(a)
                        words[i] = words[i][:j] + b + words[i][j + len(a):]
                        text = " ".join(words)
            if text != before:
                applied.append(kind)
        if text != address:
            return text, applied
    return address.upper(), ["case"]


# --- namesakes ----------------------------------------------------------------------------------------
# The hidden set of issue 15: Southern African names with heavy namesakes. Only the listed Sesotho,
# isiZulu and isiXhosa names (a few dozen per tradition), drawn with a steep Zipf law (s = 1.1): the
# commonest surname carries about a fifth of its tradition, so hundreds of persons share a full name
# and thousands a surname and a birth year.

_NAMESAKE_S = 1.1
_NAMESAKE_NATIONALITIES = [("LSO", 0.7), ("ZAF", 0.3)]
_NAMESAKE_TRADITIONS = {"LSO": [("sesotho", 0.9), ("isixhosa", 0.05), ("isizulu", 0.05)],
                        "ZAF": [("isizulu", 0.45), ("isixhosa", 0.3), ("sesotho", 0.25)]}


def _steep(rng: random.Random, items: list[str]) -> str:
    cum, total = [], 0.0
    for i in range(len(items)):
        total += 1.0 / (i + 1) ** _NAMESAKE_S
        cum.append(total)
    return rng.choices(items, cum_weights=cum)[0]


NAME_MODELS = ("realistic", "narrow", "namesakes")


def generate_persons(n: int, seed: int = 1, id_offset: int = 0,
                     names: str = "realistic") -> list[dict[str, Any]]:
    """n synthetic persons; `person_id` is the truth key (id_offset keeps populations disjoint).

    `names="narrow"` reproduces the first benchmark's few-dozen-name pools (for before/after figures);
    `names="namesakes"` draws Sesotho/Zulu/Xhosa names with a steep Zipf law (many namesakes).
    Each person has an `address` and a `second_document` (type, number, country) of another type,
    drawn from a separate random stream so the other fields are those earlier seeds produced.
    """
    if names not in NAME_MODELS:
        raise ValueError(f"names must be one of {NAME_MODELS}")
    rng = random.Random(seed)
    aux = random.Random(f"{seed}/address-and-documents")
    today = date(2025, 1, 1)
    persons = []
    for i in range(n):
        if names == "namesakes":
            nationality = _pick(rng, _NAMESAKE_NATIONALITIES)
            tradition = _pick(rng, _NAMESAKE_TRADITIONS[nationality])
        else:
            nationality = _pick(rng, _NATIONALITIES)
            tradition = _pick(rng, _TRADITIONS[nationality])
        male, female, surnames = _NAMES[tradition]
        sex = rng.choice("MF")
        pool = male if sex == "M" else female
        if names == "namesakes":
            given = [_steep(rng, pool)]
            if rng.random() < 0.3:
                middle = _steep(rng, pool)
                if middle != given[0]:
                    given.append(middle)
            surname = _steep(rng, surnames)
        elif names == "narrow":
            given = [_zipf(rng, pool)]
            if rng.random() < 0.55:
                middle = _zipf(rng, pool + _NAMES["english"][0 if sex == "M" else 1])
                if middle != given[0]:
                    given.append(middle)
            surname = _zipf(rng, surnames)
        else:
            given = [_realistic(rng, tradition, "given" + sex)]
            if rng.random() < 0.55:
                # Middle names: often a Christian/English name, otherwise one of the same tradition.
                middle = _realistic(rng, "english" if rng.random() < 0.4 else tradition, "given" + sex)
                if middle != given[0]:
                    given.append(middle)
            surname = _realistic(rng, tradition, "surname")
        # Ages 0-80, weighted to young adults (the population that migrates for work).
        age = rng.gauss(31, 13)
        if names == "narrow":
            age = min(max(age, 0.2), 80)  # the first benchmark's clamp (kept to reproduce its figures)
        else:
            # Redraw instead of clamping: the clamp put ~1% of everyone on one date of birth (the day
            # 0.2 years before "today"), a spike of exact-date namesakes no population has.
            while not 0 < age < 80:
                age = rng.gauss(31, 13)
        age_days = int(age * 365.25)
        dob = today - timedelta(days=age_days)
        doc_type, doc_number, doc_country = _document(rng, nationality, dob, sex)
        dob_text = dob.isoformat()
        if rng.random() < 0.03:
            dob_text = str(dob.year)  # only the year was ever known
        aliases = []
        if sex == "F" and rng.random() < 0.05:
            maiden = {"narrow": _zipf, "namesakes": _steep}[names](rng, surnames) \
                if names != "realistic" else _realistic(rng, tradition, "surname")
            aliases.append((maiden, " ".join(given)))  # maiden / married surname
        rng.randint(1, 999), rng.randrange(4)  # the former "<plot> <town>" address's draws: keeps the stream
        persons.append({
            "person_id": id_offset + i,
            "surname": surname,
            "given_names": " ".join(given),
            "sex": sex,
            "date_of_birth": dob_text,
            "nationality": nationality,
            "document_type": doc_type,
            "document_number": doc_number,
            "document_country": doc_country,
            "aliases": aliases,
            "address": _address(aux, nationality),
            "second_document": _other_document(aux, nationality, doc_type),
        })
    return persons


def _typo(rng: random.Random, s: str) -> str:
    if len(s) < 5:
        return s
    i = rng.randrange(1, len(s) - 1)
    kind = rng.choice(("swap", "drop", "double", "replace"))
    if kind == "swap":
        return s[:i] + s[i + 1] + s[i] + s[i + 2:]
    if kind == "drop":
        return s[:i] + s[i + 1:]
    if kind == "double":
        return s[:i] + s[i] + s[i:]
    return s[:i] + rng.choice("aeiounmlkst") + s[i + 1:]


_OCR_SWAPS = {"0": "O", "O": "0", "1": "I", "I": "1", "5": "S", "S": "5", "8": "B", "B": "8", "2": "Z",
              "6": "G"}


def _digit_typo(rng: random.Random, number: str) -> str:
    """One digit substituted, or two adjacent different digits transposed."""
    digits = [i for i, ch in enumerate(number) if ch.isdigit()]
    pairs = [i for i in digits if i + 1 < len(number) and number[i + 1].isdigit() and number[i] != number[i + 1]]
    if pairs and rng.random() < 0.4:
        i = rng.choice(pairs)
        return number[:i] + number[i + 1] + number[i] + number[i + 2:]
    if not digits:
        return number
    i = rng.choice(digits)
    return number[:i] + rng.choice([d for d in "0123456789" if d != number[i]]) + number[i + 1:]


def noisy_observation(person: dict[str, Any], rng: random.Random,
                      noises: tuple[str, ...] | None = None, profile: str = "default") -> dict[str, Any]:
    """How the person might be recorded at a crossing; `noise` lists what was changed and
    `noise_class` names its most severe class (NOISE_CLASSES).

    With `noises=None` the "default" profile draws each noise of NOISES independently with its base
    rate; the "issue15" profile draws one class per observation (ISSUE15_RATES).
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}")
    if noises is None:
        noises = _issue15_noises(rng) if profile == "issue15" else \
            tuple(k for k in NOISES if rng.random() < _NOISE_P[k])
    obs = {k: v for k, v in person.items() if k not in ("aliases", "second_document")}
    obs["noise"] = list(noises)
    obs["noise_class"] = noise_class(noises)
    surname, given = person["surname"], person["given_names"].split()
    if "drop_middle" in noises and len(given) > 1:
        given = given[:1]
    if "initials" in noises:
        given = [given[0][0] + "."] + given[1:] if len(given) == 1 or rng.random() < 0.5 else \
            [g[0] + "." for g in given]
    if "variant" in noises:
        name = rng.choice(("surname", "given"))
        text = surname if name == "surname" else " ".join(given)
        options = [(a, b) for a, b in _VARIANTS if a in text.lower().translate(_PLAIN)]
        if options:
            a, b = rng.choice(options)
            text = text.translate(_PLAIN).replace(a, b, 1)
            if name == "surname":
                surname = text
            else:
                given = text.split()
    if "typo" in noises:
        if rng.random() < 0.5:
            surname = _typo(rng, surname)
        else:
            j = rng.randrange(len(given))
            given[j] = _typo(rng, given[j])
    if "plain_ascii" in noises:
        surname = surname.translate(_PLAIN).upper()
        given = [g.translate(_PLAIN).upper() for g in given]
    obs["surname"], obs["given_names"] = surname, " ".join(given)
    if "swap_order" in noises:
        obs["surname"], obs["given_names"] = obs["given_names"], obs["surname"]
    dob = person["date_of_birth"]
    if len(dob) == 10:
        y, m, d = int(dob[:4]), int(dob[5:7]), int(dob[8:])
        if "dob_swap" in noises and d <= 12 and d != m:
            m, d = d, m
        if "dob_off_by_one" in noises:
            y += rng.choice((-1, 1))
            if (m, d) == (2, 29):
                d = 28
        dob = f"{y:04d}-{m:02d}-{d:02d}"
        if "dob_placeholder" in noises:
            dob = f"{y:04d}-01-01"
        if "dob_year_only" in noises:
            dob = f"{y:04d}"
    obs["date_of_birth"] = dob
    number = person["document_number"]
    if "second_document" in noises:
        second = person.get("second_document") or _other_document(rng, person["nationality"],
                                                                    person["document_type"])
        obs["document_type"], number, obs["document_country"] = second
    if "forged_document" in noises:
        while True:  # someone else's number, or a made-up one, of the same type
            fake = _document(rng, person["nationality"], date(rng.randint(1950, 2010), rng.randint(1, 12),
                                                                rng.randint(1, 28)), person["sex"])
            if fake[0] == obs["document_type"] and _differs_wholly(fake[1], number):
                number = fake[1]
                break
    if "doc_typo" in noises:
        number = _digit_typo(rng, number)
    if "doc_renewed" in noises:
        renewed = _document(rng, person["nationality"], date(1990, 1, 1), person["sex"])[1]
        number = number[:6] + renewed[6:] if person["document_type"] == "ID" else renewed
        if person["document_type"] == "ID":
            number = person["document_number"]  # an ID number is for life; the passport changes
    if "doc_ocr" in noises:
        positions = [i for i, ch in enumerate(number) if ch in _OCR_SWAPS]
        if positions:
            i = rng.choice(positions)
            number = number[:i] + _OCR_SWAPS[number[i]] + number[i + 1:]
    if "doc_missing" in noises:
        number = ""
    obs["document_number"] = number
    if not number:
        obs["document_type"] = obs["document_country"] = ""
    if "missing_given" in noises:
        obs["given_names"] = ""
    if "missing_surname" in noises:
        obs["surname"] = ""
    address = person.get("address", "")
    if "address_move" in noises:
        moved = address
        while moved == address:
            moved = _address(rng, person["nationality"])
        address = moved
    if "address_variant" in noises and address:
        address, _kinds = _address_variant(rng, address)
    obs["address"] = address
    return obs


def person_to_identity(d: dict[str, Any]):
    """Identity for a person or observation dict (imported lazily so generating needs no rapidfuzz)."""
    from screening.engine.matching import Identity

    return Identity.from_strings(
        d["person_id"], d["surname"], d["given_names"], date_of_birth=d["date_of_birth"] or None,
        sex=d["sex"], nationality=d["nationality"], document_number=d["document_number"],
        document_type=d["document_type"], document_country=d["document_country"],
        aliases=d.get("aliases", ()), address=d.get("address"),
    )


def generate_crossings(persons: list[dict[str, Any]], n: int, seed: int = 1,
                       start: datetime | None = None, days: int = 30,
                       group_share: float = 0.15, profile: str = "default") -> list[dict[str, Any]]:
    """n crossings by the given persons over `days` days, as rows of the crossings CSV (`iter_crossings`)."""
    return list(iter_crossings(persons, n, seed, start, days, group_share, profile))


def iter_crossings(persons: list[dict[str, Any]], n: int, seed: int = 1,
                   start: datetime | None = None, days: int = 30,
                   group_share: float = 0.15, profile: str = "default") -> Iterator[dict[str, Any]]:
    """n crossings by the given persons over `days` days, one row at a time: 20M rows as a list do not fit.

    Rows carry truth columns (`person_id`, `group_id`, `noise`, `noise_class`) next to the CSV
    columns; `profile` chooses the noise model (see `noisy_observation`). A share of
    crossings are travel groups: 2-6 persons through the same post within a few minutes, the pattern
    the tracing features look for. Timestamps are aware UTC (ISO 8601 with offset).
    """
    rng = random.Random(seed)
    start = start or datetime(2025, 1, 1, tzinfo=UTC)
    posts = [(p[0], p[2]) for p in BORDER_POSTS]
    made = 0
    group_seq = 0
    while made < n:
        post = _pick(rng, posts)
        direction = rng.choice(("entry", "exit"))
        # Posts are busiest 06:00-18:00 local (04:00-16:00 UTC).
        at = start + timedelta(days=rng.randrange(days), hours=4 + rng.random() * 12)
        if rng.random() < group_share:
            group_seq += 1
            members = rng.sample(persons, min(len(persons), rng.randint(2, 6)))
            group_id: int | None = group_seq
        else:
            members, group_id = [rng.choice(persons)], None
        for person in members:
            if made >= n:
                break
            obs = noisy_observation(person, rng, profile=profile)
            at_member = at + timedelta(seconds=rng.randint(0, 300))
            yield {
                "external_id": f"X{made:09d}",
                "surname": obs["surname"], "given_names": obs["given_names"], "sex": obs["sex"],
                "date_of_birth": obs["date_of_birth"], "nationality": obs["nationality"],
                "document_type": obs["document_type"], "document_number": obs["document_number"],
                "document_country": obs["document_country"], "direction": direction,
                "border_post": post, "crossed_at": at_member.isoformat(), "address": obs["address"],
                "person_id": person["person_id"], "group_id": group_id, "noise": obs["noise"],
                "noise_class": obs["noise_class"],
            }
            made += 1
