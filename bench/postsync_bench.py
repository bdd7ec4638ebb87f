"""Store-and-forward benchmark: capture at a post node (screen + queue), then sync to headquarters over loopback.

Run: .venv/bin/python -m bench.postsync_bench [--db sqlite|postgresql] [--pg-url URL] [--persons 1000]
       [--crossings 5000] [--batch 100] [--workers 2]
Headquarters is a real gunicorn process on 127.0.0.1 (its database: a temporary SQLite file, or the
PostgreSQL database named by --pg-url, wiped first); the post node runs in this process on its own SQLite
file and sends its outbox with `screening.postsync.sync` (HTTP over loopback, idempotency keys, 500
crossings per request), exactly as `flask post sync` does. 1 % of the crossings are persons of interest.
"""

from __future__ import annotations

import argparse
import base64
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait(url: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)  # noqa: S310 - loopback
            return
        except urllib.error.HTTPError:
            return
        except OSError:
            time.sleep(0.2)
    raise SystemExit(f"headquarters did not start at {url}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--pg-url")
    parser.add_argument("--persons", type=int, default=1000)
    parser.add_argument("--crossings", type=int, default=5000)
    parser.add_argument("--batch", type=int, default=100, help="crossings per capture call at the post")
    parser.add_argument("--workers", type=int, default=2, help="headquarters' gunicorn workers")
    args = parser.parse_args()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from flask_migrate import upgrade
    from sqlalchemy import func, select

    from bench.api_bench import _load_persons, _prepare_database
    from screening import postsync, services, watchlist
    from screening.engine.normalize import parse_partial_date
    from screening.models import Crossing
    from screening.postnode import new_key_text
    from screening.postsync_models import PostFlag
    from screening.watchlist_format import raw_public
    from tip_cases import accounts, create_app
    from tip_cases.extensions import db
    from tip_cases.models import BorderPost

    folder = Path(tempfile.mkdtemp(prefix="tsela-postsync-bench-"))
    key = Ed25519PrivateKey.generate()
    seed = base64.b64encode(key.private_bytes_raw()).decode()
    public = base64.b64encode(raw_public(key.public_key())).decode()

    hq_url = _prepare_database(args.db, args.pg_url)
    hq = create_app("development", {"SQLALCHEMY_DATABASE_URI": hq_url, "WATCHLIST_SIGNING_KEY": seed})
    with hq.app_context():
        upgrade()
        people = _load_persons(args.persons, seed=7)
        watchlist.publish(now=datetime.now(UTC))
        _, token = accounts.create_api_client("bench-snp-node", "SNP")
        db.session.commit()
        db.session.remove()
        db.engine.dispose()

    port = _free_port()
    env = {**os.environ, "DATABASE_URL": hq_url, "TSELA_CONFIG": "development", "WATCHLIST_SIGNING_KEY": seed,
           "RATELIMIT_API": "100000 per minute", "NOTIFY_DEMO_RECEIVER": "0"}
    for name in ("TSELA_ROLE", "TSELA_POST_CODE", "HQ_URL", "HQ_API_TOKEN"):
        env.pop(name, None)
    with (folder / "hq.log").open("ab") as log:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers",
                                   str(args.workers), "--timeout", "300", "tip_cases:create_app()"],
                                  cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait(f"http://127.0.0.1:{port}/api/v1/openapi.json")
        post = create_app("development", {
            "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'post.db'}", "TSELA_ROLE": "post",
            "TSELA_POST_CODE": "SNP", "WATCHLIST_PUBLIC_KEYS": public, "POST_EXTRACT_KEY": new_key_text(),
            "POST_EXTRACT_PATH": str(folder / "post.bin"), "HQ_URL": f"http://127.0.0.1:{port}",
            "HQ_API_TOKEN": token})
        with post.app_context():
            upgrade()
            t = time.perf_counter()
            print(postsync.refresh_watchlist(post.config["HQ_URL"], token), f"({args.persons:,} persons) "
                  f"fetched and loaded in {time.perf_counter() - t:.1f} s")
            snp = db.session.execute(select(BorderPost.id).where(BorderPost.code == "SNP")).scalar_one()
            rng = random.Random(3)
            items = []
            for n in range(args.crossings):
                if rng.random() < 0.01:
                    p = rng.choice(people)
                    surname, given, dob, doc = p["surname"], p["given_names"], p["date_of_birth"], p["document_number"]
                else:
                    surname = "".join(rng.choice("bdfhklmnpqrstvwyz") + rng.choice("aeiou") for _ in range(4))
                    given = "".join(rng.choice("bdfhklmnpqrstvwyz") + rng.choice("aeiou") for _ in range(3))
                    dob = f"{rng.randint(1940, 2020)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
                    doc = f"BN{n:07d}"
                items.append(services.NewCrossing(
                    external_id=f"B{n}", border_post_id=snp, direction="exit", crossed_at=datetime.now(UTC),
                    surname=surname.capitalize(), given_names=given.capitalize(), sex=rng.choice("MF"),
                    dob=parse_partial_date(dob), nationality="LSO", document_type="P", document_number=doc))
            t = time.perf_counter()
            for start in range(0, len(items), args.batch):
                services.store_crossings(items[start:start + args.batch], source="bench", actor=None,
                                         now=datetime.now(UTC))
                db.session.commit()
            capture = time.perf_counter() - t
            local_flags = db.session.execute(select(func.count()).select_from(PostFlag)).scalar_one()
            print(f"post capture (store + screen offline + queue), batches of {args.batch}: {args.crossings:,} "
                  f"crossings in {capture:.1f} s = {args.crossings / capture:,.0f} crossings/s; "
                  f"{local_flags} flags raised at the post; outbox {postsync.backlog()} rows")
            t = time.perf_counter()
            report = postsync.sync(base_url=post.config["HQ_URL"], token=token)
            elapsed = time.perf_counter() - t
            print(f"sync to headquarters ({args.db}, {args.workers} gunicorn workers, loopback): "
                  f"{report.crossings:,} crossings in {elapsed:.1f} s = {report.crossings / elapsed:,.0f} crossings/s"
                  f" ({report.sent} requests, {report.hq_flags} flags from headquarters, "
                  f"rejected {report.rejected}, waiting {report.remaining})")
            db.session.remove()
            db.engine.dispose()
        with hq.app_context():
            stored = db.session.execute(select(func.count()).select_from(Crossing)).scalar_one()
            print(f"headquarters holds {stored:,} crossings (expected {args.crossings:,})")
            db.session.remove()
            db.engine.dispose()
    finally:
        server.terminate()
        server.wait(30)


if __name__ == "__main__":
    main()
