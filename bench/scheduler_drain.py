"""The scheduler's memory after draining the same work at two sizes (issue 10: "the RSS of the scheduler after
warm-up is the same, within 15 %, at 100k and at 20M").

The scale bench's own scheduler figure is read after whatever its API traffic left due, which differs from run to
run. This bench controls the work instead: it marks exactly the N travellers seen last as due for the risk rules,
runs the real scheduler (`notifications.scheduler.run` after `tune_malloc`, what `flask scheduler run` does) until
none is due, waits for the process to settle and prints its RSS and peak. Run it against the 100k and the 20M
database and compare the two RSS figures.

The travellers marked due are the last seen, so what they are is the databases' recent traffic: compare databases
whose last week holds the same crossings (both after a scale-bench run's API traffic, 12,300 crossings, as the
line printed first shows), or the figures measure that traffic, not history (docs/performance.md, session 31: a
100k database loaded with `--skip-api` held 300 and drained at 131 MiB, with the API run's 12,300 at 151-157).
A 100k history spread at the decade's daily rate (`--per-year 2000000`, 18 days) is no such control: its persons
cross five times in those 18 days and the rules raise a risk flag for most of them.

The scheduler's daily jobs (risk rules at 02:30, retention at 03:15, digests at 07:00) would otherwise land in a
drain that starts at the wrong hour and be measured with it; the child runs with a fixed-offset time zone that puts
its local time near noon, so only the due-travellers job does work. Nothing else about the scheduler changes.

    .venv/bin/python -m bench.scheduler_drain --pg-url postgresql+psycopg://postgres@127.0.0.1:5432/lead_100k
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

UNMARK = "UPDATE travellers SET patterns_due = false WHERE patterns_due"
MARK_DUE = ("UPDATE travellers SET patterns_due = true WHERE id IN (SELECT id FROM travellers "
            "ORDER BY last_crossed_at DESC NULLS LAST, id LIMIT :n)")

# The child: the CLI's `scheduler run` with the time zone moved; it stops on SIGTERM like the CLI.
_CHILD = ("import signal, sys, threading\n"
          "from tip_cases import create_app\n"
          "from notifications import scheduler\n"
          "stop = threading.Event()\n"
          "signal.signal(signal.SIGTERM, lambda *_: stop.set())\n"
          "app = create_app('development', {'TIMEZONE': sys.argv[1]})\n"
          "scheduler.tune_malloc()\n"
          "scheduler.run(app, stop=stop, say=lambda line: print(line, flush=True))\n")


def noon_zone(now: datetime) -> str:
    """A fixed-offset zone (Etc/GMT-h is UTC+h) in which `now` is between 11:30 and 12:30."""
    hours = round(12 - (now.hour + now.minute / 60))
    hours = (hours + 12) % 24 - 12  # into -12..11: every one is a zone that exists
    return "Etc/GMT" if hours == 0 else f"Etc/GMT{-hours:+d}"


def status_mib(pid: int) -> dict[str, float]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) / 1024
    return fields


def due(engine) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return int(conn.execute(sa.text("SELECT count(*) FROM travellers WHERE patterns_due")).scalar_one())


def drain(url: str, travellers: int, settle: float, timeout: float) -> dict:
    import sqlalchemy as sa

    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text(UNMARK))
        conn.execute(sa.text(MARK_DUE), {"n": travellers})
        stored = conn.execute(sa.text("SELECT count(*) FROM crossings")).scalar_one()
        # The rules read each traveller's neighbours at the post within minutes: a database whose last days were
        # filled by repeated API benches (12,000 crossings a quick run, all in its last three days) drains far
        # slower and is not comparable. Printed so that a reader can see it.
        recent = conn.execute(sa.text("SELECT count(*) FROM crossings WHERE crossed_at >= "
                                      "(SELECT max(crossed_at) FROM crossings) - interval '7 days'")).scalar_one()
    marked = due(engine)
    zone = noon_zone(datetime.now(UTC))
    env = {**os.environ, "DATABASE_URL": url, "TSELA_CONFIG": "development"}
    log = open("/tmp/scheduler-drain.log", "w")  # noqa: SIM115 - closed below
    child = subprocess.Popen([sys.executable, "-c", _CHILD, zone], cwd=ROOT, env=env, stdout=log,
                             stderr=subprocess.STDOUT)
    print(f"{stored:,} crossings stored, {recent:,} in the last 7 days; {marked:,} travellers due; scheduler pid "
          f"{child.pid} in {zone}", flush=True)
    t = time.perf_counter()
    try:
        left = marked
        while left:
            if child.poll() is not None:
                raise SystemExit(f"the scheduler exited ({child.returncode}); see /tmp/scheduler-drain.log")
            if time.perf_counter() - t > timeout:
                raise SystemExit(f"{left:,} travellers still due after {timeout:.0f} s")
            time.sleep(5)
            left = due(engine)
            print(f"  {time.perf_counter() - t:6.0f} s: {left:,} due, RSS {status_mib(child.pid)['VmRSS']:.0f} MiB",
                  flush=True)
        drained = time.perf_counter() - t
        time.sleep(settle)
        mem = status_mib(child.pid)
    finally:
        child.send_signal(signal.SIGTERM)
        try:
            child.wait(60)
        except subprocess.TimeoutExpired:
            child.kill()
        log.close()
        engine.dispose()
    return {"stored": stored, "recent": recent, "marked": marked, "drain_s": drained, "rss_mib": mem["VmRSS"],
            "peak_mib": mem["VmHWM"]}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pg-url", required=True, help="a loaded scale-bench database (it is written to)")
    parser.add_argument("--travellers", type=int, default=10_000, help="travellers marked due (the last seen)")
    parser.add_argument("--settle", type=float, default=20.0, help="seconds after the drain before RSS is read")
    parser.add_argument("--timeout", type=float, default=3600.0)
    args = parser.parse_args(argv)
    f = drain(args.pg_url, args.travellers, args.settle, args.timeout)
    print(f"scheduler drain: {f['marked']:,} travellers over {f['stored']:,} crossings ({f['recent']:,} in the last "
          f"7 days) in {f['drain_s']:.0f} s; "
          f"RSS {f['rss_mib']:.0f} MiB after {args.settle:.0f} s, peak {f['peak_mib']:.0f} MiB")


if __name__ == "__main__":
    main()
