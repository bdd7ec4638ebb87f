"""Tracing benchmark: traveller resolution against Splink, incremental attach, pattern rules.

Run: .venv/bin/python -m bench.tracing_bench                      # 100k crossings, Splink on the same
     .venv/bin/python -m bench.tracing_bench --crossings 1000000 --splink-crossings 200000

Data: `bench.generate` persons (one per `--per-person` crossings) and their noisy crossings over a
year, with the truth (person_id) kept aside. Resolution and Splink each run in a subprocess that
reads the same TSV, so wall time, CPU time and peak memory (VmHWM) are those of the resolve step plus
loading its input, and nothing of the generator. Pairwise precision/recall of "same traveller" are
computed from cluster-size combinatorics (`screening.engine.resolve.pairwise_metrics`), never from a pair
list. Splink needs the `bench` extra: `.venv/bin/pip install -e '.[bench]'`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

TARGET_F1 = 0.98
TARGET_F1_1M = 0.99
TARGET_SECONDS_1M = 60.0
TARGET_GIB_1M = 2.0
TARGET_ATTACH_P95_MS = 5.0
START = datetime(2025, 1, 1, tzinfo=UTC)
COLUMNS = ("external_id", "surname", "given_names", "date_of_birth", "sex", "nationality", "document_type",
           "document_number", "document_country", "person_id")


# --- data ------------------------------------------------------------------------------------------


def make_rows(crossings: int, per_person: int, seed: int, days: int = 365) -> list[dict]:
    from bench.generate import generate_crossings, generate_persons

    persons = generate_persons(max(crossings // per_person, 1), seed=seed)
    return generate_crossings(persons, crossings, seed=seed + 1, start=START, days=days)


def write_tsv(rows: list[dict], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for r in rows:
            f.write("\t".join("" if r[c] is None else str(r[c]).replace("\t", " ") for c in COLUMNS) + "\n")


def read_records(path: Path):
    """TravellerRecords and truth from the TSV (what the app will build from crossing rows)."""
    from screening.engine.matching import Document
    from screening.engine.normalize import parse_partial_date
    from screening.engine.resolve import TravellerRecord

    records, truth, dates = [], {}, {}
    with path.open(encoding="utf-8") as f:
        for line in f:
            cid, sur, given, dob, sex, nat, dtype, dnum, dcountry, pid = line.rstrip("\n").split("\t")
            if dob and dob not in dates:
                dates[dob] = parse_partial_date(dob)
            docs = (Document(dtype or None, dnum, dcountry or None),) if dnum else ()
            records.append(TravellerRecord(cid, sur, given, dates.get(dob), sex or None, nat or None, docs))
            truth[cid] = int(pid)
    return records, truth


def peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=1000, method="inclusive")[int(q * 10) - 1] if len(values) > 1 else values[0]


# --- workers (run in a subprocess) -----------------------------------------------------------------


def worker_resolve(data: Path, probes: Path | None, out: Path) -> dict:
    from screening.engine.resolve import TravellerIndex

    records, truth = read_records(data)
    loaded_mib = peak_mib()
    wall, cpu = time.perf_counter(), cpu_seconds()
    index = TravellerIndex.build(records)
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    resolve_peak = peak_mib()
    assignment = index.assignment()
    with out.open("w") as f:
        for c, k in assignment.items():
            f.write(f"{c}\t{k}\n")
    stats = {"seconds": wall, "cpu_seconds": cpu, "peak_mib": resolve_peak, "input_mib": loaded_mib,
             "travellers": index.traveller_count, "crossings": len(records)}
    if probes is not None:
        # Attach held-out crossings of the same population one by one, as they would arrive.
        majority: dict[int, Counter] = {}
        for c, k in assignment.items():
            majority.setdefault(truth[c], Counter())[k] += 1
        new, new_truth = read_records(probes)
        lat, right = [], 0
        for r in new:
            t = time.perf_counter()
            key, _score, _text = index.attach(r)
            lat.append((time.perf_counter() - t) * 1000)
            expected = majority.get(new_truth[r.crossing_id])
            right += bool(expected) and key == expected.most_common(1)[0][0]
        stats.update({"attach_p50_ms": pct(lat, 50), "attach_p95_ms": pct(lat, 95), "attach_p99_ms": pct(lat, 99),
                      "attach_correct": right / len(new), "attach_n": len(new)})
    return stats


def splink_frame(path: Path):
    import pandas as pd

    from screening.engine.normalize import fold, ocr_key

    rows = []
    with path.open(encoding="utf-8") as f:
        for line in f:
            cid, sur, given, dob, sex, nat, _dtype, dnum, _dc, _pid = line.rstrip("\n").split("\t")
            s, g = fold(sur), fold(given)
            rows.append({"unique_id": cid, "surname": s or None, "given": g or None,
                         "first_given": (g.split() or [None])[0],
                         "name_sorted": " ".join(sorted((s + " " + g).split())) or None,
                         "dob": dob if len(dob) == 10 else None, "dob_year": dob[:4] or None,
                         "sex": sex or None, "nationality": nat or None, "doc": ocr_key(dnum) or None})
    return pd.DataFrame(rows)


def worker_splink(data: Path, out: Path, threshold: float) -> dict:
    """Splink 4 with DuckDB as its docs recommend: u by random sampling, lambda from deterministic
    rules, m by EM over two blocking passes, then predict on tight blocking rules and cluster."""
    import splink.comparison_library as cl
    from splink import DuckDBAPI, Linker, SettingsCreator, block_on

    df = splink_frame(data)
    loaded_mib = peak_mib()
    wall, cpu = time.perf_counter(), cpu_seconds()
    settings = SettingsCreator(
        link_type="dedupe_only",
        comparisons=[
            cl.JaroWinklerAtThresholds("name_sorted", [0.97, 0.92, 0.85]),
            cl.JaroWinklerAtThresholds("surname", [0.95, 0.88]),
            cl.LevenshteinAtThresholds("dob", [1, 2]),
            cl.ExactMatch("dob_year"),
            cl.LevenshteinAtThresholds("doc", [1]),
            cl.ExactMatch("sex"),
            cl.ExactMatch("nationality"),
        ],
        blocking_rules_to_generate_predictions=[
            block_on("doc"),
            block_on("surname", "dob"),
            block_on("first_given", "dob"),
            block_on("name_sorted", "dob_year"),
        ],
        retain_intermediate_calculation_columns=False,
    )
    linker = Linker(df, settings, db_api=DuckDBAPI())
    linker.training.estimate_probability_two_random_records_match(
        [block_on("doc", "dob"), block_on("name_sorted", "dob")], recall=0.7)
    linker.training.estimate_u_using_random_sampling(max_pairs=5e6)
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("dob"))
    linker.training.estimate_parameters_using_expectation_maximisation(block_on("surname", "first_given"))
    predictions = linker.inference.predict(threshold_match_probability=0.5)
    clusters = linker.clustering.cluster_pairwise_predictions_at_threshold(
        predictions, threshold_match_probability=threshold).as_pandas_dataframe()
    wall, cpu = time.perf_counter() - wall, cpu_seconds() - cpu
    with out.open("w") as f:
        for cid, k in zip(clusters["unique_id"], clusters["cluster_id"], strict=True):
            f.write(f"{cid}\t{k}\n")
    return {"seconds": wall, "cpu_seconds": cpu, "peak_mib": peak_mib(), "input_mib": loaded_mib,
            "travellers": int(clusters["cluster_id"].nunique()), "crossings": len(df)}


def run_worker(kind: str, data: Path, out: Path, probes: Path | None = None, threshold: float = 0.9) -> dict:
    cmd = [sys.executable, "-m", "bench.tracing_bench", "--worker", kind, "--data", str(data), "--out", str(out),
           "--splink-threshold", str(threshold)]
    if probes is not None:
        cmd += ["--probes-file", str(probes)]
    done = subprocess.run(cmd, capture_output=True, text=True, cwd=Path(__file__).resolve().parent.parent,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"{kind} worker failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def read_assignment(path: Path) -> dict[str, str]:
    with path.open() as f:
        return dict(line.rstrip("\n").split("\t") for line in f)


# --- the comparison --------------------------------------------------------------------------------


def compare(n: int, args, work: Path, with_splink: bool, probes: int) -> dict:
    from screening.engine.resolve import pairwise_metrics

    print(f"\n== resolution: {n:,} crossings, ~{n // args.per_person:,} persons ==", flush=True)
    t = time.perf_counter()
    rows = make_rows(n + probes, args.per_person, args.seed)
    data, probe_file = work / f"crossings_{n}.tsv", work / f"probes_{n}.tsv"
    write_tsv(rows[:n], data)
    write_tsv(rows[n:], probe_file)
    truth = {r["external_id"]: r["person_id"] for r in rows[:n]}
    del rows
    print(f"generated in {time.perf_counter() - t:.0f} s", flush=True)
    results = {}
    ours = run_worker("resolve", data, work / "ours.tsv", probe_file if probes else None)
    ours.update(pairwise_metrics(truth, read_assignment(work / "ours.tsv")))
    results["tsela"] = ours
    if with_splink:
        print("running Splink (DuckDB)...", flush=True)
        try:
            theirs = run_worker("splink", data, work / "splink.tsv", threshold=args.splink_threshold)
            theirs.update(pairwise_metrics(truth, read_assignment(work / "splink.tsv")))
            results["splink"] = theirs
        except (RuntimeError, ImportError) as exc:
            print(f"Splink run failed: {exc}")
    print(f"{'':14s}{'precision':>10s}{'recall':>9s}{'F1':>9s}{'wall s':>9s}{'CPU s':>9s}{'peak MiB':>10s}"
          f"{'input MiB':>10s}{'travellers':>11s}")
    for name, r in results.items():
        print(f"{name:14s}{r['precision']:10.4f}{r['recall']:9.4f}{r['f1']:9.4f}{r['seconds']:9.1f}"
              f"{r['cpu_seconds']:9.1f}{r['peak_mib']:10.0f}{r['input_mib']:10.0f}{r['travellers']:11,d}")
    print(f"true persons seen: {len(set(truth.values())):,}; true pairs {ours['true_pairs']:,}")
    f1_target = TARGET_F1_1M if n >= 1_000_000 else TARGET_F1
    verdicts = [f"F1 {ours['f1']:.4f} >= {f1_target}: {'OK' if ours['f1'] >= f1_target else 'MISS'}"]
    if "splink" in results:
        s = results["splink"]["f1"]
        verdicts.append(f"F1 >= Splink's {s:.4f}: {'OK' if ours['f1'] >= s else 'MISS'}")
    if n >= 1_000_000:
        verdicts.append(f"resolve {ours['seconds']:.1f} s wall / {ours['cpu_seconds']:.1f} s CPU <= "
                        f"{TARGET_SECONDS_1M:.0f} s: {'OK' if ours['seconds'] <= TARGET_SECONDS_1M else 'MISS'}")
        gib = ours["peak_mib"] / 1024
        verdicts.append(f"peak {gib:.2f} GiB <= {TARGET_GIB_1M} GiB: {'OK' if gib <= TARGET_GIB_1M else 'MISS'}")
    if probes:
        verdicts.append(f"attach p50 {ours['attach_p50_ms']:.2f} ms, p95 {ours['attach_p95_ms']:.2f} ms, p99 "
                        f"{ours['attach_p99_ms']:.2f} ms over {ours['attach_n']} new crossings "
                        f"({ours['attach_correct']:.4f} to the right traveller); p95 <= {TARGET_ATTACH_P95_MS} ms: "
                        f"{'OK' if ours['attach_p95_ms'] <= TARGET_ATTACH_P95_MS else 'MISS'}")
    for v in verdicts:
        print("  " + v)
    return results


# --- pattern rules on planted patterns -------------------------------------------------------------


def _child_of(parent: dict, pid: int, rng: random.Random, age: float) -> dict:
    from bench.generate import generate_persons

    base = generate_persons(1, seed=rng.randrange(10**9), id_offset=pid)[0]
    dob = (START.date() - timedelta(days=int(age * 365.25))).isoformat()
    return {**base, "surname": parent["surname"], "nationality": parent["nationality"], "date_of_birth": dob}


def plant_patterns(persons: list[dict], rows: list[dict], rng: random.Random, days: int, k: int) -> dict:
    """Add crossings that carry each pattern `k` times; returns the planted persons per rule.

    Every planted crossing goes through `noisy_observation` like any other, so rules see the same
    noise and the same resolution errors. Row truth fields (`true_*`) describe what happened;
    guardians are recorded on the minors' crossings as an officer would.
    """
    from bench.generate import noisy_observation

    next_pid = max(p["person_id"] for p in persons) + 1
    group = 10**7
    adults = [p for p in persons if len(p["date_of_birth"]) == 10 and 25 <= _age(p["date_of_birth"]) <= 60]
    young = [p for p in persons if len(p["date_of_birth"]) == 10 and _age(p["date_of_birth"]) < 24]
    planted: dict[str, set] = {r: set() for r in ("unaccompanied_minor", "frequent_minor_companions", "no_return",
                                                     "many_identities", "suspect_companion")}

    def cross(person, at, direction, post="MSU", grp=None, relation=None, guardian=None, doc=None, name=None):
        src = dict(person)
        if doc is not None and doc != person["document_number"]:
            src.update(document_number=doc, document_type="P", document_country=person["nationality"])
        if name is not None:
            src["surname"], src["given_names"] = name
        obs = noisy_observation(src, rng)
        rows.append({**obs, "external_id": f"P{len(rows):09d}", "direction": direction, "border_post": post,
                     "crossed_at": at.isoformat(), "group_id": grp, "guardian_relation": relation,
                     "guardian_document_number": guardian or "",
                     "true_surname": src["surname"], "true_document": src["document_number"],
                     "true_dob": person["date_of_birth"], "person_id": person["person_id"]})

    def when():
        return START + timedelta(days=rng.randrange(days - 120), hours=5 + rng.random() * 10)

    for _ in range(k):
        # Families: a child with a parent recorded as such (negative for rule a), and a minor alone.
        parent = rng.choice(adults)
        child = _child_of(parent, next_pid, rng, rng.uniform(3, 16))
        next_pid += 1
        persons.append(child)
        at, group = when(), group + 1
        cross(parent, at, "exit", grp=group)
        cross(child, at + timedelta(seconds=40), "exit", grp=group, relation="parent",
              guardian=parent["document_number"])
        lone = _child_of(rng.choice(adults), next_pid, rng, rng.uniform(8, 17))
        next_pid += 1
        persons.append(lone)
        cross(lone, when(), "exit")
        planted["unaccompanied_minor"].add(lone["person_id"])
        # b) an adult with 3-4 different minors or young women within 60 days.
        man = rng.choice(adults)
        t = when()
        for _v in range(rng.randint(3, 4)):
            victim = _child_of(man, next_pid, rng, rng.uniform(12, 22))
            victim = {**victim, "surname": rng.choice(persons)["surname"], "sex": "F"}
            next_pid += 1
            persons.append(victim)
            t, group = t + timedelta(days=rng.randint(5, 20)), group + 1
            cross(man, t, "exit", grp=group)
            cross(victim, t + timedelta(seconds=30), "exit", grp=group, relation="relative",
                  guardian=man["document_number"])  # he claims to be a relative; no consent letter
        planted["frequent_minor_companions"].add(man["person_id"])
        # c) a young person who leaves and does not come back.
        leaver = _child_of(rng.choice(adults), next_pid, rng, rng.uniform(15, 23))
        next_pid += 1
        persons.append(leaver)
        t = when()
        cross(leaver, t, "entry")
        cross(leaver, t + timedelta(days=30), "exit")
        planted["no_return"].add(leaver["person_id"])
        # d) one traveller with three passports within 40 days.
        cheat = rng.choice(adults)
        t = when()
        for j in range(3):
            number = f"R{rng.choice('ABC')}{rng.randint(0, 9_999_999):07d}" if j else cheat["document_number"]
            cross(cheat, t + timedelta(days=13 * j), rng.choice(("entry", "exit")), doc=number)
        planted["many_identities"].add(cheat["person_id"])
        # e) a suspect crossing with someone, twice, as a recorded group.
        suspect, mate = rng.choice(adults), rng.choice(young or adults)
        for _j in range(2):
            at, group = when(), group + 1
            cross(suspect, at, "exit", grp=group)
            cross(mate, at + timedelta(seconds=20), "exit", grp=group)
        planted["suspect_companion"].add(mate["person_id"])
        planted.setdefault("_suspects", set()).add(suspect["person_id"])
    return planted


def _age(dob: str) -> float:
    return (START.date() - datetime.fromisoformat(dob).date()).days / 365.25


def run_patterns(n: int, args) -> None:
    from bench.generate import generate_crossings, generate_persons
    from screening.engine.matching import Document
    from screening.engine.normalize import parse_partial_date
    from screening.engine.patterns import CrossingFact, evaluate
    from screening.engine.resolve import TravellerRecord, resolve

    print(f"\n== pattern rules: {n:,} background crossings + planted patterns ==", flush=True)
    days = 365
    persons = generate_persons(max(n // args.per_person, 1), seed=args.seed + 10)
    rows = generate_crossings(persons, n, seed=args.seed + 11, start=START, days=days)
    # Background minors cross with a parent recorded as such, as the demo records them (MIDAS practice).
    from screening.demo import record_guardians

    record_guardians(rows, persons, seed=args.seed + 13)
    by_id = {p["person_id"]: p for p in persons}
    for r in rows:
        p = by_id[r["person_id"]]
        r.update(true_surname=p["surname"], true_document=p["document_number"], true_dob=p["date_of_birth"])
    rng = random.Random(args.seed + 12)
    planted = plant_patterns(persons, rows, rng, days, args.plant)
    suspects = planted.pop("_suspects")
    if not args.raw_renewals:
        # The generator draws a fresh passport number for every "renewed" observation, which reads
        # exactly like a traveller with several passports. A renewal is one new number per person.
        renewed: dict[int, str] = {}
        for r in rows:
            if "doc_renewed" in r["noise"] and r["document_number"]:
                r["document_number"] = renewed.setdefault(r["person_id"], r["document_number"])
    now = START + timedelta(days=days + 1)
    dates: dict[str, object] = {}

    def pdate(s):
        if s and s not in dates:
            dates[s] = parse_partial_date(s)
        return dates.get(s)

    records = [TravellerRecord(r["external_id"], r["surname"], r["given_names"], pdate(r["date_of_birth"]), r["sex"],
                               r["nationality"], (Document(r["document_type"] or None, r["document_number"],
                                                           r["document_country"] or None),)
                               if r["document_number"] else ()) for r in rows]
    t = time.perf_counter()
    assignment = resolve(records)
    print(f"resolved {len(records):,} crossings in {time.perf_counter() - t:.1f} s", flush=True)
    # The oracle: the same rules on what really happened (true persons, true dates of birth, documents,
    # surnames, groups); the system: the rules on resolved travellers and what the officers recorded.
    person_of: dict[str, Counter] = {}
    for r in rows:
        person_of.setdefault(assignment[r["external_id"]], Counter())[r["person_id"]] += 1
    main_person = {k: c.most_common(1)[0][0] for k, c in person_of.items()}
    suspect_keys = {k for k, pid in main_person.items() if pid in suspects}
    facts_true, facts_seen = [], []
    for r in rows:
        at = datetime.fromisoformat(r["crossed_at"])
        common = {"crossing_id": r["external_id"], "post": r["border_post"], "direction": r["direction"], "at": at,
                  "group": r["group_id"], "sex": r["sex"], "guardian_relation": r.get("guardian_relation"),
                  "guardian_document": r.get("guardian_document_number") or "",
                  "consent": bool(r.get("consent_document"))}
        facts_true.append(CrossingFact(traveller=r["person_id"], dob=pdate(r["true_dob"]), surname=r["true_surname"],
                                       given_names="", document=r["true_document"], **common))
        facts_seen.append(CrossingFact(traveller=assignment[r["external_id"]], dob=pdate(r["date_of_birth"]),
                                       surname=r["surname"], given_names=r["given_names"],
                                       document=r["document_number"], **common))
    t = time.perf_counter()
    seen = evaluate(facts_seen, now=now, suspects=suspect_keys)
    print(f"rules evaluated in {time.perf_counter() - t:.1f} s", flush=True)
    oracle = evaluate(facts_true, now=now, suspects=suspects)
    print(f"{'rule':28s}{'oracle':>8s}{'found':>8s}{'precision':>10s}{'recall':>8s}{'planted found':>15s}")
    for rule in planted:
        if rule == "unaccompanied_minor":
            truth = {f.crossings[0] for f in oracle if f.rule == rule}
            found = {f.crossings[0] for f in seen if f.rule == rule}
            planted_units = {r["external_id"] for r in rows if r["person_id"] in planted[rule]}
        else:
            truth = {f.travellers[0] for f in oracle if f.rule == rule}
            found = {main_person[f.travellers[0]] for f in seen if f.rule == rule}
            planted_units = planted[rule]
        tp = len(truth & found)
        precision = tp / len(found) if found else 1.0
        recall = tp / len(truth) if truth else 1.0
        print(f"{rule:28s}{len(truth):8d}{len(found):8d}{precision:10.3f}{recall:8.3f}"
              f"{len(planted_units & found):>8d} / {len(planted_units)}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--crossings", type=int, default=100_000)
    parser.add_argument("--splink-crossings", type=int, default=None,
                        help="also compare at this smaller size (default: Splink on --crossings itself)")
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--splink-threshold", type=float, default=0.9)
    parser.add_argument("--per-person", type=int, default=5, help="average crossings per person")
    parser.add_argument("--probes", type=int, default=2000, help="new crossings attached one by one")
    parser.add_argument("--pattern-crossings", type=int, default=100_000)
    parser.add_argument("--plant", type=int, default=40, help="planted instances of each pattern")
    parser.add_argument("--raw-renewals", action="store_true",
                        help="pattern data: keep the generator's new passport number per renewed observation")
    parser.add_argument("--seed", type=int, default=21)
    parser.add_argument("--worker", choices=("resolve", "splink"), help=argparse.SUPPRESS)
    parser.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--probes-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker == "resolve":
        print(json.dumps(worker_resolve(args.data, args.probes_file, args.out)))
        return
    if args.worker == "splink":
        print(json.dumps(worker_splink(args.data, args.out, args.splink_threshold)))
        return
    print(f"tracing benchmark, seed {args.seed}, {os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f} at start", flush=True)
    with tempfile.TemporaryDirectory(prefix="tracing_bench_") as tmp:
        work = Path(tmp)
        splink_small = args.splink_crossings is not None and args.splink_crossings != args.crossings
        compare(args.crossings, args, work, with_splink=not args.no_splink and not splink_small, probes=args.probes)
        if splink_small and not args.no_splink:
            compare(args.splink_crossings, args, work, with_splink=True, probes=0)
    if args.pattern_crossings:
        run_patterns(args.pattern_crossings, args)


if __name__ == "__main__":
    main()
