"""The scale benchmark says, for each online target of issue 10, whether it was met and by how much not."""

from bench.scale_bench import verdicts


def test_each_target_is_met_or_missed_by_how_much():
    result = {
        "attach_p95_ms": 25.0,
        "api_per_s": 500.0,
        "pages": {
            "flag queue (officer, Maseru Bridge)": (40.0, 120.0),
            "traveller page (investigator)": (50.0, 450.0),
            "dashboard (manager, 30 days)": (30.0, 500.0),
        },
    }
    lines = verdicts(result)
    assert lines[0] == "attach p95: 25.0 ms against <= 10 ms: missed by 2.5x"
    assert lines[1] == "API crossings/s, two workers: 500.0/s against >= 1,000/s: missed by 2.0x"
    assert lines[2].endswith("120.0 ms against <= 300 ms: met")
    assert lines[3].endswith("missed by 1.5x")
    assert lines[4].endswith(": met")  # at the limit is within it
    assert lines[5] == "statistics 12 months p95: not measured in this run (target 1,000 ms)"


def test_a_fast_enough_api_is_met():
    assert verdicts({"api_per_s": 1200.0})[1].endswith(": met")
