"""Issue 15: anatomy of the missed same-person pairs, and the best recall the recorded fields allow.

Run: .venv/bin/python -m bench.miss_anatomy --crossings 300000 --seed 101 [--classes forged_document ...]

Generates the matching benchmark's data (`bench.matching_bench`: `bench.generate` persons and the
"issue15" noise profile, `--namesakes` by default), resolves it with today's engine and, for every
crossing of the chosen classes that ended apart from its person's main traveller (the traveller holding
most of that person's crossings), asks what evidence could in principle tell its person apart:

- identity twins: how many OTHER persons who crossed have the same folded surname, given names, full
  date of birth, sex and nationality as the crossing as recorded (0 = the identity alone singles the
  person out among everyone who crossed);
- the address (same as the person's usual one, a variant of it, or moved to a new one);
- the document (does any other crossing of the person carry the same number);
- extra noise (a name typo or a date-of-birth slip on top of the document change);
- the travel sequence (direction, post, time): measured below as how often a person's next crossing
  reverses direction or uses the same post, against chance.

The ceiling: a crossing whose recorded identity is shared by another person who crossed, whose address
moved and whose document appears on none of its person's other crossings carries nothing that tells
its person from the namesake; no engine can link it without guessing. Keeping exactly those crossings
apart (linked to each other when they share a document) and everything else right gives the best
pairwise recall the recorded fields allow, printed at the end.
"""

from __future__ import annotations

import argparse
import os
import time
from collections import Counter, defaultdict
from pathlib import Path

from bench.matching_bench import START, metrics_by_class

TARGET = ("forged_document", "second_document")


def _pairs(n: int) -> int:
    return n * (n - 1) // 2


def generate(n: int, seed: int, names: str, per_person: int = 5):
    from bench.generate import generate_crossings, generate_persons

    persons = generate_persons(max(n // per_person, 1), seed=seed, names=names)
    rows = generate_crossings(persons, n, seed=seed + 1, start=START, days=365, profile="issue15")
    return persons, rows


def resolve_rows(rows) -> dict[str, object]:
    from screening.engine.matching import Document
    from screening.engine.normalize import parse_partial_date
    from screening.engine.resolve import ResolveConfig, TravellerRecord, resolve

    dates: dict = {}
    records = []
    for r in rows:
        dob = r["date_of_birth"]
        if dob and dob not in dates:
            dates[dob] = parse_partial_date(dob)
        num = r["document_number"]
        docs = (Document(r["document_type"] or None, num, r["document_country"] or None),) if num else ()
        records.append(TravellerRecord(r["external_id"], r["surname"], r["given_names"], dates.get(dob),
                                       r["sex"] or None, r["nationality"] or None, docs,
                                       address=r["address"] or None))
    return resolve(records, ResolveConfig())


def identity_key(surname: str, given: str, dob: str, sex: str, nationality: str) -> tuple | None:
    """Folded full name + full date of birth + sex + nationality; None without a full date or a name."""
    from screening.engine.normalize import fold

    if len(dob or "") != 10 or not surname or not given:
        return None
    return (fold(surname), " ".join(sorted(fold(given).split())), dob, sex, nationality)


def sequence_signal(rows) -> dict[str, float]:
    """How often a person's next crossing reverses direction / keeps the post, against chance."""
    by_person: dict[int, list] = defaultdict(list)
    for r in rows:
        by_person[r["person_id"]].append((r["crossed_at"], r["direction"], r["border_post"]))
    steps = reversed_ = same_post = 0
    posts = Counter(r["border_post"] for r in rows)
    total = sum(posts.values())
    chance_post = sum((k / total) ** 2 for k in posts.values())
    for seq in by_person.values():
        seq.sort()
        for a, b in zip(seq, seq[1:], strict=False):
            steps += 1
            reversed_ += a[1] != b[1]
            same_post += a[2] == b[2]
    return {"steps": steps, "reverses": reversed_ / steps, "same_post": same_post / steps,
            "same_post_chance": chance_post}


def anatomy(persons, rows, predicted: dict, classes: tuple[str, ...]) -> dict:
    crossed = {r["person_id"] for r in rows}
    by_identity: dict[tuple, set] = defaultdict(set)
    for p in persons:
        if p["person_id"] in crossed:
            k = identity_key(p["surname"], p["given_names"], p["date_of_birth"], p["sex"], p["nationality"])
            if k:
                by_identity[k].add(p["person_id"])
    person_of = {p["person_id"]: p for p in persons}
    rows_of: dict[int, list] = defaultdict(list)
    for r in rows:
        rows_of[r["person_id"]].append(r)

    table: Counter = Counter()        # (class, twins, address, document, extra) -> crossings
    pairs_table: Counter = Counter()  # same -> missed pairs with that crossing on the noisier side
    ambiguous: set[str] = set()
    for pid, rs in rows_of.items():
        if len(rs) < 2:
            continue
        clusters = Counter(predicted[r["external_id"]] for r in rs)
        main = clusters.most_common(1)[0][0]
        numbers = Counter(r["document_number"] for r in rs if r["document_number"])
        for r in rs:
            if r["noise_class"] not in classes or predicted[r["external_id"]] == main:
                continue
            k = identity_key(r["surname"], r["given_names"], r["date_of_birth"], r["sex"], r["nationality"])
            twins = len(by_identity.get(k, set()) - {pid}) if k else -1
            twins_bin = "no full identity" if twins < 0 else ("0" if twins == 0 else
                                                             "1" if twins == 1 else "2+")
            noise = set(r["noise"])
            address = "moved" if "address_move" in noise else "variant" if "address_variant" in noise else "same"
            if r["address"] == person_of[pid]["address"]:
                address = "same"
            doc = "shared with another of its crossings" if numbers[r["document_number"]] > 1 else "unique"
            extra = "name/dob slip" if noise & {"typo", "dob_swap", "dob_off_by_one", "drop_middle"} else "-"
            key = (r["noise_class"], twins_bin, address, doc, extra)
            table[key] += 1
            missed = sum(1 for o in rs if predicted[o["external_id"]] != predicted[r["external_id"]])
            pairs_table[key] += missed
            if twins_bin in ("1", "2+") and address == "moved" and extra == "-":
                ambiguous.add(r["external_id"])
    return {"table": table, "pairs": pairs_table, "ambiguous": ambiguous, "rows_of": rows_of}


def ceiling(rows_of: dict[int, list], ambiguous: set[str]) -> tuple[int, int]:
    """(true pairs, pairs an oracle keeps) when only the ambiguous crossings stay apart."""
    total = kept = 0
    for rs in rows_of.values():
        total += _pairs(len(rs))
        rest = [r for r in rs if r["external_id"] not in ambiguous]
        kept += _pairs(len(rest))
        # ambiguous crossings of one person that share a document still link to each other
        docs = Counter(r["document_number"] for r in rs if r["external_id"] in ambiguous and r["document_number"])
        kept += sum(_pairs(k) for k in docs.values())
    return total, kept


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crossings", type=int, default=300_000)
    parser.add_argument("--seed", type=int, default=101)
    parser.add_argument("--names", default="namesakes")
    parser.add_argument("--classes", nargs="+", default=list(TARGET))
    parser.add_argument("--assignment", type=Path, help="reuse (or write) the resolution here")
    args = parser.parse_args(argv)
    print(f"miss anatomy: {args.crossings:,} crossings, {args.names}, seed {args.seed}, "
          f"load average {os.getloadavg()[0]:.1f}", flush=True)
    persons, rows = generate(args.crossings, args.seed, args.names)
    if args.assignment and args.assignment.exists():
        with args.assignment.open() as f:
            predicted = dict(line.rstrip("\n").split("\t") for line in f)
    else:
        t = time.process_time()
        predicted = {k: str(v) for k, v in resolve_rows(rows).items()}
        print(f"resolved in {time.process_time() - t:.0f} s CPU", flush=True)
        if args.assignment:
            with args.assignment.open("w") as f:
                f.writelines(f"{k}\t{v}\n" for k, v in predicted.items())
    truth = {r["external_id"]: r["person_id"] for r in rows}
    classes = {r["external_id"]: r["noise_class"] for r in rows}
    m = metrics_by_class(truth, predicted, classes)
    a = m["all"]
    print(f"resolution: P {a['precision']:.4f} R {a['recall']:.4f}; true pairs {a['true_pairs']:,}, "
          f"missed {a['true_pairs'] - a['true_positive_pairs']:,}")
    for c in args.classes:
        x = m.get(c)
        if x:
            print(f"  {c}: P {x['precision']:.4f} R {x['recall']:.4f}, missed "
                  f"{x['true_pairs'] - x['true_positive_pairs']:,} of {x['true_pairs']:,}")

    s = sequence_signal(rows)
    print(f"\ntravel sequence: {s['steps']:,} consecutive crossings of one person; next reverses the "
          f"direction {s['reverses']:.3f} (chance 0.5), same post {s['same_post']:.3f} "
          f"(chance {s['same_post_chance']:.3f})")

    an = anatomy(persons, rows, predicted, tuple(args.classes))
    print("\ncrossings apart from their person's main traveller, by evidence (missed pairs they take part in)")
    print(f"{'class':16s}{'identity twins':>17s}{'address':>9s}  {'document':38s}{'extra':>15s}"
          f"{'crossings':>10s}{'pairs':>8s}")
    for key, k in sorted(an["table"].items(), key=lambda kv: -kv[1]):
        print(f"{key[0]:16s}{key[1]:>17s}{key[2]:>9s}  {key[3]:38s}{key[4]:>15s}{k:10,d}{an['pairs'][key]:8,d}")
    by = defaultdict(Counter)
    for key, k in an["table"].items():
        by["twins"][key[1]] += k
        by["address"][key[2]] += k
        by["extra"][key[4]] += k
    for what, c in by.items():
        print(f"  by {what}: " + ", ".join(f"{v} {n:,}" for v, n in c.most_common()))

    total, kept = ceiling(an["rows_of"], an["ambiguous"])
    got = a["true_positive_pairs"]
    print(f"\nambiguous from the recorded fields (a twin identity, address moved, no extra slip): "
          f"{len(an['ambiguous']):,} crossings")
    print(f"best recall the recorded fields allow (everything else linked): {kept / total:.4f} "
          f"({total - kept:,} of {total:,} pairs out of reach); today {got / total:.4f}")


if __name__ == "__main__":
    main()
