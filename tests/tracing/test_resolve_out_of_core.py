"""`flask screening resolve --out-of-core` (DuckDB, one shard at a time) on the app database."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from bench.generate import generate_crossings, generate_persons
from screening import records, tracing
from screening.engine.resolve import resolve
from screening.models import Crossing, Traveller
from tests.tracing.test_online_attach import NOW, _partition, _store
from tip_cases.extensions import db

pytest.importorskip("duckdb", reason="duckdb resolves out of core")


def _stored() -> tuple[dict, list]:
    rows = db.session.execute(select(*records.IDENTITY_COLUMNS).order_by(Crossing.id)).all()
    return {r.id: r.traveller_id for r in rows}, [tracing.record_of(r) for r in rows]


def test_out_of_core_resolve_gives_the_in_memory_travellers_and_keeps_their_ids(app, db_session, tmp_path):
    persons = generate_persons(80, seed=21)
    _store(generate_crossings(persons, 400, seed=22), batch=40)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["screening", "resolve", "--in-memory"])
    assert result.exit_code == 0, result.output
    db.session.expire_all()
    in_memory, recs = _stored()
    assert _partition(in_memory) == _partition(resolve(recs, tracing.resolve_config()))

    result = runner.invoke(args=["screening", "resolve", "--out-of-core", "--workdir", str(tmp_path / "w")])
    assert result.exit_code == 0, result.output
    assert "crossings moved: 0" in result.output, result.output
    assert "travellers changed: 0\ntraveller keys: refreshed for 0 travellers" in result.output, result.output
    # The operator sees where the time went: the resolution with its writes, the key table, the rules.
    assert re.search(r"seconds by stage: resolve and write \d+\.\d, traveller keys \d+\.\d\n", result.output), \
        result.output
    assert re.search(r"risk flags raised: \d+ \(\d+\.\d s\)", result.output), result.output
    db.session.expire_all()
    out_of_core, _ = _stored()
    assert out_of_core == in_memory  # same partition, same traveller ids

    # The keys and shards over two forked worker processes (the app's database connection open here).
    result = runner.invoke(args=["screening", "resolve", "--out-of-core", "--processes", "2",
                                 "--workdir", str(tmp_path / "p")])
    assert result.exit_code == 0, result.output
    assert "shards over 2 processes" in result.output and "crossings moved: 0" in result.output, result.output
    db.session.expire_all()
    assert _stored()[0] == in_memory


def test_out_of_core_resolve_assigns_a_fresh_import_and_honours_a_split(app, db_session, tmp_path):
    persons = generate_persons(50, seed=31)
    _store(generate_crossings(persons, 250, seed=32), batch=50)
    # An investigator splits one traveller: the re-resolution must keep the two apart.
    stored, _ = _stored()
    by_traveller: dict = {}
    for cid, tid in stored.items():
        by_traveller.setdefault(tid, []).append(cid)
    tid, members = max(by_traveller.items(), key=lambda kv: len(kv[1]))
    assert len(members) >= 2
    new = tracing.split_traveller(db.session.get(Traveller, tid), members[:1], reason="different people",
                                  actor=None, now=NOW)
    db.session.commit()
    db.session.execute(Crossing.__table__.update().values(traveller_id=None))  # as after a bulk import
    db.session.commit()
    summary = tracing.resolve_all(now=NOW, out_of_core=True, workdir=str(tmp_path / "w"))
    db.session.commit()
    after, recs = _stored()
    assert all(t is not None for t in after.values())
    assert summary.crossings == len(after)
    assert after[members[0]] != after[members[1]]
    expected = resolve(recs, tracing.resolve_config(), tracing.load_judgements(db.session))
    assert _partition(after) == _partition(expected)
    assert new.id  # the split's traveller row exists


def test_the_component_cap_comes_from_the_config_and_is_reported(app, db_session, tmp_path, monkeypatch):
    persons = generate_persons(80, seed=21)
    _store(generate_crossings(persons, 400, seed=22), batch=40)
    runner = app.test_cli_runner()
    monkeypatch.setitem(app.config, "TRACING_COMPONENT_CAP", 0)  # no cap: exact
    result = runner.invoke(args=["screening", "resolve", "--out-of-core", "--workdir", str(tmp_path / "a")])
    assert result.exit_code == 0, result.output
    assert "components over the cap: 0 (no cap)" in result.output, result.output
    monkeypatch.setitem(app.config, "TRACING_COMPONENT_CAP", 6)
    result = runner.invoke(args=["screening", "resolve", "--out-of-core", "--workdir", str(tmp_path / "b")])
    assert result.exit_code == 0, result.output
    over = re.search(r"components over the cap: (\d+) \(cap 6\); largest component (\d+) crossings, "
                     r"largest piece resolved (\d+)", result.output)
    assert over, result.output
    # (a last-resort chunk may pass the cap by one person's crossings: they share a document)
    assert int(over[1]) > 0 and int(over[2]) > int(over[3]), result.output
    db.session.expire_all()
    after, _ = _stored()
    assert len(after) == 400 and all(t is not None for t in after.values())
