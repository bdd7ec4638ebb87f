"""Database attach against the in-memory index, the batch resolution and the truth, on generated data.

Run: .venv/bin/python -m bench.online_attach_check 3000   (a fresh SQLite file; stored in batches of 100)
Prints whether the database path gives exactly the in-memory attach's travellers, and pairwise figures.
"""

from __future__ import annotations

import os
import sys
import tempfile
from datetime import UTC, datetime


def _partition(assignment: dict) -> set[frozenset]:
    groups: dict = {}
    for c, t in assignment.items():
        groups.setdefault(t, set()).add(c)
    return {frozenset(g) for g in groups.values()}


def main(n: int) -> None:
    from flask_migrate import upgrade
    from sqlalchemy import select

    from bench.generate import generate_crossings, generate_persons
    from screening import records, services, tracing
    from screening.engine.normalize import parse_partial_date
    from screening.engine.resolve import TravellerIndex, pairwise_metrics, resolve
    from screening.models import Crossing
    from tip_cases import create_app
    from tip_cases.extensions import db
    from tip_cases.models import BorderPost

    path = os.path.join(tempfile.mkdtemp(), "check.db")
    app = create_app("development", {"SQLALCHEMY_DATABASE_URI": f"sqlite:///{path}", "RATELIMIT_ENABLED": False})
    with app.app_context():
        upgrade()
        post_id = db.session.query(BorderPost).first().id
        rows = generate_crossings(generate_persons(max(n // 5, 1), seed=5), n, seed=6)
        items = [services.NewCrossing(
            external_id=r["external_id"], border_post_id=post_id, direction=r["direction"],
            crossed_at=datetime.fromisoformat(r["crossed_at"]), surname=r["surname"], given_names=r["given_names"],
            sex=r["sex"], dob=parse_partial_date(r["date_of_birth"]) if r["date_of_birth"] else None,
            nationality=r["nationality"], document_type=r["document_type"] if r["document_number"] else None,
            document_number=r["document_number"] or None,
            document_country=r["document_country"] if r["document_number"] else None) for r in rows]
        for s in range(0, n, 100):
            services.store_crossings(items[s:s + 100], source="check", actor=None,
                                     now=datetime(2026, 1, 1, tzinfo=UTC))
            db.session.commit()
        stored_rows = db.session.execute(select(*records.IDENTITY_COLUMNS).order_by(Crossing.id)).all()
        stored = {r.id: r.traveller_id for r in stored_rows}
        records = [tracing.record_of(r) for r in stored_rows]
        cfg = tracing.resolve_config()
        index = TravellerIndex(cfg)
        for r in records:
            index.attach(r)
        memory = index.assignment()
        truth = {stored_rows[i].id: rows[i]["person_id"] for i in range(n)}
        print(f"{n} crossings; database == in-memory attach: {_partition(stored) == _partition(memory)}")
        for label, reference in (("in-memory attach", memory), ("batch resolve", resolve(records, cfg)),
                                 ("truth", truth)):
            m = pairwise_metrics(reference, stored)
            print(f"database vs {label}: P {m['precision']:.4f} R {m['recall']:.4f} F1 {m['f1']:.4f}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 3000)
