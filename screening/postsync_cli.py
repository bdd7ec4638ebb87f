"""`flask post ...` on a post node: send the outbox to headquarters, show what waits, retry a rejected row."""

from __future__ import annotations

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from screening import postsync
from screening.postsync_models import PostOutbox
from tip_cases.extensions import db

post_cli = AppGroup("post", help="Post node: store and forward to headquarters (docs/postnode.md).")


def _require_post() -> None:
    if not postsync.is_post():
        raise click.ClickException("this runs on a post node (TSELA_ROLE=post)")


@post_cli.command("sync")
@click.option("--limit", type=int, default=None, help="Send at most this many outbox rows.")
@click.option("--pause", type=float, default=0.0, help="Seconds between rows (to watch a sync, or in tests).")
@click.option("--quiet", is_flag=True)
def sync_cmd(limit: int | None, pause: float, quiet: bool) -> None:
    """Send the queued crossings, flags and decisions to HQ_URL, oldest first; exit 1 if the link is down."""
    _require_post()
    base, token = current_app.config.get("HQ_URL"), current_app.config.get("HQ_API_TOKEN")
    if not base or not token:
        raise click.ClickException("set HQ_URL and HQ_API_TOKEN (this post's API client token)")
    try:
        report = postsync.sync(base_url=base, token=token, limit=limit, pause=pause,
                               say=(lambda _: None) if quiet else click.echo)
    except postsync.SyncError as exc:
        raise click.ClickException(str(exc)) from exc
    if report.watchlist:
        click.echo(report.watchlist)
    click.echo(f"sent {report.sent} ({report.crossings} crossings, {report.hq_flags} flags from headquarters), "
               f"rejected {report.rejected}, waiting {report.remaining}")
    for line in report.errors:
        click.echo(f"REJECTED {line}")


@post_cli.command("outbox")
@click.option("--all", "show_all", is_flag=True, help="Also the rows already sent.")
def outbox_cmd(show_all: bool) -> None:
    """What waits to be sent, and every row headquarters rejected (with its reason)."""
    _require_post()
    stmt = select(PostOutbox).order_by(PostOutbox.id)
    if not show_all:
        stmt = stmt.where(PostOutbox.state != "sent")
    rows = db.session.execute(stmt).scalars().all()
    click.echo(f"{postsync.backlog()} waiting")
    for r in rows:
        click.echo(f"#{r.id} {r.kind} x{r.items} {r.state} attempts {r.attempts} created {r.created_at:%Y-%m-%d %H:%M}"
                   + (f" | {r.last_error}" if r.last_error else ""))


@post_cli.command("retry")
@click.argument("row_id", type=int)
def retry_cmd(row_id: int) -> None:
    """Put a rejected row back in the queue (after the cause was fixed at headquarters)."""
    _require_post()
    row = db.session.get(PostOutbox, row_id)
    if row is None or row.state != "rejected":
        raise click.ClickException(f"no rejected outbox row #{row_id}")
    row.state = "pending"
    db.session.commit()
    click.echo(f"#{row_id} queued again")


def register(app: Flask) -> None:
    app.cli.add_command(post_cli)
