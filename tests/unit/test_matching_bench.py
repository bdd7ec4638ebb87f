"""The issue-15 benchmark's metrics: per-class pair counts agree with enumerating every pair."""

import random
from itertools import combinations

from bench.generate import NOISE_CLASSES
from bench.matching_bench import beats, metrics_by_class, trace_metrics
from screening.engine.resolve import pairwise_metrics


def _brute(truth, predicted, classes):
    rank = {c: i for i, c in enumerate(NOISE_CLASSES)}
    out = {}
    for a, b in combinations(sorted(truth), 2):
        cls = max(classes[a], classes[b], key=rank.__getitem__)
        tp, pp, tt = out.get(cls, (0, 0, 0))
        same_true, same_pred = truth[a] == truth[b], predicted[a] == predicted[b]
        out[cls] = (tp + (same_true and same_pred), pp + same_pred, tt + same_true)
    return out


def test_pairs_are_split_by_the_noisier_side_as_enumeration_says():
    rng = random.Random(4)
    for _ in range(20):
        ids = [f"c{i}" for i in range(60)]
        truth = {c: rng.randrange(12) for c in ids}
        # Predictions: mostly the truth, with some merges and splits.
        predicted = {c: (truth[c] if rng.random() < 0.8 else rng.randrange(15)) for c in ids}
        classes = {c: rng.choice(NOISE_CLASSES[:6]) for c in ids}
        got = metrics_by_class(truth, predicted, classes)
        for cls, (tp, pp, tt) in _brute(truth, predicted, classes).items():
            if tt or pp:
                assert (got[cls]["true_positive_pairs"], got[cls]["predicted_pairs"], got[cls]["true_pairs"]) == \
                    (tp, pp, tt)
        overall = pairwise_metrics(truth, predicted)
        assert abs(got["all"]["f1"] - overall["f1"]) < 1e-12
        assert got["all"]["true_pairs"] == overall["true_pairs"]


def test_a_false_link_counts_against_the_class_of_its_noisier_side():
    truth = {"a": 1, "b": 1, "c": 2}
    classes = {"a": "clean", "b": "second_document", "c": "clean"}
    got = metrics_by_class(truth, {"a": "x", "b": "y", "c": "x"}, classes)  # a-b split, a-c merged wrongly
    assert got["second_document"]["recall"] == 0.0 and got["second_document"]["true_pairs"] == 1
    assert got["clean"]["precision"] == 0.0 and got["clean"]["predicted_pairs"] == 1


def test_trace_metrics_recall_precision_and_reliability(tmp_path):
    truth = {"x1": 7, "x2": 7, "x3": 8, "x4": 9}
    classes = {"x1": "clean", "x2": "forged_document", "x3": "clean", "x4": "clean"}
    hits = tmp_path / "hits.tsv"
    # Person 7 found on x1 (0.95) and, below the flag, on x2 (0.55); a false flag on x3 (0.85).
    hits.write_text("POI7\tx1\t0.950000\nPOI7\tx2\t0.550000\nPOI7\tx3\t0.850000\n")
    got = trace_metrics(hits, truth, classes, flag=0.8, poi_ids=[7, 10**9])
    assert got["classes"]["all"]["recall"] == 0.5 and got["classes"]["all"]["precision"] == 0.5
    assert got["classes"]["forged_document"]["recall"] == 0.0
    assert got["reliability"][(0.9, 1.0)] == [1, 1] and got["reliability"][(0.8, 0.9)] == [1, 0]
    assert got["reliability"][(0.5, 0.6)] == [1, 1]


def test_a_tie_at_perfect_f1_is_not_a_loss():
    assert beats(1.0, 1.0) == "tie" and beats(0.99, 0.98) == "yes" and beats(0.98, 0.98) == "NO"


def test_trace_metrics_count_a_crossing_found_through_its_traveller_beside_the_pair_measure(tmp_path):
    truth = {"x1": 7, "x2": 7, "x3": 8, "x4": 8}
    classes = {"x1": "clean", "x2": "second_document", "x3": "clean", "x4": "clean"}
    hits = tmp_path / "hits.tsv"
    # x2 (pair 0.40) comes with x1 through its traveller; x4 (0.30) wrongly through x3's traveller.
    hits.write_text("POI7\tx1\t0.999000\t0.990000\t\nPOI7\tx2\t0.400000\t0.990000\tx1\n"
                    "POI8\tx3\t0.999000\t0.990000\t\nPOI8\tx4\t0.300000\t0.990000\tx3\n"
                    "POI7\tx3\t0.600000\t0.300000\tx9\n")
    got = trace_metrics(hits, truth, classes, flag=0.8, poi_ids=[7, 8])
    assert got["classes_pair"]["all"]["recall"] == 0.5 and got["classes_pair"]["all"]["precision"] == 1.0
    assert got["classes"]["all"]["recall"] == 1.0
    assert got["classes"]["all"]["flags"] == 5 and got["classes"]["all"]["precision"] == 4 / 5  # every one shown counts
    assert got["classes"]["second_document"]["recall"] == 1.0
    assert got["classes_pair"]["second_document"]["recall"] == 0.0
