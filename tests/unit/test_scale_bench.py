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


@pytest.fixture
def decade_url(pg_schema):
    from tests.conftest import scratch_database

    yield from scratch_database(pg_schema, "_decade")


@pytest.mark.postgres
def test_decade_load_copies_years_back_with_new_people(decade_url):
    """--years: the generated year copied back year by year in SQL; 3 in 10 travellers are other people each
    year (born earlier, other documents, their own traveller), the rest the same people; every crossing has
    its month partition, its external-id key row and a traveller whose counts add up."""
    import sqlalchemy as sa

    from bench.scale_bench import load

    # 4 x 12,000 > 32,767: ids past smallint (psycopg sends small ints as smallint; a product overflowed).
    _, figures = load(decade_url, 48_000, seed=3, years=4)
    assert figures["replicated"] == 36_000
    engine = sa.create_engine(decade_url)
    with engine.connect() as conn:
        q = lambda sql: conn.execute(sa.text(sql)).scalar_one()  # noqa: E731
        assert q("SELECT count(*) FROM crossings") == 48_000
        assert q("SELECT count(*) FROM crossings_default") == 0
        assert q("SELECT count(*) FROM crossing_keys") == 48_000
        assert q("SELECT sum(crossing_count) FROM travellers") == 48_000
        assert q("SELECT count(*) FROM travellers") == figures["travellers"]
        assert q("SELECT count(*) FROM crossings c LEFT JOIN travellers t ON t.id = c.traveller_id "
                 "WHERE t.id IS NULL") == 0
        span = q("SELECT max(crossed_at) - min(crossed_at) FROM crossings")
        assert 3 * 365 < span.days <= 4 * 365 + 60
        base_travellers = q("SELECT max(traveller_id) FROM crossings WHERE id <= 12000")
        # A copied crossing is its original's person (same traveller, document, birth) or another person.
        rows = conn.execute(sa.text(
            "SELECT o.traveller_id = c.traveller_id, o.document_number IS NOT DISTINCT FROM c.document_number, "
            "o.dob_year IS NOT DISTINCT FROM c.dob_year, c.traveller_id > :t, o.surname = c.surname, "
            "o.document_number, c.document_number, o.dob_month, c.dob_month "
            "FROM crossings c JOIN crossings o ON o.id = c.id - 12000 * ((c.id - 1) / 12000) WHERE c.id > 12000"),
            {"t": base_travellers}).all()
        same = [r for r in rows if r[0]]
        other = [r for r in rows if not r[0]]
        assert all(r[1] and r[2] and not r[3] for r in same)
        assert all(r[3] and r[4] for r in other)
        assert all(not r[2] for r in other if r[2] is not None)
        assert 0.2 < len(other) / len(rows) < 0.4
        # Namesakes, not the same person with slips: another month of birth, and a document that does not
        # end as the original's does.
        assert all(r[7] != r[8] for r in other if r[7] is not None)
        assert all(r[6][-6:] != r[5][-6:] for r in other if r[5])
        assert q("SELECT sum(n) FROM stat_crossings_daily") == 48_000  # the rollup triggers saw every year
    engine.dispose()


@pytest.mark.parametrize("hour", range(24))
def test_the_drain_runs_the_scheduler_at_its_local_noon(hour):
    """Whatever the hour, the drain's zone puts the daily jobs (02:30, 03:15, 07:00) hours away."""
    from zoneinfo import ZoneInfo

    from bench.scheduler_drain import noon_zone

    now = datetime(2026, 12, 7, hour, 40, tzinfo=UTC)
    local = now.astimezone(ZoneInfo(noon_zone(now)))
    assert 11 * 60 + 30 <= local.hour * 60 + local.minute <= 12 * 60 + 30


@pytest.mark.postgres
def test_the_drain_marks_exactly_the_last_seen_and_the_real_scheduler_empties_them(decade_url):
    import sqlalchemy as sa

    from bench.scale_bench import load
    from bench.scheduler_drain import drain

    load(decade_url, 3_000, seed=5)
    engine = sa.create_engine(decade_url)
    with engine.begin() as conn:  # one traveller seen long ago already due: the drain starts from its own set
        conn.execute(sa.text("UPDATE travellers SET patterns_due = true WHERE id = (SELECT id FROM travellers "
                             "ORDER BY last_crossed_at, id LIMIT 1)"))
    figures = drain(decade_url, 40, settle=0, timeout=300)
    assert figures["stored"] == 3_000 and figures["marked"] == 40
    assert 0 < figures["recent"] < 3_000  # a year's history: its last week holds a small share
    assert 50 < figures["rss_mib"] <= figures["peak_mib"]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM travellers WHERE patterns_due")).scalar_one() == 0
        ran = conn.execute(sa.text("SELECT job_id FROM scheduler_jobs WHERE last_success_at IS NOT NULL")).scalars()
        assert "tracing-patterns" in set(ran)
    engine.dispose()


@pytest.mark.postgres
def test_the_bench_names_the_server_settings_it_measured_with(pg_schema):
    from bench.scale_bench import SETTINGS, server_settings

    said = dict(part.split(" ", 1) for part in server_settings(pg_schema).split(", "))
    assert list(said) == list(SETTINGS)
    assert said["shared_buffers"][0].isdigit() and said["max_locks_per_transaction"].isdigit()
