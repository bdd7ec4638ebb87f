"""Workers build their indexes at boot (gunicorn hook), not on the first border-system batch."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from screening import services
from screening.screener import get_screener
from screening.tracing import get_tracer
from tests.screening.builders import NOW, make_person, new_crossing

ROOT = Path(__file__).resolve().parents[2]


def test_warm_up_builds_the_screening_index_and_no_copy_of_the_travellers(app, db_session):
    """Online attach reads travellers from the database (issue 10): warm-up loads persons of interest only."""
    make_person()
    services.store_crossings([new_crossing("W1", surname="Letsie", given_names="Thabo", dob="1980-01-01",
                                           document_number="RA999111")], source="test", actor=None, now=NOW)
    db_session.commit()
    app.extensions.pop("tsela_screener", None)
    app.extensions.pop("tsela_tracer", None)
    persons, crossings = services.warm_up(today=date.today())
    assert (persons, crossings) == (1, 0)
    assert len(get_screener().index) == 1 and get_tracer().index is None


def test_warm_up_builds_both_indexes_with_the_per_process_traveller_index(app, db_session):
    app.config["TRACING_ATTACH"] = "memory"
    make_person()
    services.store_crossings([new_crossing("W1", surname="Letsie", given_names="Thabo", dob="1980-01-01",
                                           document_number="RA999111")], source="test", actor=None, now=NOW)
    db_session.commit()
    app.extensions.pop("tsela_screener", None)
    app.extensions.pop("tsela_tracer", None)
    persons, crossings = services.warm_up(today=date.today())
    assert (persons, crossings) == (1, 1)
    assert len(get_screener().index) == 1 and len(get_tracer().index) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_gunicorn_worker_warms_indexes_at_boot(app, database_url, db_session):
    make_person()
    db_session.commit()
    port = _free_port()
    env = {**os.environ, "DATABASE_URL": database_url, "TSELA_CONFIG": "development"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--config", "scripts/gunicorn_conf.py", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "tip_cases:create_app()"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 30
        lines = []
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            lines.append(line)
            if "indexes warm" in line:
                break
        warm = [x for x in lines if "indexes warm: 1 persons of interest" in x]
        assert warm, "".join(lines)
        # The worker's collector: rarer young collections, and the warm-up's objects out of every full one.
        assert "collector thresholds (20000, 10, 10)" in warm[0]
        frozen = int(warm[0].split(" objects frozen")[0].rsplit(" ", 1)[1])
        assert frozen > 50_000, warm[0]
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        proc.stdout.close()
