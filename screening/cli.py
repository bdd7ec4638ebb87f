"""`flask crossings ...` and `flask screening ...` commands: thin shells over the screening services."""

from __future__ import annotations

import csv
import sys

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import func, select

from screening import handlers, match_models, online, partitions, records, tracing
from screening.engine.model_fit import NotEnoughData
from screening.models import Crossing
from screening.services import import_csv
from screening.trace import read_probes, trace
from tip_cases import audit
from tip_cases.extensions import db, utcnow

crossings_cli = AppGroup("crossings", help="Crossings: import from files.")
screening_cli = AppGroup("screening", help="Screening: tracing, index.")


@crossings_cli.command("import")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--source", default="csv", show_default=True,
              help="Source name; (source, external_id) is unique, so re-importing adds nothing.")
def crossings_import(path: str, source: str) -> None:
    """Import a crossings CSV (external_id, surname, given_names, sex, date_of_birth, ..., crossed_at, address)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        summary = import_csv(fh, actor=None, now=utcnow(), source=source)
    for line in summary.lines():
        click.echo(line)


@crossings_cli.command("partitions")
@click.option("--ahead", default=partitions.MONTHS_AHEAD, show_default=True, help="Months after this one.")
def crossings_partitions(ahead: int) -> None:
    """Create the month partitions of crossings up to --ahead months, and empty the default partition
    (PostgreSQL; the scheduler's crossing-partitions job does it daily)."""
    made = partitions.ensure(db.session(), ahead)
    db.session.commit()
    click.echo("crossings is not partitioned here (SQLite)" if made is None else f"partitions created: {made}")


@screening_cli.command("trace")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write ref,external_id,score (best first per ref).")
@click.option("--min-score", default=0.80, show_default=True, type=click.FloatRange(0, 1))
def screening_trace(path: str, out_path: str, min_score: float) -> None:
    """Find the crossings of the persons in PATH (ref, surname, given_names, sex, date_of_birth, ...)."""
    with open(path, newline="", encoding="utf-8-sig") as fh:
        probes, _, errors = read_probes(fh)
    hits = trace(probes, min_score=min_score)
    ids = {cid for _, cid, _ in hits}
    ext = {}
    for start in range(0, len(ids), 900):
        chunk = list(ids)[start:start + 900]
        ext.update(db.session.execute(select(Crossing.id, Crossing.external_id).where(Crossing.id.in_(chunk))).all())
    out = sys.stdout if out_path == "-" else open(out_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        writer = csv.writer(out)
        writer.writerow(["ref", "external_id", "score"])
        for ref, cid, result in hits:
            writer.writerow([ref, ext[cid], f"{result.score:.4f}"])
    finally:
        if out is not sys.stdout:
            out.close()
    audit.record("trace.run", "crossing", None, detail={"probes": len(probes), "matches": len(hits)})
    db.session.commit()
    click.echo(f"persons: {len(probes)}, matching crossings: {len(hits)}, rejected rows: {len(errors)}",
               err=out_path == "-")
    for message in errors:
        click.echo(f"  {message}", err=True)


@screening_cli.command("resolve")
@click.option("--out-of-core/--in-memory", default=None,
              help="Resolve in bounded memory (DuckDB on disk, one shard of travellers at a time). "
                   "Default: out of core above TRACING_OUT_OF_CORE_ABOVE crossings (2,000,000).")
@click.option("--workdir", type=click.Path(file_okay=False), default=None,
              help="Directory for DuckDB's files (default: a temporary directory).")
@click.option("--processes", type=click.IntRange(min=1), default=None,
              help="Out of core: worker processes for the keys and the shards (default: "
                   "TRACING_RESOLVE_PROCESSES, 1). Each holds one shard in memory.")
@click.option("--all-rules", is_flag=True,
              help="Afterwards run the risk rules over every recently seen traveller, as the daily job does "
                   "(default: over the travellers the resolution changed).")
def screening_resolve(out_of_core: bool | None, workdir: str | None, processes: int | None, all_rules: bool) -> None:
    """Re-resolve every crossing into travellers (after a threshold change or a large import).

    Investigators' merges and splits are always honoured; traveller numbers are kept where most of a
    traveller's crossings stay together. Then runs the risk-pattern rules over the travellers that gained
    or lost crossings (the others' findings cannot have changed; the daily job covers the passing of time).
    """
    import time

    started = time.perf_counter()
    now = utcnow()
    if out_of_core is None:
        stored = db.session.execute(select(func.count()).select_from(Crossing)).scalar_one()
        out_of_core = stored > current_app.config["TRACING_OUT_OF_CORE_ABOVE"]
    summary = tracing.resolve_all(now=now, out_of_core=out_of_core, workdir=workdir, processes=processes)
    db.session.commit()
    for line in summary.lines():  # committed: the log says so before the rules start
        click.echo(line)
    rules_started = time.perf_counter()
    raised = handlers.nightly_rules(now).total() if all_rules else handlers.due_rules(now)
    click.echo(f"risk flags raised: {raised} ({time.perf_counter() - rules_started:.1f} s)")
    click.echo(f"seconds: {time.perf_counter() - started:.1f}")


@screening_cli.command("rebuild-keys")
def screening_rebuild_keys() -> None:
    """Recompute the traveller key table and the name-token counts from the stored crossings.

    Run once after upgrading an installation that already has travellers (online attach reads its
    candidates from these tables), after restoring crossings from a backup, or after changing what the keys
    are made of (`screening resolve` refreshes only the travellers it changed).
    """
    import time


    started = time.perf_counter()
    keys, tokens = online.rebuild_keys(db.session, records.resolve_config())
    db.session.commit()
    click.echo(f"traveller keys: {keys}")
    click.echo(f"name tokens: {tokens}")
    click.echo(f"seconds: {time.perf_counter() - started:.1f}")


@screening_cli.command("fit")
@click.option("--sample", default=match_models.DEFAULT_SAMPLE, show_default=True, type=click.IntRange(2),
              help="Most crossings read into memory (a uniform sample of the stored crossings).")
@click.option("--seed", default=1, show_default=True, type=int, help="Seed of the sample and the fit.")
def screening_fit(sample: int, seed: int) -> None:
    """Refit the match weights (Fellegi-Sunter, EM without labels) on the stored crossings and use them.

    Prints each feature's weights. With too few crossings nothing is stored and the current model
    stays in use. Other processes pick the new model up within a minute.
    """
    try:
        result = match_models.fit_and_store(sample=sample, seed=seed, now=utcnow())
    except NotEnoughData as exc:
        db.session.rollback()
        click.echo(f"Not enough data to fit the match model: {exc}", err=True)
        sys.exit(1)
    db.session.commit()
    click.echo(f"match model {result.record.id} stored and active: {result.model.pairs} pairs from "
               f"{result.sampled} of {result.crossings_read} crossings")
    rows = match_models.weight_rows(result.model)
    widths = [max(len(r[0]) for r in rows), max(len(r[2]) for r in rows)]
    click.echo(f"{'feature':<{widths[0]}}  {'level':<{widths[1]}}  {'m':>8}  {'u':>8}  {'weight':>7}")
    for title, _name, label, m, u, weight in rows:
        click.echo(f"{title:<{widths[0]}}  {label:<{widths[1]}}  {m:>8.4f}  {u:>8.4f}  {weight:>+7.2f}")
    pairs = match_models.interaction_rows(result.model)
    if pairs:
        click.echo("address given what the documents say (m among matches per group; u the address's own)")
        width = max(len(r[0]) for r in pairs)
        for group, _name, label, m, u, weight in pairs:
            click.echo(f"{group:<{width}}  {label:<{widths[1]}}  {m:>8.4f}  {u:>8.4f}  {weight:>+7.2f}")


@screening_cli.command("travellers")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False),
              help="Where to write external_id,traveller_id for every crossing ('-' for stdout).")
def screening_travellers(out_path: str) -> None:
    """Write the traveller of every crossing as CSV: external_id,traveller_id."""
    out = sys.stdout if out_path == "-" else open(out_path, "w", newline="", encoding="utf-8")  # noqa: SIM115
    try:
        n = tracing.write_assignment(out)
    finally:
        if out is not sys.stdout:
            out.close()
    audit.record("traveller.export", "traveller", None, detail={"rows": n})
    db.session.commit()
    click.echo(f"crossings written: {n}", err=out_path == "-")


@screening_cli.command("patterns")
def screening_patterns() -> None:
    """Run the risk-pattern rules over recent crossings (e.g. nightly: "not returned after N days")."""
    rules = handlers.nightly_rules(utcnow())
    click.echo(f"risk flags raised: {rules.total()}")
    for rule, n in sorted(rules.items()):
        click.echo(f"  {rule}: {n}")


def register(app: Flask) -> None:
    app.cli.add_command(crossings_cli)
    app.cli.add_command(screening_cli)
