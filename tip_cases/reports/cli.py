"""Report commands: `flask reports rollup --rebuild`. Thin shells over services."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import AppGroup

from tip_cases.extensions import db, utcnow
from tip_cases.reports import rollups

reports_cli = AppGroup("reports", help="Managers' statistics.")


@reports_cli.command("rollup")
@click.option("--rebuild", is_flag=True, help="Recount every rollup from crossings and flags.")
def rollup(rebuild):
    """Rebuild the statistics rollups (the triggers keep them current; this recounts from scratch)."""
    if not rebuild:
        raise click.UsageError("say --rebuild: the rollups are kept current by the database on every write")
    counts = rollups.rebuild(db.session, now=utcnow())
    db.session.commit()
    for table, n in counts.items():
        click.echo(f"{table}: {n} rows")


def register(app: Flask) -> None:
    app.cli.add_command(reports_cli)
