"""Proof with real processes: headquarters (gunicorn on PostgreSQL) and a post node (gunicorn on SQLite),
with a loopback TCP proxy between them that the test cuts and restores.

2,000 crossings are captured through the post's own API while the link is down; the post flags what its
watchlist knows at once. The link returns, `flask post sync` sends the outbox: headquarters holds exactly
the 2,000 (none lost, none doubled), re-screened, including a person added after the post's last watchlist,
and the post records headquarters' flags. Then the sync and the post are killed with SIGKILL mid-sync and
restarted: still nothing lost or doubled.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import _reset_postgres

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "tip_cases"]


class Proxy:
    """A loopback TCP forwarder. cut(): every connection is dropped and new ones are closed at once (a dead
    link, as urllib sees it); restore(): traffic flows again."""

    def __init__(self, target_port: int):
        self.target = ("127.0.0.1", target_port)
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.up = True
        self.conns: list[socket.socket] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            if not self.up:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
                upstream.settimeout(None)
            except OSError:
                client.close()
                continue
            with self.lock:
                self.conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, src, dst):
        try:
            while self.up:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        with self.lock:
            self.conns = [c for c in self.conns if c not in (src, dst)]

    def cut(self):
        self.up = False
        with self.lock:
            for s in self.conns:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def restore(self):
        self.up = True

    def close(self):
        self.cut()
        self.sock.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_http(url: str, timeout: float = 60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return  # it answers
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within {timeout}s")


def _gunicorn(env: dict, port: int, workers: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
           "--timeout", "120", "tip_cases:create_app()"]
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    _wait_http(f"http://127.0.0.1:{port}/api/v1/openapi.json")
    return proc


def _post_json(url: str, token: str, body: dict) -> dict:
    req = urllib.request.Request(url, data=json.dumps(body).encode(), method="POST", headers={  # noqa: S310
        "Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as resp:  # noqa: S310 - loopback
        return json.loads(resp.read())


def _kill(proc: subprocess.Popen | None):
    if proc is not None and proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)


_SYL = ["ba", "ke", "lo", "ma", "ne", "pi", "ra", "se", "tho", "tsi", "hla", "mo", "qe", "fu", "di", "ngo",
        "ja", "wu", "ye", "ko"]


def _name(n: int, parts: int) -> str:
    out = []
    for _ in range(parts):
        out.append(_SYL[n % len(_SYL)])
        n //= len(_SYL)
    return "".join(out).capitalize()


def _crossing(n: int, **kw) -> dict:
    """A distinct ordinary traveller (names, date of birth and document all differ from the others)."""
    item = {"external_id": f"SNP-{n:06d}", "direction": "exit", "crossed_at": "2026-11-20T10:15:00+02:00",
            "surname": _name(n * 7919 + 13, 4), "given_names": _name(n * 104729 + 7, 3), "sex": "MF"[n % 2],
            "date_of_birth": f"{1950 + n % 60}-{1 + (n // 60) % 12:02d}-{1 + (n // 7) % 28:02d}",
            "nationality": "LSO", "document_type": "P", "document_number": f"TT{n:07d}", "document_country": "LSO"}
    item.update(kw)
    return item


@pytest.fixture
def loop(pg_schema, sqlite_template, tmp_path):
    """Headquarters with three persons of interest published and a post client; a post node with the watchlist."""
    from tests.factories import make_api_client
    from tests.screening.builders import make_person
    from tip_cases import create_app
    from tip_cases.extensions import db

    _reset_postgres(pg_schema)
    hq_app = create_app("testing", {"SQLALCHEMY_DATABASE_URI": pg_schema})
    with hq_app.app_context():
        from screening import watchlist
        from tip_cases.extensions import utcnow

        make_person("Mokoena", "Palesa", dob="2009-03-14", documents=[("P", "RA123456", "LSO")])
        make_person("Letsie", "Thabo", dob="1985-07-02", sex="M", category="suspect", alert_kind="suspect",
                    discreet=False, reason="Recruiter", action="Hold for questioning")
        watchlist.publish(now=utcnow())
        _, hq_token = make_api_client("snp-node", "SNP")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    post_db = tmp_path / "post.db"
    shutil.copyfile(sqlite_template, post_db)
    post_url = f"sqlite:///{post_db}"
    post_overrides = {"SQLALCHEMY_DATABASE_URI": post_url, "TSELA_ROLE": "post", "TSELA_POST_CODE": "SNP"}
    post_app = create_app("testing", post_overrides)
    with post_app.app_context():
        _, counter_token = make_api_client("snp-counter", "SNP")
        db.session.remove()
        db.engine.dispose()

    hq_port = _free_port()
    proxy = Proxy(hq_port)
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("TSELA_", "HQ_", "POST_"))}
    base_env.update({"TSELA_CONFIG": "testing", "PYTHONUNBUFFERED": "1", "NOTIFY_DEMO_RECEIVER": "0"})
    hq_env = {**base_env, "DATABASE_URL": pg_schema}
    post_env = {**base_env, "DATABASE_URL": post_url, "TSELA_ROLE": "post", "TSELA_POST_CODE": "SNP",
                "POST_EXTRACT_PATH": str(tmp_path / "post-watchlist.bin"),
                "HQ_URL": f"http://127.0.0.1:{proxy.port}", "HQ_API_TOKEN": hq_token}
    procs: dict[str, subprocess.Popen] = {}
    state = {"hq_env": hq_env, "post_env": post_env, "counter": counter_token, "proxy": proxy, "procs": procs,
             "pg": pg_schema, "post_url": post_url, "post_app": post_app, "hq_app": hq_app, "tmp": tmp_path,
             "post_port": _free_port()}
    try:
        procs["hq"] = _gunicorn(hq_env, hq_port, 2, tmp_path / "hq.log")
        fetched = subprocess.run(FLASK + ["watchlist", "fetch"], cwd=ROOT, env=post_env, capture_output=True,
                                 text=True, timeout=120)
        assert fetched.returncode == 0, fetched.stdout + fetched.stderr
        procs["post"] = _gunicorn(post_env, state["post_port"], 1, tmp_path / "post.log")
        yield state
    finally:
        for p in procs.values():
            _kill(p)
        proxy.close()


def _hq_rows(url: str, sql: str):
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).all()
    finally:
        engine.dispose()


def _hq_crossings(url: str) -> tuple[int, int]:
    (total, distinct), = _hq_rows(url, "SELECT count(*), count(DISTINCT external_id) FROM crossings "
                                       "WHERE source = 'api:snp-node'")
    return total, distinct


def _sync(env, *extra, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run(FLASK + ["post", "sync", "--quiet", *extra], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=timeout)


def _capture(state, start: int, count: int, special: dict[int, dict] | None = None) -> list[dict]:
    url = f"http://127.0.0.1:{state['post_port']}/api/v1/crossings"
    results = []
    for batch_start in range(start, start + count, 100):
        items = [_crossing(n, **(special or {}).get(n, {})) for n in range(batch_start, batch_start + 100)]
        answer = _post_json(url, state["counter"], {"crossings": items})
        assert answer["accepted"] == 100, answer
        results += answer["results"]
    return results


def test_offline_capture_then_sync_then_sigkill_mid_sync_loses_and_doubles_nothing(loop):
    state, proxy = loop, loop["proxy"]
    pg = state["pg"]
    post_engine = sa.create_engine(state["post_url"])

    # A person added at headquarters while the post is cut off: the post's watchlist does not know her.
    proxy.cut()
    with state["hq_app"].app_context():
        from tests.screening.builders import make_person
        from tip_cases.extensions import db

        make_person("Nthabiseng", "Mpho", dob="2010-05-05", documents=[("P", "RB777777", "LSO")])
        db.session.remove()
        db.engine.dispose()

    special = {
        17: {"surname": "MOKOENA", "given_names": "PALESA", "sex": "F", "date_of_birth": "2009-03-14",
             "document_number": "RA123456"},
        1234: {"surname": "Letsie", "given_names": "Thabo", "date_of_birth": "1985-07-02"},
        1999: {"surname": "Nthabiseng", "given_names": "Mpho", "sex": "F", "date_of_birth": "2010-05-05",
               "document_number": "RB777777"},
    }
    results = _capture(state, 0, 2000, special)
    flagged = {r["external_id"]: r["flags"] for r in results if r["flags"]}
    # The officer sees the flag at once, offline, for what the post's watchlist holds; not for the newcomer.
    assert set(flagged) == {"SNP-000017", "SNP-001234"}
    assert flagged["SNP-000017"][0]["action"].startswith("Do not alert")
    assert flagged["SNP-000017"][0]["reason"] == ""  # discreet: the action, never the reason

    down = _sync(state["post_env"])
    assert down.returncode == 1 and "unreachable" in down.stderr, down.stdout + down.stderr
    assert _hq_crossings(pg) == (0, 0)
    with post_engine.connect() as conn:
        waiting = conn.execute(sa.text("SELECT count(*), sum(items) FROM post_outbox WHERE state='pending'")).one()
        assert tuple(waiting) == (20, 2000)
        assert conn.execute(sa.text("SELECT last_error FROM post_outbox ORDER BY id LIMIT 1")).scalar() \
            .startswith("headquarters unreachable")

    proxy.restore()
    up = _sync(state["post_env"])
    assert up.returncode == 0, up.stdout + up.stderr
    assert _hq_crossings(pg) == (2000, 2000)
    hq_flags = dict(_hq_rows(pg, "SELECT c.external_id, count(*) FROM flags f JOIN crossings c ON c.id = f.crossing_id "
                                 "WHERE c.source = 'api:snp-node' GROUP BY c.external_id"))
    prefix = "api:snp-counter:"
    assert hq_flags == {prefix + "SNP-000017": 1, prefix + "SNP-001234": 1, prefix + "SNP-001999": 1}
    with post_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM post_outbox WHERE state != 'sent'")).scalar() == 0
        post_flags = conn.execute(sa.text(
            "SELECT c.external_id, f.origin, f.hq_flag_id FROM post_flags f JOIN crossings c ON c.id = f.crossing_id"
            " ORDER BY c.external_id")).all()
    # Flags at both ends: the post's two now carry headquarters' ids, and the post was told of the newcomer.
    assert [(e, o) for e, o, _ in post_flags] == [("SNP-000017", "post"), ("SNP-001234", "post"),
                                                  ("SNP-001999", "hq")]
    assert all(hq_id for _, _, hq_id in post_flags)

    # Second round: 2,000 more, then the sync and the post node are killed with SIGKILL mid-sync.
    _capture(state, 2000, 2000)
    sync = subprocess.Popen(FLASK + ["post", "sync", "--quiet", "--pause", "0.3"], cwd=ROOT, env=state["post_env"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while _hq_crossings(pg)[0] < 2500 and time.monotonic() < deadline:
        time.sleep(0.05)
    _kill(sync)
    _kill(state["procs"].pop("post"))
    mid = _hq_crossings(pg)
    assert 2000 < mid[0] < 4000, f"the kill did not land mid-sync: {mid}"
    with post_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM post_outbox WHERE state='pending'")).scalar() > 0

    state["procs"]["post"] = _gunicorn(state["post_env"], state["post_port"], 1, state["tmp"] / "post.log")
    again = _sync(state["post_env"])
    assert again.returncode == 0, again.stdout + again.stderr
    assert _hq_crossings(pg) == (4000, 4000)
    with post_engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM post_outbox WHERE state != 'sent'")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM crossings")).scalar() == 4000
    (node,) = _hq_rows(pg, "SELECT watchlist_seq, backlog, clock_drift_seconds, last_sync_at FROM post_nodes")
    assert node[0] == 1 and node[1] is not None and abs(node[2]) < 60 and node[3] is not None
    post_engine.dispose()
