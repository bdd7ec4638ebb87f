"""Why resolution misses or wrongly links pairs: examples of false negatives and false positives.

Run: .venv/bin/python -m bench.matching_errors --crossings 100000 [--namesakes] [--seed 101]

Generates the matching benchmark's data (`bench.matching_bench.make_data`; use another seed than the
reported figures' 15 when tuning), resolves it, then samples pairs of crossings of one person put in
different travellers (FN) and of different persons put in one traveller (FP), and prints each pair's
feature levels and weights as the engine scores them, plus counts of the level vectors by class.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from collections import Counter, defaultdict
from pathlib import Path

from bench.generate import NOISE_CLASSES


def main(argv: list[str] | None = None) -> None:
    from bench.matching_bench import make_data, read_records
    from screening.engine.matching import prepare
    from screening.engine.resolve import ResolveConfig, TravellerIndex

    ap = argparse.ArgumentParser()
    ap.add_argument("--crossings", type=int, default=100_000)
    ap.add_argument("--namesakes", action="store_true")
    ap.add_argument("--seed", type=int, default=101)
    ap.add_argument("--per-person", type=int, default=5)
    ap.add_argument("--poi", type=int, default=10)
    ap.add_argument("--examples", type=int, default=12)
    args = ap.parse_args(argv)
    rank = {c: i for i, c in enumerate(NOISE_CLASSES)}
    with tempfile.TemporaryDirectory() as tmp:
        data, _poi, truth, classes = make_data(args.crossings, args, Path(tmp))
        records = read_records(data)
    by_id = {r.crossing_id: r for r in records}
    index = TravellerIndex.build(records, ResolveConfig())
    assigned = index.assignment()
    cfg = index._match
    from screening.engine.matching import match_prepared

    by_person: dict = defaultdict(list)
    by_cluster: dict = defaultdict(list)
    for c, pid in truth.items():
        by_person[pid].append(c)
        by_cluster[assigned[c]].append(c)
    rng = random.Random(1)
    fn, fp = [], []
    for cs in by_person.values():
        groups = defaultdict(list)
        for c in cs:
            groups[assigned[c]].append(c)
        if len(groups) > 1:
            keys = list(groups)
            main_ = max(keys, key=lambda k: len(groups[k]))
            for k in keys:
                if k != main_:
                    fn.append((groups[main_][0], groups[k][0], len(groups[main_]) * len(groups[k])))
    for cs in by_cluster.values():
        groups = defaultdict(list)
        for c in cs:
            groups[truth[c]].append(c)
        if len(groups) > 1:
            keys = sorted(groups, key=lambda k: -len(groups[k]))
            for k in keys[1:]:
                fp.append((groups[keys[0]][0], groups[k][0], len(groups[keys[0]]) * len(groups[k])))

    def pair_class(a, b):
        return max(classes[a], classes[b], key=rank.__getitem__)

    def show(kind, pairs):
        print(f"\n=== {kind}: {len(pairs)} split/merged groups, {sum(w for *_, w in pairs)} pairs ===")
        by_cls = Counter()
        vectors = Counter()
        for a, b, w in pairs:
            by_cls[pair_class(a, b)] += w
            r = match_prepared(prepare(by_id[a].identity()), prepare(by_id[b].identity()), cfg)
            vectors[tuple(f"{f.name[:3]}={f.level}" for f in r.features if f.level != "missing")] += w
        print("by class:", ", ".join(f"{c} {n}" for c, n in by_cls.most_common()))
        print("commonest level vectors:")
        for v, n in vectors.most_common(15):
            print(f"  {n:6d}  {' '.join(v)}")
        for a, b, _w in rng.sample(pairs, min(args.examples, len(pairs))):
            ra, rb = by_id[a], by_id[b]
            r = match_prepared(prepare(ra.identity()), prepare(rb.identity()), cfg)
            print(f"\n[{pair_class(a, b)}] p={r.score:.4f} w={r.weight:+.2f} ({classes[a]} / {classes[b]})")
            for x in (ra, rb):
                docs = ",".join(f"{d.type}:{d.number}" for d in x.documents)
                print(f"   {x.surname!r} {x.given_names!r} {x.dob} {x.sex} {x.nationality} {docs} {x.address!r}")
            print("   " + "; ".join(f"{f.name}={f.level}({f.contribution:+.1f})" for f in r.features))

    show("FALSE NEGATIVES (same person, different travellers)", fn)
    show("FALSE POSITIVES (different persons, one traveller)", fp)


if __name__ == "__main__":
    main()
