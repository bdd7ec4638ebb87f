"""Real processes: a dispatcher killed with SIGKILL mid-batch, and two schedulers electing one leader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import select

from notifications.models import MailMessage, OutboxMessage, SchedulerJob, SchedulerLease
from tests.notifications.builders import Receiver, make_agency, make_channel, make_rule, publish_flag, subscribed
from tip_cases.extensions import db

ROOT = Path(__file__).resolve().parents[2]
FLASK = [sys.executable, "-m", "flask", "--app", "tip_cases"]


def _env(app) -> dict:
    env = dict(os.environ)
    env.update({"DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "TSELA_CONFIG": "testing",
                "PYTHONUNBUFFERED": "1"})
    env.pop("MAIL_SERVER", None)
    return env


def _wait(predicate, timeout: float, what: str, step: float = 0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(step)
    pytest.fail(f"timed out after {timeout}s waiting for {what}")


def _fresh(stmt):
    db.session.rollback()
    return db.session.execute(stmt).scalars().all()


def test_dispatcher_killed_mid_batch_loses_nothing(app):
    """SIGKILL while a batch is in flight; the restarted dispatcher retakes expired leases. Every message
    arrives; a message may arrive twice only with its own webhook-id and the same body."""
    receiver = Receiver(delay=0.05).start()
    try:
        subscribed(receiver.url)
        sent = publish_flag(40)
        ids = {m.message_id for m in sent}
        cmd = FLASK + ["notifications", "dispatch", "--batch", "100", "--per-destination", "100", "--lease", "1"]
        proc = subprocess.Popen(cmd, cwd=ROOT, env=_env(app), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait(lambda: len(receiver.received) >= 10, 30, "the first deliveries")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        before = len(receiver.received)
        assert before < 40, "the batch finished before the kill; the test proves nothing"
        states = Counter(m.status for m in _fresh(select(OutboxMessage)))
        assert states["sending"] > 0  # rows were claimed and left mid-flight
        time.sleep(1.2)  # let the leases expire
        receiver.delay = 0
        out = subprocess.run(cmd, cwd=ROOT, env=_env(app), capture_output=True, text=True, timeout=60)
        assert out.returncode == 0, out.stdout + out.stderr
    finally:
        receiver.stop()
    rows = _fresh(select(OutboxMessage))
    assert {m.status for m in rows} == {"delivered"}
    received = Counter(r.webhook_id for r in receiver.received)
    assert set(received) == ids  # nothing lost, nothing foreign
    bodies = {}
    for r in receiver.received:
        assert bodies.setdefault(r.webhook_id, r.body) == r.body  # a duplicate is the same message
    duplicates = sum(n - 1 for n in received.values())
    assert duplicates <= 2, received  # only what was in flight at the kill


def _reader(proc, lines: list[str]) -> threading.Thread:
    def run():
        for line in proc.stdout:
            lines.append(line.strip())
    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def test_two_schedulers_one_active_the_other_takes_over(app):
    agency = make_agency()
    make_rule(agency, make_channel(agency, kind="email", address="duty@partner.example"))
    db.session.commit()
    procs, logs = {}, {}
    try:
        for name in ("alpha", "beta"):
            cmd = FLASK + ["scheduler", "run", "--holder", name, "--lease-seconds", "3", "--poll", "0.3",
                           "--dispatch-every", "0.5"]
            procs[name] = subprocess.Popen(cmd, cwd=ROOT, env=_env(app), stdout=subprocess.PIPE,
                                           stderr=subprocess.STDOUT, text=True)
            logs[name] = []
            _reader(procs[name], logs[name])
            if name == "alpha":
                _wait(lambda: any("active" in line for line in logs["alpha"]), 30, "alpha to become active")
        _wait(lambda: any("standby" in line for line in logs["beta"]), 30, "beta to start")
        publish_flag(1, start=1)
        _wait(lambda: _fresh(select(MailMessage)), 20, "the first email, sent by the active scheduler")
        time.sleep(1.5)  # beta keeps polling for the lock meanwhile
        assert not any(line.endswith(": active") for line in logs["beta"]), logs["beta"]
        jobs = {j.job_id: j for j in _fresh(select(SchedulerJob))}
        assert jobs["dispatch-outbox"].last_holder == "alpha" and jobs["reminders"].last_holder == "alpha"
        assert _fresh(select(SchedulerLease))[0].holder == "alpha"

        procs["alpha"].send_signal(signal.SIGKILL)
        procs["alpha"].wait(10)
        _wait(lambda: any(line.endswith(": active") for line in logs["beta"]), 30, "beta to take over")
        publish_flag(1, start=2)
        _wait(lambda: len(_fresh(select(MailMessage))) == 2, 20, "the second email, sent by beta")
        _wait(lambda: _fresh(select(SchedulerJob).where(SchedulerJob.job_id == "dispatch-outbox"))[0].last_holder
              == "beta", 10, "beta to run the dispatch job")
        assert _fresh(select(SchedulerLease))[0].holder == "beta"
        procs["beta"].send_signal(signal.SIGTERM)
        assert procs["beta"].wait(15) == 0
        assert any("stopped" in line for line in logs["beta"])
    finally:
        print("scheduler output:", logs)
        for p in procs.values():
            if p.poll() is None:
                p.kill()
            p.wait(10)
            p.stdout.close()
    subjects = [m.subject for m in _fresh(select(MailMessage).order_by(MailMessage.id))]
    assert ["FLG-00001" in subjects[0], "FLG-00002" in subjects[1]] == [True, True]


def test_the_scheduler_tunes_malloc_unless_the_environment_chose(monkeypatch):
    """glibc (this image's libc) takes the arena cap and the mmap threshold; what an operator set in the
    environment is left as they set it, each setting on its own."""
    import platform

    from notifications.scheduler import tune_malloc

    glibc = platform.libc_ver()[0] == "glibc"
    monkeypatch.setenv("MALLOC_ARENA_MAX", "8")
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "131072")
    assert tune_malloc() == {"arenas": False, "mmap_threshold": False}
    monkeypatch.delenv("MALLOC_ARENA_MAX")
    assert tune_malloc() == {"arenas": glibc, "mmap_threshold": False}
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_")
    assert tune_malloc() == {"arenas": glibc, "mmap_threshold": glibc}
