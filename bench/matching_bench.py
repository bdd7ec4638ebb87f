"""Issue 15 benchmark: matching when documents disagree, per noise class, side by side with Splink.

Run: .venv/bin/python -m bench.matching_bench                                # 100k crossings
     .venv/bin/python -m bench.matching_bench --crossings 100000 1000000     # both sizes
     .venv/bin/python -m bench.matching_bench --namesakes                     # heavy-namesake names
     (`make bench-matching` installs the bench extra and runs 100k and 1M)

Data: `bench.generate` persons (one per `--per-person` crossings, Lesotho-style addresses) and their
crossings with the "issue15" noise profile: every crossing carries one noise class (clean, name
variants and typos, date-of-birth slips, OCR confusions, missing document, second document of another
type, forged number, document typo, missing name, address variant, move). The truth (person_id) is
kept aside. Three subprocesses read the same TSV, so their wall time, CPU time and peak memory
(VmHWM) are their own and nothing of the generator or of each other:

- resolve: `screening.engine.resolve.resolve` over all crossings (today's engine API; the address is
  passed when `TravellerRecord` has an `address` field, so a new engine that reads it gets it);
- trace: a list of persons of interest (`--poi` persons who crossed, as many who did not), each with
  their registered identity (primary document, address), screened with `CandidateIndex.screen` over
  an index of the crossings, the call `screening.trace.trace` makes;
- splink: Splink 4 (DuckDB) configured as its documentation recommends for person data.

Metrics. Pairwise precision/recall/F1 of "same traveller" from cluster-size combinatorics (no pair
list). Per noise class: a pair of crossings belongs to the class of its noisier side, the more severe
of the two classes in `bench.generate.NOISE_CLASSES` order (clean < address_variant < name_variant <
ocr_confusion < name_typo < dob_slip < document_missing < document_typo < document_renewed <
address_move < missing_name < forged_document < second_document); true pairs, predicted pairs and
true positives are all split that way, so per-class precision counts the false links a class attracts.
Tracing: trace recall = crossings of listed persons flagged / all their crossings; flag precision =
flags on the right person's crossings / all flags; per class by the crossing's class. A crossing is
flagged when its pair score reaches the engine's flag threshold, or (since session 10, s10b) when the
engine returns it through its traveller (`MatchResult.via`: a crossing of the same traveller is near
certain on its own); the pair-only measure of sessions 4-9 is printed beside it ("pair R", "pair P").
Reliability: every hit whose pair score is >= 0.5 (and each hit found through its traveller), by
bucket of the pair score and of the probability shown to officers (shared among the travellers found,
each crossing grouped by resolution's traveller as the app's crossings are), share that is truly the
person.
`--poi 5000` gives enough hits between 0.5 and 0.9 to read the table.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime
from pathlib import Path

from bench.tracing_bench import cpu_seconds, peak_mib, read_assignment

TARGET_RECALL = 0.995
TARGET_PRECISION = 0.995
TARGET_TRACE_RECALL = 0.995
TARGET_FLAG_PRECISION = 0.99
START = datetime(2025, 1, 1, tzinfo=UTC)
OUTSIDER = 10**9  # person ids from here on never crossed
COLUMNS = ("external_id", "surname", "given_names", "date_of_birth", "sex", "nationality", "document_type",
           "document_number", "document_country", "address", "person_id", "noise_class")
BUCKETS = [(0.0, 0.5), (0.5, 0.6), (0.6, 0.7), (0.7, 0.8), (0.8, 0.9), (0.9, 1.0)]


# --- data ------------------------------------------------------------------------------------------


def _cell(v) -> str:
    return "" if v is None else str(v).replace("\t", " ").replace("\n", " ")


def make_data(n: int, args, work: Path) -> tuple[Path, Path, dict[str, int], dict[str, str]]:
    """Write crossings and persons of interest as TSV; return the paths, truth and classes."""
    from bench.generate import generate_crossings, generate_persons

    names = "namesakes" if args.namesakes else "realistic"
    persons = generate_persons(max(n // args.per_person, 1), seed=args.seed, names=names)
    rows = generate_crossings(persons, n, seed=args.seed + 1, start=START, days=365, profile="issue15")
    data = work / f"crossings_{n}.tsv"
    truth: dict[str, int] = {}
    classes: dict[str, str] = {}
    with data.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join(_cell(r[c]) for c in COLUMNS) + "\n")
            truth[r["external_id"]] = r["person_id"]
            classes[r["external_id"]] = r["noise_class"]
    del rows
    crossed = sorted(set(truth.values()))
    rng = random.Random(args.seed + 5)
    by_id = {p["person_id"]: p for p in persons}
    listed = [by_id[i] for i in rng.sample(crossed, min(args.poi, len(crossed)))]
    listed += generate_persons(args.poi, seed=args.seed + 7, id_offset=OUTSIDER, names=names)
    poi = work / f"poi_{n}.tsv"
    with poi.open("w", encoding="utf-8") as f:
        for p in listed:
            f.write("\t".join(_cell(v) for v in (
                f"POI{p['person_id']}", p["surname"], p["given_names"], p["date_of_birth"], p["sex"],
                p["nationality"], p["document_type"], p["document_number"], p["document_country"],
                p["address"], p["person_id"], "clean")) + "\n")
    return data, poi, truth, classes


def _has_field(cls, name: str) -> bool:
    return dataclasses.is_dataclass(cls) and any(f.name == name for f in dataclasses.fields(cls))


def read_rows(path: Path):
    with path.open(encoding="utf-8") as f:
        for line in f:
            yield line.rstrip("\n").split("\t")


def read_records(path: Path) -> list:
    """TravellerRecords as the app builds them from crossing rows; the address only if the API takes it."""
    from screening.engine.matching import Document
    from screening.engine.normalize import parse_partial_date
    from screening.engine.resolve import TravellerRecord

    with_address = _has_field(TravellerRecord, "address")
    records, dates = [], {}
    for cid, sur, given, dob, sex, nat, dtype, dnum, dcountry, address, _pid, _cls in read_rows(path):
        if dob and dob not in dates:
            dates[dob] = parse_partial_date(dob)
        docs = (Document(dtype or None, dnum, dcountry or None),) if dnum else ()
        extra = {"address": address or None} if with_address else {}
        records.append(TravellerRecord(cid, sur, given, dates.get(dob), sex or None, nat or None, docs, **extra))
    return records


def read_identities(path: Path) -> list:
    """Identities (crossings or persons of interest) as `screening.trace` builds them."""
    from screening.engine.matching import Document, Identity
    from screening.engine.normalize import parse_partial_date

    with_address = _has_field(Identity, "address")
    out, dates = [], {}
    for cid, sur, given, dob, sex, nat, dtype, dnum, dcountry, address, _pid, _cls in read_rows(path):
        if dob and dob not in dates:
            dates[dob] = parse_partial_date(dob)
        docs = [Document(dtype or None, dnum, dcountry or None)] if dnum else []
        extra = {"address": address or None} if with_address else {}
        out.append(Identity(id=cid, surname=sur, given_names=given, dob=dates.get(dob), sex=sex or None,
                            nationality=nat or None, documents=docs, **extra))
    return out


# --- workers (each in its own subprocess) ----------------------------------------------------------


def worker_resolve(data: Path, out: Path) -> dict:
    from screening.engine.resolve import ResolveConfig, TravellerRecord, resolve

    records = read_records(data)
    loaded = peak_mib()
    wall, cpu = time.perf_counter(), cpu_seconds()
    assignment = resolve(records, ResolveConfig())
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    peak = peak_mib()
    with out.open("w") as f:
        for c, k in assignment.items():
            f.write(f"{c}\t{k}\n")
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mib": peak, "input_mib": loaded,
            "travellers": len(set(assignment.values())), "address_used": _has_field(TravellerRecord, "address")}


def worker_trace(data: Path, poi: Path, out: Path, travellers: Path | None = None) -> dict:
    """Each hit's pair score and the probability shown (shared among the travellers found: the
    crossings' traveller from `travellers`, resolution's output, as the app's crossings carry it)."""
    from screening.engine.index import CandidateIndex
    from screening.engine.matching import Identity

    traveller_of = read_assignment(travellers) if travellers is not None else {}
    crossings = read_identities(data)
    wall, cpu = time.perf_counter(), cpu_seconds()
    index = CandidateIndex.build(crossings)
    build_s, build_cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    del crossings
    flag = index.config.flag_threshold
    floor = min(0.5, flag)  # low enough for the reliability table's first bucket
    probes = read_identities(poi)
    wall, cpu = time.perf_counter(), cpu_seconds()
    hits = 0
    with out.open("w") as f:
        for probe in probes:
            for cid, result in index.screen(probe, floor, limit=10**6, person_of=traveller_of.get):
                pair = result.own_score
                via = getattr(result, "via", None)  # found through its traveller (session 10); older engines: none
                f.write(f"{probe.id}\t{cid}\t{pair:.6f}\t{result.score:.6f}\t{'' if via is None else via}\n")
                hits += 1
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    return {"build_seconds": build_s, "build_cpu_seconds": build_cpu, "seconds": wall, "cpu_seconds": cpu,
            "ms_per_probe": 1000 * wall / len(probes), "peak_mib": peak_mib(), "flag_threshold": flag,
            "hits": hits, "address_used": _has_field(Identity, "address")}


def _address_std(text: str) -> str | None:
    """Address cleaned as Splink's docs ask of input (case, punctuation, street types spelled out),
    tokens sorted so that a reordered address reads the same."""
    from screening.engine.normalize import fold

    long = {"st": "street", "rd": "road", "ave": "avenue", "dist": "district"}
    tokens = sorted(long.get(t, t) for t in fold(text).split())
    return " ".join(tokens) or None


def splink_frame(path: Path):
    import pandas as pd

    from screening.engine.normalize import fold, ocr_key

    rows = []
    for cid, sur, given, dob, sex, nat, _dtype, dnum, _dc, address, _pid, _cls in read_rows(path):
        s, g = fold(sur), fold(given)
        rows.append({"unique_id": cid, "first_name": (g.split() or [None])[0], "surname": s or None,
                     "dob": dob if len(dob) == 10 else None, "birth_year": dob[:4] or None,
                     "sex": sex or None, "nationality": nat or None, "document": ocr_key(dnum) or None,
                     "address": _address_std(address)})
    return pd.DataFrame(rows)


def worker_splink(data: Path, out: Path, threshold: float) -> dict:
    """Splink 4 on DuckDB as its person-data examples do (docs/demos/examples/duckdb/
    deduplicate_50k_synthetic): NameComparison on first name and surname (exact level with term
    frequency adjustment), DateOfBirthComparison, fuzzy comparisons for document and address, exact
    sex and nationality; lambda from deterministic rules, u by random sampling, m by EM over two
    blocking rules (without term frequencies), predictions blocked on name/date of birth (and
    document), clusters at `threshold`."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df = splink_frame(data)
    loaded = peak_mib()
    wall, cpu = time.perf_counter(), cpu_seconds()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.NameComparison("first_name"),
            cl.NameComparison("surname"),
            cl.DateOfBirthComparison("dob", input_is_string=True),
            cl.LevenshteinAtThresholds("document", [1, 2]),
            cl.JaroWinklerAtThresholds("address", [0.95, 0.85]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("nationality"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("surname", "dob"),
            block_on("first_name", "dob"),
            block_on("first_name", "surname", "birth_year"),
            block_on("document"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, db_api=DuckDBAPI())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("first_name", "surname", "dob"), block_on("document", "dob")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=1e7, seed=1)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("first_name", "surname", "birth_year"), estimate_without_term_frequencies=True)
    linker.training.estimate_parameters_using_expectation_maximisation(
        block_on("dob"), estimate_without_term_frequencies=True)
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold).as_pandas_dataframe()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    with out.open("w") as f:
        for cid, k in zip(clusters["unique_id"], clusters["cluster_id"], strict=True):
            f.write(f"{cid}\t{k}\n")
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mib": peak_mib(), "input_mib": loaded,
            "travellers": int(clusters["cluster_id"].nunique())}


def run_worker(kind: str, *paths: Path, threshold: float = 0.95) -> dict:
    cmd = [sys.executable, "-m", "bench.matching_bench", "--worker", kind, "--paths", *map(str, paths),
           "--splink-threshold", str(threshold)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# --- metrics ---------------------------------------------------------------------------------------


def _pairs_by_class(groups) -> Counter:
    """Pairs inside each group, by the more severe class of the two sides (group: Counter rank -> n)."""
    out: Counter = Counter()
    for g in groups:
        below = 0
        for rank in sorted(g):
            n = g[rank]
            out[rank] += n * (n - 1) // 2 + n * below
            below += n
    return out


def metrics_by_class(truth: dict, predicted: dict, classes: dict) -> dict[str, dict]:
    """Pairwise precision/recall/F1 per noise class (the noisier side's class) and "all"."""
    from bench.generate import NOISE_CLASSES
    from screening.engine.resolve import pair_scores

    rank = {c: i for i, c in enumerate(NOISE_CLASSES)}
    cells: dict = defaultdict(Counter)
    pred: dict = defaultdict(Counter)
    true: dict = defaultdict(Counter)
    for c, t in truth.items():
        r, p = rank[classes[c]], predicted[c]
        cells[(t, p)][r] += 1
        pred[p][r] += 1
        true[t][r] += 1
    tp, pp, tt = _pairs_by_class(cells.values()), _pairs_by_class(pred.values()), _pairs_by_class(true.values())
    out = {NOISE_CLASSES[r]: pair_scores(tp[r], pp[r], tt[r]) for r in sorted(set(tt) | set(pp))}
    out["all"] = pair_scores(sum(tp.values()), sum(pp.values()), sum(tt.values()))
    return out


def trace_metrics(hits_path: Path, truth: dict, classes: dict, flag: float, poi_ids: list[int]) -> dict:
    """Trace recall and flag precision (overall and by the crossing's class), and the reliability tables
    of the pair score and of the probability shown (the fourth column, if any).

    Two measures, side by side (session 10, s10b): "classes_pair" flags a crossing whose own pair score
    reaches the flag threshold (the measure of sessions 4-9); "classes" also flags a crossing the engine
    returns through its traveller (fifth column: the anchor crossing, a crossing of the same traveller
    whose own pair is near certain; `MatchConfig.person_anchor`), as the Trace page then lists it. Flag
    precision counts every crossing flagged either way.
    """
    listed = set(poi_ids)
    expected: dict[int, set] = defaultdict(set)
    for c, pid in truth.items():
        if pid in listed:
            expected[pid].add(c)
    found: dict[str, Counter] = {"pair": Counter(), "shown": Counter()}
    flagged: dict[str, Counter] = {"pair": Counter(), "shown": Counter()}
    buckets: dict[tuple, list[int]] = {b: [0, 0] for b in BUCKETS}
    pair_buckets: dict[tuple, list[int]] = {b: [0, 0] for b in BUCKETS}
    for ref, cid, score, *rest in read_rows(hits_path):
        pid, s = int(ref[3:]), float(score)
        right = truth[cid] == pid
        cls = classes[cid]
        through = len(rest) > 1 and rest[1] != ""
        for measure, on in (("pair", s >= flag), ("shown", s >= flag or through)):
            if on:
                flagged[measure][cls] += 1
                found[measure][cls] += right
        for table, value in ((pair_buckets, s), (buckets, float(rest[0]) if rest else s)):
            for lo, hi in BUCKETS:
                if lo <= value < hi or (hi == 1.0 and value == 1.0):
                    table[(lo, hi)][0] += 1
                    table[(lo, hi)][1] += right
    wanted = Counter(classes[c] for cs in expected.values() for c in cs)
    out: dict = {"reliability": buckets, "reliability_pair": pair_buckets}
    for measure, name in (("shown", "classes"), ("pair", "classes_pair")):
        found_true, flags = found[measure], flagged[measure]
        per = {}
        for cls in set(wanted) | set(flags):
            per[cls] = {"recall": found_true[cls] / wanted[cls] if wanted[cls] else 1.0,
                        "precision": found_true[cls] / flags[cls] if flags[cls] else 1.0,
                        "crossings": wanted[cls], "flags": flags[cls]}
        tp, fl, tt = sum(found_true.values()), sum(flags.values()), sum(wanted.values())
        per["all"] = {"recall": tp / tt if tt else 1.0, "precision": tp / fl if fl else 1.0, "crossings": tt,
                      "flags": fl}
        out[name] = per
    return out


# --- the run ---------------------------------------------------------------------------------------


def verdict(ok: bool) -> str:
    return "MET" if ok else "MISSED"


def beats(ours: float, theirs: float) -> str:
    """"yes" when our F1 is higher; "tie" when both are perfect (nothing left to beat); else "NO"."""
    if ours > theirs:
        return "yes"
    return "tie" if ours == theirs == 1.0 else "NO"


def run(n: int, args, work: Path) -> dict:
    from bench.generate import NOISE_CLASSES

    print(f"\n== {n:,} crossings, ~{n // args.per_person:,} persons, "
          f"{'namesakes' if args.namesakes else 'realistic'} names, issue15 noise profile ==", flush=True)
    t = time.perf_counter()
    data, poi, truth, classes = make_data(n, args, work)
    print(f"generated in {time.perf_counter() - t:.0f} s; class mix: "
          + ", ".join(f"{c} {k / n:.1%}" for c, k in Counter(classes.values()).most_common()), flush=True)

    ours = run_worker("resolve", data, work / "ours.tsv")
    ours_m = metrics_by_class(truth, read_assignment(work / "ours.tsv"), classes)
    splink = splink_m = None
    if not args.no_splink:
        print("running Splink (DuckDB)...", flush=True)
        try:
            splink = run_worker("splink", data, work / "splink.tsv", threshold=args.splink_threshold)
            splink_m = metrics_by_class(truth, read_assignment(work / "splink.tsv"), classes)
        except RuntimeError as exc:
            print(f"Splink run failed: {exc}")
    print("tracing the list of persons of interest...", flush=True)
    tr = run_worker("trace", data, poi, work / "hits.tsv", work / "ours.tsv")
    poi_ids = [int(row[10]) for row in read_rows(poi)]
    tm = trace_metrics(work / "hits.tsv", truth, classes, tr["flag_threshold"], poi_ids)

    print(f"\nresolution (address {'passed' if ours['address_used'] else 'not in the API, not passed'}): "
          f"true pairs {ours_m['all']['true_pairs']:,}, true persons {len(set(truth.values())):,}")
    print(f"{'':10s}{'precision':>10s}{'recall':>9s}{'F1':>9s}{'wall s':>9s}{'CPU s':>9s}{'peak MiB':>10s}"
          f"{'input MiB':>10s}{'travellers':>11s}")
    for name, r, m in (("tsela", ours, ours_m), ("splink", splink, splink_m)):
        if r is not None:
            a = m["all"]
            print(f"{name:10s}{a['precision']:10.4f}{a['recall']:9.4f}{a['f1']:9.4f}{r['seconds']:9.1f}"
                  f"{r['cpu_seconds']:9.1f}{r['peak_mib']:10.0f}{r['input_mib']:10.0f}{r['travellers']:11,d}")
    note = f"; Splink clusters at {args.splink_threshold}" if splink_m else ""
    print(f"\nper noise class (a pair's class is its noisier side's){note}")
    head = f"{'class':18s}{'true pairs':>11s}{'P':>8s}{'R':>8s}{'F1':>8s}"
    if splink_m:
        head += f"{'Splink P':>10s}{'Splink R':>9s}{'Splink F1':>10s}  ours > Splink"
    print(head)
    for cls in [*NOISE_CLASSES, "all"]:
        if cls not in ours_m:
            continue
        m = ours_m[cls]
        line = f"{cls:18s}{m['true_pairs']:11,d}{m['precision']:8.4f}{m['recall']:8.4f}{m['f1']:8.4f}"
        if splink_m:
            s = splink_m.get(cls)
            if s is None:
                line += f"{'-':>10s}{'-':>9s}{'-':>10s}"
            else:
                line += (f"{s['precision']:10.4f}{s['recall']:9.4f}{s['f1']:10.4f}  "
                         f"{beats(m['f1'], s['f1'])}")
        print(line)

    print(f"\ntracing {len(poi_ids):,} persons of interest ({sum(p < OUTSIDER for p in poi_ids):,} who crossed): "
          f"index build {tr['build_seconds']:.1f} s, {tr['ms_per_probe']:.1f} ms per person wall, screening CPU "
          f"{tr['cpu_seconds']:.1f} s, peak "
          f"{tr['peak_mib']:.0f} MiB; flag threshold {tr['flag_threshold']}; address "
          f"{'passed' if tr['address_used'] else 'not in the API, not passed'}")
    print("flagged: a crossing whose own pair reaches the flag threshold (\"pair\", the measure before session 10),"
          " or also one the engine returns through its traveller (\"shown\", as the Trace page lists it)")
    print(f"{'class':18s}{'crossings':>10s}{'recall':>8s}{'flags':>8s}{'precision':>10s}"
          f"{'pair R':>9s}{'pair flags':>11s}{'pair P':>8s}")
    for cls in [*NOISE_CLASSES, "all"]:
        m, q = tm["classes"].get(cls), tm["classes_pair"].get(cls)
        if m:
            print(f"{cls:18s}{m['crossings']:10,d}{m['recall']:8.4f}{m['flags']:8,d}{m['precision']:10.4f}"
                  f"{q['recall']:9.4f}{q['flags']:11,d}{q['precision']:8.4f}")
    print("\nreliability (trace hits whose pair scores >= 0.5): the pair's own score, and the probability"
          " shown to officers (shared among the travellers found)")
    print(f"{'score':>10s}{'pair hits':>10s}{'true':>8s}{'share':>8s}{'shown hits':>12s}{'true':>8s}{'share':>8s}")
    for b in BUCKETS:
        (k, right), (k2, right2) = tm["reliability_pair"][b], tm["reliability"][b]
        print(f"{f'{b[0]:.1f}-{b[1]:.1f}':>10s}{k:10,d}{right:8,d}{(right / k if k else float('nan')):8.3f}"
              f"{k2:12,d}{right2:8,d}{(right2 / k2 if k2 else float('nan')):8.3f}")

    a, t_all, t_pair = ours_m["all"], tm["classes"]["all"], tm["classes_pair"]["all"]
    print("\ntargets")
    print(f"  resolution recall {a['recall']:.4f} >= {TARGET_RECALL} at precision {a['precision']:.4f} >= "
          f"{TARGET_PRECISION}: {verdict(a['recall'] >= TARGET_RECALL and a['precision'] >= TARGET_PRECISION)}")
    print(f"  trace recall {t_all['recall']:.4f} >= {TARGET_TRACE_RECALL} at flag precision "
          f"{t_all['precision']:.4f} >= {TARGET_FLAG_PRECISION}: "
          f"{verdict(t_all['recall'] >= TARGET_TRACE_RECALL and t_all['precision'] >= TARGET_FLAG_PRECISION)}"
          f" (pair alone: {t_pair['recall']:.4f} at {t_pair['precision']:.4f})")
    if splink_m:
        lost = [c for c in ours_m if c != "all" and c in splink_m
                and beats(ours_m[c]["f1"], splink_m[c]["f1"]) == "NO"]
        print(f"  higher F1 than Splink on every noise class (a tie at 1.0 counts): {verdict(not lost)}"
              + (f" (not on: {', '.join(lost)})" if lost else ""))
    return {"ours": ours_m, "splink": splink_m, "trace": tm}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crossings", type=int, nargs="+", default=[100_000])
    parser.add_argument("--per-person", type=int, default=5, help="average crossings per person")
    parser.add_argument("--poi", type=int, default=1000, help="persons of interest who crossed (and as many who not)")
    parser.add_argument("--namesakes", action="store_true", help="Southern African names with heavy namesakes")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--splink-threshold", type=float, default=0.95)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--worker", choices=("resolve", "trace", "splink"), help=argparse.SUPPRESS)
    parser.add_argument("--paths", type=Path, nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "resolve":
        print(json.dumps(worker_resolve(*args.paths)))
        return
    if args.worker == "trace":
        print(json.dumps(worker_trace(*args.paths)))
        return
    if args.worker == "splink":
        print(json.dumps(worker_splink(*args.paths, args.splink_threshold)))
        return
    print(f"matching benchmark (issue 15), seed {args.seed}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC", flush=True)
    for n in args.crossings:
        with tempfile.TemporaryDirectory(prefix="matching_bench_") as tmp:
            run(n, args, Path(tmp))


if __name__ == "__main__":
    main()
