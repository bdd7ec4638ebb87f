"""`flask notifications ...` and `flask scheduler run`: thin shells over the services."""

from __future__ import annotations

import signal
import sys
import threading
import time
from datetime import timedelta

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from notifications import dispatcher, scheduler, services
from notifications.models import Agency, OutboxMessage
from tip_cases.extensions import db, utcnow

notifications_cli = AppGroup("notifications", help="Partner notifications: outbox, dead letters, digests.")
scheduler_cli = AppGroup("scheduler", help="The one scheduler process (dispatch, reminders, digests).")


@notifications_cli.command("dispatch")
@click.option("--batch", default=50, show_default=True, help="Rows claimed per batch.")
@click.option("--lease", default=120.0, show_default=True, help="Seconds a claim is held before others retake it.")
@click.option("--loop", is_flag=True, help="Keep running (every --every seconds) until interrupted.")
@click.option("--every", default=5.0, show_default=True)
@click.option("--per-destination", default=10, show_default=True, help="Most rows per channel in one batch.")
def dispatch(batch, lease, loop, every, per_destination):
    """Send what is due in the outbox (once, or in a loop)."""
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    while True:
        stats = dispatcher.run_until_idle(batch=batch, lease=timedelta(seconds=lease), per_destination=per_destination)
        click.echo(str(stats))
        if not loop or stop.wait(every):
            break


@notifications_cli.command("dead")
def dead_letters():
    """List dead letters (ids only; read the payloads in the app)."""
    rows = db.session.execute(select(OutboxMessage).where(OutboxMessage.status == "dead")
                              .order_by(OutboxMessage.id)).scalars().all()
    for m in rows:
        click.echo(f"{m.id}\t{m.message_id}\t{m.event}\tagency={m.agency_id}\tattempts={m.attempts}\t{m.last_error}")
    click.echo(f"{len(rows)} dead letters")


@notifications_cli.command("retry")
@click.argument("outbox_id", type=int)
def retry(outbox_id):
    """Put one dead letter back in the queue."""
    msg = db.session.get(OutboxMessage, outbox_id)
    if msg is None:
        raise click.ClickException(f"no outbox message {outbox_id}")
    try:
        services.retry(msg, now=utcnow())
    except services.NotificationError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"outbox {outbox_id} queued again")


@notifications_cli.command("digest")
@click.argument("period", type=click.Choice(["daily", "weekly"]))
def digest(period):
    """Publish the daily or weekly digest now (once per period)."""
    sent = services.send_digest(period, now=utcnow())
    db.session.commit()
    click.echo(f"{period} digest " + ("queued" if sent else "already sent for this period"))


@notifications_cli.command("reminders")
def reminders():
    """Run the reminder and escalation checks once."""
    click.echo(scheduler.job_reminders(
        utcnow(), escalate_after=timedelta(minutes=float(current_app.config.get("NOTIFY_ESCALATE_AFTER_MINUTES", 15))),
        idle_days=int(current_app.config.get("NOTIFY_IDLE_CASE_DAYS", 14))))


@notifications_cli.command("partner-token")
@click.argument("agency_id", type=int)
def partner_token(agency_id):
    """Issue (or rotate) an agency's API token for acknowledgements; printed once, as the last line."""
    agency = db.session.get(Agency, agency_id)
    if agency is None:
        raise click.ClickException(f"no agency {agency_id}")
    token = services.new_partner_token(agency)
    db.session.commit()
    click.echo(f"token for agency {agency.id}; store it now, only its hash is kept:")
    click.echo(token)


@scheduler_cli.command("run")
@click.option("--lease-seconds", default=15.0, show_default=True, help="SQLite lease length (standby takeover).")
@click.option("--poll", default=2.0, show_default=True, help="Seconds between lock checks / heartbeats.")
@click.option("--dispatch-every", default=5.0, show_default=True, help="Seconds between outbox dispatches.")
@click.option("--holder", default=None, help="Name shown as the lock holder (default host:pid).")
def scheduler_run(lease_seconds, poll, dispatch_every, holder):
    """Run the scheduler: stands by until it holds the database lock, then dispatches, reminds and digests."""
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    app = current_app._get_current_object()
    scheduler.tune_malloc()

    def say(line: str) -> None:
        click.echo(f"{time.strftime('%H:%M:%S')} {line}")
        sys.stdout.flush()  # visible at once in `make run` and log files

    scheduler.run(app, holder=holder, ttl=lease_seconds, poll=poll, dispatch_every=dispatch_every, stop=stop,
                  say=say)


def register(app: Flask) -> None:
    app.cli.add_command(notifications_cli)
    app.cli.add_command(scheduler_cli)
