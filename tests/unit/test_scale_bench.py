"""The scale benchmark's --per-year option: N crossings at R a year span N/R years of month partitions."""

from datetime import UTC, datetime, timedelta

import pytest

from bench.generate import generate_crossings, generate_persons
from bench.scale_bench import YEAR_DAYS, history_days


@pytest.mark.parametrize(("n", "per_year", "days"), [
    (200_000, None, YEAR_DAYS),  # the default: one year, whatever the size
    (200_000, 0, YEAR_DAYS),
    (200_000, 200_000, YEAR_DAYS),
    (200_000, 40_000, 5 * YEAR_DAYS),  # five years at one rate
    (100_000, 40_000, round(2.5 * YEAR_DAYS)),
    (10, 1_000_000, 1),  # never less than a day
])
def test_history_days(n, per_year, days):
    assert history_days(n, per_year) == days


def test_negative_rate_refused():
    with pytest.raises(ValueError):
        history_days(100, -5)


def test_generated_dates_span_the_history():
    """The crossings fill the whole span (so every month partition is used), and none falls outside it."""
    days = history_days(3000, 600)  # five years
    start = datetime(2020, 1, 1, tzinfo=UTC)
    rows = generate_crossings(generate_persons(200, seed=3), 3000, seed=4, start=start, days=days)
    at = [datetime.fromisoformat(r["crossed_at"]) for r in rows]
    assert min(at) >= start and max(at) < start + timedelta(days=days + 1)
    months = {(a.year, a.month) for a in at}
    assert len(months) == 60
