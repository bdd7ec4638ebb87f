"""Scale benchmark (issue 10): is a web worker's memory flat in stored history, and how fast is attach?

Run: .venv/bin/python -m bench.scale_bench --sizes 100000 1000000 [--pg-url URL] [--workers 2]
       [--compare-memory-up-to N] (make bench-scale)

For each size N, on PostgreSQL (the database named by --pg-url is wiped first):
1. generates N crossings (bench.generate: one person per 5 crossings, a year of dates, or N/R years with
   --per-year R), resolves them
   with the engine's batch resolution, and loads crossings and travellers by COPY (load time printed);
2. fills the traveller key table with `screening.online.rebuild_keys` (the upgrade path, timed);
3. starts gunicorn (`--workers`, scripts/gunicorn_conf.py, attach through the database), warms each
   worker up with API batches of new crossings by the same people, and prints each worker's RSS;
4. prints attach p50/p95 (one crossing per transaction, in this process, `tracing.attach_pending`) and
   the API's end-to-end crossings/s with one client per worker posting batches of 500, screened against
   `--watchlist` persons of interest (the flags raised are printed);
5. runs the scheduler (`flask scheduler run`) beside the workers and prints its RSS once its pattern
   job has worked off the API's travellers, then the nightly rules (`flask screening patterns`) in a
   process of their own with their peak RSS;
6. times the officer's flag queue, a traveller page, the dashboard and the 12-month statistics
   (p50/p95, signed in through the real login, `--pages` requests each).
With --compare-memory-up-to N the worker RSS is also measured with TRACING_ATTACH=memory (the per-process
index this issue replaces), for the before/after figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/hd_scale"
# History ends today, so the scheduler's rules (which look back from the real present) see its last months.
NOW = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
YEAR_DAYS = 365


def history_days(n: int, per_year: int | None) -> int:
    """Days the loaded history spans: a year by default; with --per-year R, n crossings at R a year (at least a
    day), so that a longer history at one traffic rate has more month partitions, not busier months."""
    if not per_year:
        return YEAR_DAYS
    if per_year <= 0:
        raise ValueError("per_year must be positive")
    return max(1, round(YEAR_DAYS * n / per_year))


def _wipe(url: str) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP SCHEMA public CASCADE"))
        conn.execute(sa.text("CREATE SCHEMA public"))
    engine.dispose()


def _app(url: str, **extra):
    from tip_cases import create_app

    return create_app("development", {"SQLALCHEMY_DATABASE_URI": url, "RATELIMIT_ENABLED": False, **extra})


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


def load(url: str, n: int, seed: int, days: int = YEAR_DAYS, years: int = 1) -> tuple[list[dict], dict]:
    """Generate, resolve and COPY n crossings over `days` days ending 10 days ago; returns the persons (for new
    traffic) and timings. With years > 1, n is the decade's total: a year of n / years crossings is generated
    and COPYed, and `replicate` writes the earlier years in SQL before the keys are rebuilt."""
    from flask_migrate import upgrade

    from bench.generate import generate_crossings, generate_persons
    from screening import online, tracing
    from screening.engine.matching import Document
    from screening.engine.normalize import parse_partial_date
    from screening.engine.resolve import TravellerIndex, TravellerRecord
    from tip_cases.extensions import db
    from tip_cases.models import BorderPost

    figures: dict = {}
    n = n // years if years > 1 else n
    _wipe(url)
    app = _app(url)
    with app.app_context():
        upgrade()
        t = time.perf_counter()
        persons = generate_persons(max(n // 5, 1), seed=seed)
        start = NOW - timedelta(days=days + 10)
        rows = generate_crossings(persons, n, seed=seed + 1, start=start, days=days)
        figures["generate_s"] = time.perf_counter() - t
        dates: dict = {}
        records = []
        for i, r in enumerate(rows, start=1):
            dob = r["date_of_birth"]
            if dob and dob not in dates:
                dates[dob] = parse_partial_date(dob)
            r["dob"] = dates.get(dob)
            docs = (Document(r["document_type"] or None, r["document_number"], r["document_country"] or None),) \
                if r["document_number"] else ()
            records.append(TravellerRecord(i, r["surname"], r["given_names"], r["dob"], r["sex"] or None,
                                           r["nationality"] or None, docs))
        t = time.perf_counter()
        cfg = tracing.resolve_config()
        assignment = TravellerIndex.build(records, cfg).assignment()
        del records
        figures["resolve_s"] = time.perf_counter() - t
        tids: dict = {}
        for cid in range(1, n + 1):
            tids.setdefault(assignment[cid], len(tids) + 1)
        from bench.generate import BORDER_POSTS

        by_name = {p.name: p.id for p in db.session.query(BorderPost)}
        posts = {code: by_name[name] for code, name, _ in BORDER_POSTS}
        from screening import partitions

        # History goes straight to its month's partition, not to the default one (PostgreSQL, 0022).
        partitions.add_months(db.session, start, NOW)
        t = time.perf_counter()
        conn = db.session.connection().connection
        cur = conn.cursor()
        counts: dict[int, int] = {}
        first: dict[int, str] = {}
        last: dict[int, str] = {}
        with cur.copy("COPY travellers (id, surname, given_names, crossing_count, first_crossed_at, "
                      "last_crossed_at, patterns_due, created_at, updated_at) FROM STDIN") as copy:
            for cid in range(1, n + 1):
                tid, at = tids[assignment[cid]], rows[cid - 1]["crossed_at"]  # ISO strings, one format
                counts[tid] = counts.get(tid, 0) + 1
                first[tid] = min(first.get(tid, at), at)
                last[tid] = max(last.get(tid, at), at)
            for tid, c in counts.items():
                copy.write_row((tid, "", "", c, first[tid], last[tid], False, NOW, NOW))
        del first, last
        # With the crossing_keys trigger on, a 1M-row COPY into an empty database was still in its after-trigger
        # phase after 40 minutes (session 7; not diagnosed: the key trigger's NOT EXISTS over a key table
        # planned as empty is the suspect): keys are written after the COPY in one statement instead, as
        # migration 0023 fills them.
        cur.execute("ALTER TABLE crossings DISABLE TRIGGER crossing_keys_fill")
        with cur.copy("COPY crossings (id, source, external_id, border_post_id, direction, crossed_at, surname, "
                      "given_names, sex, dob_year, dob_month, dob_day, dob_precision, nationality, document_type, "
                      "document_number, document_country, consent_document, created_at, traveller_id) "
                      "FROM STDIN") as copy:
            for i, r in enumerate(rows, start=1):
                d = r["dob"]
                copy.write_row((i, "scale", r["external_id"], posts[r["border_post"]], r["direction"],
                                r["crossed_at"], r["surname"], r["given_names"], r["sex"] or None,
                                d.year if d else None, d.month if d else None, d.day if d else None,
                                d.precision if d else None, r["nationality"] or None, r["document_type"] or None,
                                r["document_number"] or None, r["document_country"] or None, False,
                                r["crossed_at"], tids[assignment[i]]))
        cur.execute(partitions.keys_backfill("postgresql"))
        cur.execute("ALTER TABLE crossings ENABLE TRIGGER crossing_keys_fill")
        cur.execute("SELECT setval('crossings_id_seq', %s)", (n,))
        cur.execute("SELECT setval('travellers_id_seq', %s)", (len(counts),))
        db.session.commit()
        figures["copy_s"] = time.perf_counter() - t
        figures["travellers"] = figures["page_travellers"] = len(counts)
        del rows, assignment
        if years > 1:
            t = time.perf_counter()
            figures.update(replicate(db.session, n, years, len(counts)))
            figures["replicate_s"] = time.perf_counter() - t
            db.session.commit()
            figures["travellers"] = db.session.execute(db.text("SELECT count(*) FROM travellers")).scalar_one()
            db.session.execute(db.text("ANALYZE"))
            db.session.commit()
        t = time.perf_counter()
        keys, tokens = online.rebuild_keys(db.session, cfg)
        db.session.commit()
        figures["rebuild_keys_s"] = time.perf_counter() - t
        figures["keys"] = keys
        # The load updated every traveller and rollup row at least once: without a VACUUM the first runs read
        # past as many dead rows as live ones (autovacuum would get there, later, on a server that has it on).
        t = time.perf_counter()
        with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(db.text("VACUUM (ANALYZE)"))
        figures["vacuum_s"] = time.perf_counter() - t
        from tip_cases import accounts

        _, token = accounts.create_api_client("scale-bench", None)
        db.session.commit()
        figures["token"] = token
        db.session.remove()
        db.engine.dispose()  # no pooled connection outlives the load (a test drops its database after it)
    return persons, figures


TURNOVER = 3  # of 10 travellers, how many are replaced by someone else in each earlier year


def replicate(session, base: int, years: int, travellers: int, first: int = 1) -> dict:
    """Write years - 1 earlier years of history from the generated year (ids 1..base), in SQL on the server.

    Generating and resolving 20M crossings in Python would take hours and ~40 GB; a decade is instead the
    generated year copied back one year at a time (365 days earlier each, give or take up to 30 days, so a
    regular traveller's dates do not repeat to the day). In each earlier year, 7 of 10
    travellers are the same people crossing (same names, documents, traveller), and 3 of 10 are other people
    in their place: namesakes, with the same names but born `k` years earlier on another day of another
    month, with an unrelated document number (the scale bench loads no addresses), and a traveller of their
    own. (Until session 27 they kept the birthday and the document's last six characters: for k = 1 the same
    person with a date slip and a near-agreeing document, which the engine rightly joined when new traffic
    bridged them, so the API bench at 20M paid for merges a unit's data would rarely need.)
    So the people, the namesakes and the key table grow with the decade, as a unit's would; ids of year k are
    id + k * base, travellers of its new people t + k * travellers. Rollup triggers stay on (one statement
    per year, as a nightly import would be); the external-id key rows are written after each year.
    `first` > 1 resumes an interrupted copy (years before it committed). Returns {"earliest": first day,
    "replicated": rows written}.
    """
    from sqlalchemy import text

    from screening import partitions

    span = YEAR_DAYS * (years - 1)
    earliest = NOW - timedelta(days=YEAR_DAYS + 10 + span + 30)  # each copy is moved up to 30 days either way
    partitions.add_months(session, earliest, NOW)
    session.execute(text("ALTER TABLE crossings DISABLE TRIGGER crossing_keys_fill"))
    written = 0
    for k in range(first, years):
        t = time.perf_counter()
        # Products computed here and cast: psycopg sends a small int as smallint, and :k * :base overflowed it.
        params = {"k": k, "off": k * base, "next": (k + 1) * base, "base": base, "toff": k * travellers,
                  "tr": travellers, "days": 365 * k, "tag": f"Y{k:02d}", "turn": TURNOVER}
        session.execute(text(
            "INSERT INTO travellers (id, surname, given_names, crossing_count, patterns_due, created_at, updated_at) "
            "SELECT id + CAST(:toff AS integer), '', '', 0, false, created_at, updated_at FROM travellers "
            "WHERE id <= CAST(:tr AS integer) AND (id + CAST(:k AS integer)) % 10 < CAST(:turn AS integer)"), params)
        written += session.execute(text(
            "INSERT INTO crossings (id, source, external_id, border_post_id, direction, crossed_at, surname, "
            "given_names, sex, nationality, document_type, document_number, document_country, address, created_at, "
            "dob_year, dob_month, dob_day, dob_precision, traveller_id, consent_document) "
            "SELECT id + CAST(:off AS integer), source, external_id || '-y' || CAST(:k AS text), border_post_id, "
            "direction, crossed_at - make_interval(days => CAST(:days AS integer) + id % 61 - 30), surname, "
            "given_names, sex, nationality, document_type, "
            # another person's document: the tag and the traveller's id reversed, unrelated to the original's
            "CASE WHEN other AND coalesce(document_number, '') <> '' THEN CAST(:tag AS text) || "
            "reverse(lpad(CAST(traveller_id AS text), 8, '0')) ELSE document_number END, document_country, "
            "address, "
            "created_at - make_interval(days => CAST(:days AS integer) + id % 61 - 30), "
            "CASE WHEN other THEN dob_year - CAST(:k AS integer) ELSE dob_year END, "
            # another month (shifted by 1 to 11) and a day that every month has
            "CASE WHEN other AND dob_month IS NOT NULL THEN (dob_month + traveller_id % 11) % 12 + 1 "
            "ELSE dob_month END, "
            "CASE WHEN other AND dob_day IS NOT NULL THEN 1 + (dob_day + 6 + traveller_id % 13) % 28 "
            "ELSE dob_day END, dob_precision, "
            "CASE WHEN other THEN traveller_id + CAST(:toff AS integer) ELSE traveller_id END, false "
            "FROM (SELECT *, (traveller_id + CAST(:k AS integer)) % 10 < CAST(:turn AS integer) AS other "
            "FROM crossings WHERE id <= CAST(:base AS integer)) AS c"),
            params).rowcount
        session.execute(text(
            "INSERT INTO crossing_keys (source, external_id, crossing_id, crossed_at) "
            "SELECT source, external_id, id, crossed_at FROM crossings WHERE id > CAST(:off AS integer) "
            "AND id <= CAST(:next AS integer)"), params)
        session.commit()
        print(f"  year -{k}: {base:,} crossings copied in {time.perf_counter() - t:.1f} s", flush=True)
    session.execute(text("ALTER TABLE crossings ENABLE TRIGGER crossing_keys_fill"))
    session.execute(text(
        "UPDATE travellers AS t SET crossing_count = a.c, first_crossed_at = a.f, last_crossed_at = a.l "
        "FROM (SELECT traveller_id, count(*) AS c, min(crossed_at) AS f, max(crossed_at) AS l FROM crossings "
        "GROUP BY traveller_id) AS a WHERE t.id = a.traveller_id"))
    session.execute(text("SELECT setval('crossings_id_seq', :n)"), {"n": base * years})
    session.execute(text("SELECT setval('travellers_id_seq', (SELECT max(id) FROM travellers))"))
    return {"earliest": earliest.date().isoformat(), "replicated": written}


def traffic(persons: list[dict], n: int, seed: int, prefix: str) -> list[dict]:
    """n new crossings by the stored people (API JSON items), dated after the loaded history."""
    from bench.generate import BORDER_POSTS, generate_crossings

    names = {code: name for code, name, _ in BORDER_POSTS}
    rows = generate_crossings(persons, n, seed=seed, start=NOW - timedelta(days=3), days=3)
    return [{"external_id": f"{prefix}{i:08d}", "border_post": names[r["border_post"]], "direction": r["direction"],
             "crossed_at": r["crossed_at"], "surname": r["surname"], "given_names": r["given_names"],
             "sex": r["sex"], "date_of_birth": r["date_of_birth"] or None, "nationality": r["nationality"],
             "document_type": r["document_type"], "document_number": r["document_number"] or None,
             "document_country": r["document_country"]} for i, r in enumerate(rows)]


class Server:
    """gunicorn with the production config, on a local port, attach mode chosen by TRACING_ATTACH."""

    def __init__(self, url: str, workers: int, port: int, attach: str) -> None:
        env = {**os.environ, "DATABASE_URL": url}
        spec = f"tip_cases:create_app('development', {{'RATELIMIT_ENABLED': False, 'TRACING_ATTACH': '{attach}'}})"
        self.port = port
        self.log = open(f"/tmp/scale-bench-gunicorn-{port}.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "--config", "scripts/gunicorn_conf.py", "--bind",
             f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "2", "--timeout", "600", spec],
            cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline:
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                c.request("GET", "/healthz")
                c.getresponse().read()
                break
            except OSError:
                time.sleep(0.5)
        else:
            raise RuntimeError("gunicorn did not start; see " + self.log.name)

    def workers(self) -> list[int]:
        path = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        return [int(p) for p in path.read_text().split()]

    def rss_mib(self) -> list[float]:
        out = []
        for pid in self.workers():
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    out.append(int(line.split()[1]) / 1024)
        return out

    def wait_warm(self, timeout: float = 900) -> None:
        """Until every worker logged its warm-up (the memory mode restores its index there)."""
        deadline = time.time() + timeout
        want = len(self.workers())
        while time.time() < deadline:
            text = Path(self.log.name).read_text()
            if text.count("indexes warm") + text.count("warm-up failed") >= want:
                return
            time.sleep(1)

    def cpu_s(self) -> float:
        """CPU seconds (user + system) the workers have used so far: fairer than wall time on a loaded box."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0
        for pid in self.workers():
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        return total / tick

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)
        self.log.close()


class Scheduler:
    """The one scheduler process (`flask scheduler run`), as production runs it beside the workers."""

    def __init__(self, url: str) -> None:
        env = {**os.environ, "DATABASE_URL": url, "TSELA_CONFIG": "development"}
        self.log = open("/tmp/scale-bench-scheduler.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen([str(ROOT / ".venv/bin/flask"), "--app", "tip_cases", "scheduler", "run"],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)

    def rss_mib(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


# The server settings that move the figures most at a decade's size (docs/operations.md, "Database").
SETTINGS = ("server_version", "shared_buffers", "max_wal_size", "checkpoint_timeout", "max_locks_per_transaction",
            "work_mem", "synchronous_commit", "autovacuum")


def server_settings(url: str) -> str:
    """The settings the figures were measured with, printed first: 128 MB of shared buffers (the default)
    and a 600 MB key index make every random key read and insert at 20M a trip to the page cache."""
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        got = dict(conn.execute(sa.text("SELECT name, current_setting(name) FROM pg_settings WHERE name = ANY(:n)"),
                                {"n": list(SETTINGS)}).all())
    engine.dispose()
    return ", ".join(f"{k} {got[k]}" for k in SETTINGS if k in got)


def patterns_due(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM travellers WHERE patterns_due")).scalar_one()
    engine.dispose()
    return int(n)


# The child reports its own VmHWM at exit. ru_maxrss from wait4 is not the child's: Python starts children
# with vfork, and the kernel carries the parent's peak RSS into the child's across exec, so wait4 reported
# this bench's own memory (which grows with the generated history) as the nightly rules' peak.
_OWN_PEAK = ("import atexit, sys\n"
             "def _peak():\n"
             "    hwm = [l for l in open('/proc/self/status') if l.startswith('VmHWM:')][0].split()[1]\n"
             "    print('VmHWM_KB', hwm, file=sys.stderr)\n"
             "atexit.register(_peak)\n"
             "from flask.cli import main\n"
             "sys.argv = ['flask', '--app', 'tip_cases', 'screening', 'patterns']\n"
             "main()\n")


def nightly_patterns(url: str) -> tuple[float, float, str]:
    """`flask screening patterns` (the nightly job's work) in its own process: (seconds, peak RSS MiB, output)."""
    env = {**os.environ, "DATABASE_URL": url, "TSELA_CONFIG": "development"}
    t = time.perf_counter()
    proc = subprocess.run([str(ROOT / ".venv/bin/python"), "-c", _OWN_PEAK], cwd=ROOT, env=env,
                          capture_output=True, text=True)
    secs = time.perf_counter() - t
    if proc.returncode:
        raise RuntimeError("screening patterns failed: " + (proc.stdout + proc.stderr)[-500:])
    peak = [line.split()[1] for line in proc.stderr.splitlines() if line.startswith("VmHWM_KB ")]
    out = proc.stdout.strip()
    return secs, int(peak[-1]) / 1024, out.splitlines()[0] if out else ""


# Requests before a page's timed ones, on the bench's one pooled connection: a statement is prepared on its fifth
# run (psycopg) and PostgreSQL plans it generically after five more, as a long-lived worker's connection has
# long done. Their times are printed apart as "cold", never dropped.
PAGE_WARMUP = 12


def page_times(url: str, travellers: int, requests: int) -> dict[str, list[float]]:
    """The pages issue 10 names, each through the real login and views (in process, as bench.dashboard_bench)."""
    import random

    import sqlalchemy as sa

    from bench.dashboard_bench import measure

    rnd = random.Random(5)
    drawn = [rnd.randint(1, travellers) for _ in range(10 * (requests + PAGE_WARMUP))]
    # Only travellers still standing: a merge while attaching (the API run) leaves a few ids redirecting or gone.
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        alive = set(conn.execute(sa.text(
            "SELECT id FROM travellers WHERE id = ANY(:ids) AND merged_into_id IS NULL AND crossing_count > 0"),
            {"ids": drawn}).scalars())
    engine.dispose()
    sample = [t for t in drawn if t in alive][:requests + PAGE_WARMUP]
    pages = {
        "flag queue (officer, Maseru Bridge)": (requests, "/screening/queue", "border_officer", "MSB"),
        "traveller page (investigator)": (requests, lambda i: f"/tracing/travellers/{sample[i]}", "investigator",
                                          None),
        "dashboard (manager, 30 days)": (requests, "/reports/", "manager", None),
        "statistics (12 months, all posts)": (max(5, requests // 4), "/reports/statistics", "manager", None),
    }
    out = {}
    for label, (n, path, role, post) in pages.items():
        cold: list[float] = []
        out[label] = measure(url, n, path, role, post, warmup=PAGE_WARMUP, cold=cold)
        out[f"{label}, first {PAGE_WARMUP} (cold)"] = cold
    return out


def post_all(port: int, token: str, bodies: list[bytes], clients: int) -> tuple[int, float, list[float]]:
    """Post the bodies from `clients` threads; (crossings accepted, seconds, batch latencies)."""
    lock = threading.Lock()
    queue = list(bodies)
    accepted = [0]
    latencies: list[float] = []
    errors: list[str] = []

    def run():
        while True:
            with lock:
                if not queue:
                    return
                body = queue.pop(0)
            t = time.perf_counter()
            # A connection per batch: a kept-alive one stays with the worker that accepted it, and
            # both clients' would end up on one worker.
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
            conn.request("POST", "/api/v1/crossings", body=body,
                         headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                  "Connection": "close"})
            resp = conn.getresponse()
            data = resp.read()
            conn.close()
            dt = time.perf_counter() - t
            with lock:
                latencies.append(dt)
                if resp.status != 200:
                    errors.append(data[:300].decode(errors="replace"))
                    return
                accepted[0] += json.loads(data)["accepted"]

    t = time.perf_counter()
    threads = [threading.Thread(target=run) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise RuntimeError(f"API error: {errors[0]}")
    return accepted[0], time.perf_counter() - t, latencies


def bodies_of(items: list[dict], batch: int) -> list[bytes]:
    return [json.dumps({"crossings": items[s:s + batch]}).encode() for s in range(0, len(items), batch)]


class StatementProfile:
    """Wall time of each SQL statement the engine runs, summed by its text's opening (SQLAlchemy events)."""

    def __init__(self, engine) -> None:
        import sqlalchemy as sa

        self.engine, self.sa = engine, sa
        self.totals: dict[str, list[float]] = {}
        self.active = False  # statements are counted only while this is set (the timed part)

    def __enter__(self) -> StatementProfile:
        self.sa.event.listen(self.engine, "before_cursor_execute", self._before)
        self.sa.event.listen(self.engine, "after_cursor_execute", self._after)
        return self

    def __exit__(self, *exc) -> None:
        self.sa.event.remove(self.engine, "before_cursor_execute", self._before)
        self.sa.event.remove(self.engine, "after_cursor_execute", self._after)

    def _before(self, conn, cursor, statement, parameters, context, executemany):
        conn.info["bench_t"] = time.perf_counter()

    def _after(self, conn, cursor, statement, parameters, context, executemany):
        if not self.active:
            return
        key = " ".join(statement.split())[:90]
        t = self.totals.setdefault(key, [0.0, 0])
        t[0] += time.perf_counter() - conn.info.pop("bench_t")
        t[1] += 1

    def print(self, per: int) -> None:
        total = sum(v[0] for v in self.totals.values())
        print(f"statements per attach: {sum(v[1] for v in self.totals.values()) / per:.1f}, "
              f"their time {total / per * 1000:.1f} ms; by statement (ms per attach, count per attach):")
        for key, (sec, count) in sorted(self.totals.items(), key=lambda kv: -kv[1][0])[:16]:
            print(f"  {sec / per * 1000:6.2f} ms  {count / per:4.1f}  {key}")


def attach_latencies(url: str, persons: list[dict], n: int) -> list[float]:
    """Seconds of attaching n new crossings, one per transaction, as store_crossings attaches them.

    PostgreSQL with database attach (session 7): the crossing's id drawn from the sequence, then timed:
    `tracing.attach_new` before it is stored, and its traveller's summary refresh after; the INSERT with
    the traveller id is timed apart. Otherwise: stored with no traveller, then `tracing.attach_pending`
    timed (the path before session 7, kept for SQLite and for crossings stored without a traveller).
    """
    from types import SimpleNamespace

    from screening import services, tracing
    from screening.engine.normalize import parse_partial_date
    from screening.models import Crossing
    from tip_cases.extensions import db
    from tip_cases.models import BorderPost

    app = _app(url)
    out: list[float] = []
    cpu: list[float] = []
    inserts: list[float] = []
    with app.app_context(), StatementProfile(db.engine) as profile:
        app.config["TRACING_ATTACH"] = "database"
        # getattr: the same bench measures code from before session 7 (before/after runs of one database).
        before_insert = getattr(tracing, "attach_before_insert", lambda _s: False)(db.session())
        print(f"attach step: {'attach before insert (attach_new)' if before_insert else 'attach_pending'}")
        posts = {p.name: p.id for p in db.session.query(BorderPost)}
        for it in traffic(persons, n, seed=99, prefix=f"ATT{time.time_ns()}"):
            item = services.NewCrossing(
                external_id=it["external_id"], border_post_id=posts[it["border_post"]], direction=it["direction"],
                crossed_at=datetime.fromisoformat(it["crossed_at"]), surname=it["surname"],
                given_names=it["given_names"], sex=it["sex"],
                dob=parse_partial_date(it["date_of_birth"]) if it["date_of_birth"] else None,
                nationality=it["nationality"], document_type=it["document_type"],
                document_number=it["document_number"], document_country=it["document_country"])
            c = Crossing(source="attach-bench", external_id=item.external_id, border_post_id=item.border_post_id,
                         direction=item.direction, crossed_at=item.crossed_at, surname=item.surname,
                         given_names=item.given_names, sex=item.sex, nationality=item.nationality,
                         document_type=item.document_type, document_number=item.document_number,
                         document_country=item.document_country, created_at=NOW)
            c.dob = item.dob
            if before_insert:
                c.id = db.session.execute(db.text(
                    "SELECT nextval(pg_get_serial_sequence('crossings', 'id'))")).scalar_one()
                row = SimpleNamespace(**{k: getattr(c, k) for k in (
                    "id", "surname", "given_names", "sex", "nationality", "dob_year", "dob_month", "dob_day",
                    "dob_precision", "document_type", "document_number", "document_country", "address",
                    "crossed_at", "direction")}, traveller_id=None)
                t, p, profile.active = time.perf_counter(), time.process_time(), True
                done = tracing.attach_new(db.session(), [row], now=NOW)
                elapsed, used, profile.active = time.perf_counter() - t, time.process_time() - p, False
                c.traveller_id = done.traveller_of[c.id]
                t = time.perf_counter()
                db.session.add(c)
                db.session.flush()
                inserts.append(time.perf_counter() - t)
                t, p, profile.active = time.perf_counter(), time.process_time(), True
                if hasattr(tracing, "update_summaries"):  # what on_arrival runs (session 9c)
                    tracing.update_summaries(db.session(), done.arrivals, NOW, full=done.emptied | done.survivors)
                else:
                    tracing.refresh_summaries(db.session(), done.touched | done.emptied, NOW)
                out.append(elapsed + time.perf_counter() - t)
                cpu.append(used + time.process_time() - p)
                profile.active = False
            else:
                # Store without attaching (the timed call does that), as store_crossings did before.
                db.session.add(c)
                db.session.flush()
                t, p, profile.active = time.perf_counter(), time.process_time(), True
                tracing.attach_pending(now=NOW)
                out.append(time.perf_counter() - t)
                cpu.append(time.process_time() - p)
                profile.active = False
            db.session.commit()
        db.session.remove()
        profile.print(n)
    print(f"attach CPU of this process (Python side): p50 {statistics.median(cpu) * 1000:.1f} ms, "
          f"p95 {pct(cpu, 0.95) * 1000:.1f} ms (load average {os.getloadavg()[0]:.1f})", flush=True)
    if inserts:
        print(f"the crossing's INSERT with its traveller id (not in the attach figure): p50 "
              f"{statistics.median(inserts) * 1000:.1f} ms, p95 {pct(inserts, 0.95) * 1000:.1f} ms", flush=True)
    return out


def reuse(url: str, n: int, seed: int, years: int = 1, clear_due: bool = False) -> tuple[list[dict], dict]:
    """The people and a new API token of a database `load` filled before (for before/after runs of one load).

    `clear_due`: unmark the travellers earlier runs left due for the pattern job, which the scheduler beside the
    workers would otherwise work off through this run's API step (docs/performance.md, session 33)."""
    from bench.generate import generate_persons
    from tip_cases import accounts
    from tip_cases.extensions import db

    app = _app(url)
    with app.app_context():
        stored = db.session.execute(db.text("SELECT count(*) FROM crossings WHERE source = 'scale'")).scalar_one()
        if stored != n:
            raise SystemExit(f"--reuse: the database holds {stored:,} loaded crossings, not {n:,}")
        base = n // years if years > 1 else n
        # Traveller pages are sampled among the generated year's travellers (ids 1..T, all present).
        travellers = db.session.execute(db.text("SELECT max(traveller_id) FROM crossings WHERE id <= :b"),
                                        {"b": base}).scalar_one()
        if clear_due:
            due = db.session.execute(db.text("UPDATE travellers SET patterns_due = false WHERE patterns_due")).rowcount
            print(f"--clear-due: {due:,} travellers unmarked for the pattern job", flush=True)
        _, token = accounts.create_api_client(f"scale-bench-{time.time_ns()}", None)
        db.session.commit()
        db.session.remove()
    return generate_persons(max(base // 5, 1), seed=seed), {"token": token, "page_travellers": travellers}


def flag_count(url: str) -> int:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.connect() as conn:
        n = conn.execute(sa.text("SELECT count(*) FROM flags WHERE kind = 'identity'")).scalar_one()
    engine.dispose()
    return n


def load_watchlist(url: str, persons: list[dict], n: int, seed: int) -> tuple[int, int]:
    """Persons of interest, so the API's crossings are screened against a list as a unit's are, once per database:
    2 % of the people the traffic is drawn from (a few per cent of its crossings then raise a flag; the run
    prints how many) and outsiders for the rest of n (most listed persons never cross).
    Returns (persons of interest stored, of whom from the traffic's people)."""
    import random

    from bench.api_bench import insert_persons
    from bench.generate import generate_persons
    from tip_cases.extensions import db

    app = _app(url)
    with app.app_context():
        stored = db.session.execute(db.text("SELECT count(*) FROM persons")).scalar_one()
        if stored or not n:
            db.session.remove()
            return stored, -1
        crossing = random.Random(seed).sample(persons, min(n, len(persons) // 50))
        listed = crossing + generate_persons(n - len(crossing), seed=seed + 1, id_offset=10**8)
        insert_persons(listed)
        db.session.remove()
    return n, len(crossing)


def run_size(n: int, args) -> dict:
    print(f"\n== {n:,} stored crossings ==", flush=True)
    if args.reuse:
        persons, f = reuse(args.pg_url, n, seed=args.seed, years=args.years, clear_due=args.clear_due)
        print("reusing the loaded database (no load, no key rebuild)")
    else:
        years = max(args.years, 1)
        days = YEAR_DAYS if years > 1 else history_days(n, args.per_year)
        persons, f = load(args.pg_url, n, seed=args.seed, days=days, years=years)
        base = n // years
        print(f"history: {days} days" + (f" generated, {years} years in all (from {f['earliest']})" if years > 1
                                          else ""), flush=True)
        print(f"generated {base:,} in {f['generate_s']:.1f} s; batch resolution {f['resolve_s']:.1f} s")
        print(f"COPY load (crossings + travellers): {f['copy_s']:.1f} s ({base / f['copy_s']:,.0f} crossings/s)")
        if years > 1:
            print(f"earlier years copied in SQL (rollup triggers on): {f['replicated']:,} crossings in "
                  f"{f['replicate_s']:.1f} s ({f['replicated'] / f['replicate_s']:,.0f} crossings/s)")
        print(f"travellers stored: {f['travellers']:,}")
        print(f"traveller keys rebuilt: {f['keys']:,} rows in {f['rebuild_keys_s']:.1f} s; VACUUM (ANALYZE) "
              f"{f['vacuum_s']:.1f} s")
    listed, crossing = load_watchlist(args.pg_url, persons, args.watchlist, seed=args.seed + 3)
    print(f"persons of interest: {listed:,}" + (f" ({crossing:,} of them among the traffic's people)" if crossing >= 0
                                                  else " (stored before)"), flush=True)
    run = f"{time.time_ns() % 10**9}-" if args.reuse else ""  # new external ids on every reuse
    modes = ["database", "memory"] if n <= args.compare_memory_up_to else ["database"]
    result = {"n": n, "watchlist": listed, **{k: v for k, v in f.items() if k != "token"}}
    for mode in [] if args.skip_api else modes:
        server = Server(args.pg_url, args.workers, args.port, mode)
        scheduler = Scheduler(args.pg_url) if mode == "database" else None
        try:
            server.wait_warm()
            # At the default traffic seed (21) the warm-up's is 7 + len(mode), as before the option existed.
            warm = traffic(persons, 2000, seed=args.traffic_seed - 14 + len(mode), prefix=f"W{run}{mode[0]}")
            post_all(server.port, f["token"], bodies_of(warm, 250), args.workers)
            rss = server.rss_mib()
            print(f"[{mode}] worker RSS after warm-up: " + ", ".join(f"{r:.0f} MiB" for r in rss), flush=True)
            result[f"rss_{mode}"] = rss
            if mode == "database":
                items = traffic(persons, args.api_crossings, seed=args.traffic_seed, prefix=f"API{run}")
                cpu0, flags0 = server.cpu_s(), flag_count(args.pg_url)
                accepted, secs, lat = post_all(server.port, f["token"], bodies_of(items, args.batch), args.workers)
                cpu, flags = server.cpu_s() - cpu0, flag_count(args.pg_url) - flags0
                print(f"[{mode}] API: {flags:,} identity flags raised ({flags / max(accepted, 1):.1%} a crossing, "
                      f"against {listed:,} persons of interest)", flush=True)
                print(f"[{mode}] API workers' CPU: {cpu:.1f} s = {cpu / max(accepted, 1) * 1000:.2f} ms a crossing "
                      f"(load average {os.getloadavg()[0]:.1f})", flush=True)
                rss_after = server.rss_mib()
                print(f"[{mode}] API: {accepted:,} crossings in {secs:.1f} s = {accepted / secs:,.0f} crossings/s "
                      f"({args.workers} workers, {args.workers} clients, batches of {args.batch}; batch p50 "
                      f"{statistics.median(lat) * 1000:.0f} ms, max {max(lat) * 1000:.0f} ms)", flush=True)
                print(f"[{mode}] worker RSS after the API run: " + ", ".join(f"{r:.0f} MiB" for r in rss_after))
                result.update(api_per_s=accepted / secs, rss_after=rss_after)
                if args.quick:
                    continue
                # The scheduler has warmed up when its pattern job has worked off the API's travellers.
                deadline = time.time() + 900
                while patterns_due(args.pg_url) and time.time() < deadline:
                    time.sleep(5)
                left = patterns_due(args.pg_url)
                result["rss_scheduler"] = scheduler.rss_mib()
                print(f"[{mode}] scheduler RSS after its pattern job worked off the API run: "
                      f"{result['rss_scheduler']:.0f} MiB ({left:,} travellers still due)", flush=True)
        finally:
            server.stop()
            if scheduler is not None:
                scheduler.stop()
    if not args.quick and not args.skip_nightly:
        secs, peak, said = nightly_patterns(args.pg_url)
        result.update(nightly_s=secs, nightly_peak_mib=peak)
        print(f"nightly risk rules (`flask screening patterns`, own process): {secs:.0f} s, peak RSS "
              f"{peak:.0f} MiB; {said}", flush=True)
    if args.pages and not args.quick:
        pages = page_times(args.pg_url, f["page_travellers"], args.pages)
        for label, times in pages.items():
            print(f"{label:38s} p50 {pct(times, 0.5):7.1f} ms  p95 {pct(times, 0.95):7.1f} ms  (n={len(times)})",
                  flush=True)
        result["pages"] = {k: (pct(v, 0.5), pct(v, 0.95)) for k, v in pages.items()}
    lat = attach_latencies(args.pg_url, persons, args.attach)
    print(f"attach (database path, one crossing per transaction, {len(lat)} crossings): "
          f"p50 {statistics.median(lat) * 1000:.1f} ms, p95 {pct(lat, 0.95) * 1000:.1f} ms, "
          f"max {max(lat) * 1000:.1f} ms", flush=True)
    result.update(attach_p50_ms=statistics.median(lat) * 1000, attach_p95_ms=pct(lat, 0.95) * 1000)
    return result


# Issue 10's online targets: (what, result key or page label, limit, higher is better).
TARGETS = (
    ("attach p95", "attach_p95_ms", 10.0, False),
    ("API crossings/s, two workers", "api_per_s", 1000.0, True),
    ("flag queue p95", "flag queue (officer, Maseru Bridge)", 300.0, False),
    ("traveller page p95", "traveller page (investigator)", 300.0, False),
    ("dashboard p95", "dashboard (manager, 30 days)", 500.0, False),
    ("statistics 12 months p95", "statistics (12 months, all posts)", 1000.0, False),
)


def verdicts(result: dict) -> list[str]:
    """Each online target against what this size measured: met, or missed by how much (never silent)."""
    out = []
    for what, key, limit, higher in TARGETS:
        value = result["pages"][key][1] if key in result.get("pages", {}) else result.get(key)
        unit = "/s" if higher else " ms"
        if value is None:
            out.append(f"{what}: not measured in this run (target {limit:,.0f}{unit})")
            continue
        met = value >= limit if higher else value <= limit
        ratio = limit / value if higher else value / limit
        out.append(f"{what}: {value:,.1f}{unit} against {'>=' if higher else '<='} {limit:,.0f}{unit}: "
                   + ("met" if met else f"missed by {ratio:.1f}x"))
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--pg-url", default=os.environ.get("SCALE_BENCH_URL", DEFAULT_URL))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8731)
    parser.add_argument("--attach", type=int, default=300, help="crossings attached one by one for p50/p95")
    parser.add_argument("--api-crossings", type=int, default=10_000)
    parser.add_argument("--batch", type=int, default=500,
                        help="crossings per API request; a batch of over ~40 takes the coarse key locks exclusive, "
                             "so two such batches never attach at once (docs/operations.md, \"Traveller keys\")")
    parser.add_argument("--seed", type=int, default=31)
    parser.add_argument("--pages", type=int, default=40, metavar="N",
                        help="requests per page for the queue, traveller, dashboard and statistics timings (0: skip)")
    parser.add_argument("--compare-memory-up-to", type=int, default=0, metavar="N",
                        help="up to N stored crossings, also measure worker RSS with the per-process index "
                             "(TRACING_ATTACH=memory, what issue 10 replaces)")
    parser.add_argument("--reuse", action="store_true",
                        help="measure on the database a previous run loaded (one size), e.g. before and after "
                             "a migration")
    parser.add_argument("--clear-due", action="store_true",
                        help="with --reuse: unmark the travellers earlier runs left due for the pattern job, so "
                             "alternated runs do not each start with a larger scheduler backlog")
    parser.add_argument("--traffic-seed", type=int, default=21, metavar="S",
                        help="seed of the warm-up and API crossings; give each --reuse run its own, or the runs "
                             "re-send the same crossings and every copy grows the neighbourhoods the rules read")
    parser.add_argument("--watchlist", type=int, default=10_000, metavar="N",
                        help="persons of interest the API screens against, loaded once per database (2 %% of the "
                             "traffic's people, outsiders for the rest; 0: none, as before session 33)")
    parser.add_argument("--skip-api", action="store_true", help="attach latencies only")
    parser.add_argument("--quick", action="store_true",
                        help="API rate and attach only: no scheduler RSS wait, nightly rules or page timings")
    parser.add_argument("--skip-nightly", action="store_true",
                        help="no nightly rules run (at a decade's size they take longer than the rest of the bench)")
    parser.add_argument("--per-year", type=int, default=0, metavar="R",
                        help="spread each size's history at R crossings a year (N/R years, a month partition for "
                             "each month) instead of one year")
    parser.add_argument("--years", type=int, default=1, metavar="Y",
                        help="a decade without hours of generation: generate and resolve a year of N / Y crossings, "
                             "then copy it Y - 1 years back in SQL with 3 in 10 travellers replaced by other people "
                             "each year (see replicate)")
    args = parser.parse_args(argv)
    settings = server_settings(args.pg_url)
    print("PostgreSQL: " + settings, flush=True)
    if "autovacuum off" in settings:
        print("WARNING: autovacuum is off on this server (as on some CI images): every run's updated traveller and "
              "rollup rows stay as dead rows, and each --reuse run is slower than the one before. "
              "ALTER SYSTEM SET autovacuum = on; SELECT pg_reload_conf();", flush=True)
    results = [run_size(n, args) for n in args.sizes]
    print("\n== summary ==")
    for r in results:
        line = (f"{r['n']:>10,} crossings: worker RSS (database) "
                + "/".join(f"{x:.0f}" for x in r.get("rss_database", [])) + " MiB")
        if "rss_memory" in r:
            line += " vs (memory) " + "/".join(f"{x:.0f}" for x in r["rss_memory"]) + " MiB"
        line += (f"; scheduler {r.get('rss_scheduler', 0):.0f} MiB; nightly rules peak "
                 f"{r.get('nightly_peak_mib', 0):.0f} MiB; attach p50 {r['attach_p50_ms']:.1f} ms "
                 f"p95 {r['attach_p95_ms']:.1f} ms; API {r.get('api_per_s', 0):,.0f} crossings/s")
        print(line)
        for label, (p50, p95) in r.get("pages", {}).items():
            print(f"{'':12}{label}: p50 {p50:.0f} ms, p95 {p95:.0f} ms")
        for line in verdicts(r):
            print(f"{'':12}target, {line}")
    if len(results) > 1 and all("rss_database" in r and "rss_scheduler" in r for r in results):
        lo, hi = results[0], results[-1]
        for label, key in (("worker RSS", "rss_database"), ("scheduler RSS", "rss_scheduler"),
                           ("nightly rules peak RSS", "nightly_peak_mib")):
            a, b = (max(r[key]) if isinstance(r[key], list) else r[key] for r in (lo, hi))
            growth = b / a - 1
            print(f"{label} growth {lo['n']:,} -> {hi['n']:,}: {growth:+.0%} (target within 15%: "
                  f"{'met' if abs(growth) <= 0.15 else 'NOT met'})")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
