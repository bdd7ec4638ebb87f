"""Core commands: users, API tokens, demo data and the audit chain. Thin shells over services."""

from __future__ import annotations

import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import AppGroup

from tip_cases import accounts, audit, backup, demo
from tip_cases.extensions import db, utcnow

users_cli = AppGroup("users", help="Manage user accounts.")
tokens_cli = AppGroup("api-tokens", help="Manage API clients for border systems.")
demo_cli = AppGroup("demo", help="Demo data.")
audit_cli = AppGroup("audit", help="The audit trail.")
backup_cli = AppGroup("backup", help="Back up and restore the database.")


def _read_password(confirm: bool = True) -> str:
    """Password from stdin: piped input is read as is, a terminal is prompted without echo."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=confirm)
    return sys.stdin.readline().rstrip("\n")


@users_cli.command("create")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["border_officer", "investigator", "manager", "admin"]))
@click.option("--post", "post_code", default=None, help="Border post code (required for border officers).")
@click.option("--full-name", default="", help="The person's name as shown in the app.")
@click.option("--email", default=None)
@click.option("--with-totp", is_flag=True, help="Create a TOTP secret now and print it (else enrol at sign-in).")
def users_create(username, role, post_code, full_name, email, with_totp):
    """Create a user; the password is read from standard input."""
    password = _read_password()
    secret = accounts.start_enrolment() if with_totp else None
    try:
        user = accounts.create_user(username, password, role, post_code=post_code, full_name=full_name,
                                    email=email, totp_secret=secret,
                                    min_length=current_app.config["PASSWORD_MIN_LENGTH"])
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    # Without a TOTP secret the user enrols one at first sign-in, which needs this one-time code too.
    code = None if secret else accounts.issue_enrolment_code(
        user, now=utcnow(), lifetime=current_app.config["ENROLMENT_CODE_LIFETIME"])
    db.session.commit()
    where = f", post {user.border_post.code}" if user.border_post else ""
    click.echo(f"created user {user.username} ({user.role}{where})")
    if secret:
        click.echo(f"TOTP secret: {secret}")
    if code:
        hours = int(current_app.config["ENROLMENT_CODE_LIFETIME"].total_seconds() // 3600)
        click.echo(f"Enrolment code for the first sign-in (shown once, valid {hours} h): {code}")


@tokens_cli.command("create")
@click.argument("name")
@click.option("--post", "post_code", default=None, help="Bind the client to one border post.")
def tokens_create(name, post_code):
    """Create an API client; the token is printed once, as the last line."""
    try:
        client, token = accounts.create_api_client(name, post_code)
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    where = f" for post {client.border_post.code}" if client.border_post else ""
    click.echo(f"created API client {client.name}{where}")
    click.echo("Store this token now; only its hash is kept:")
    click.echo(token)


@tokens_cli.command("revoke")
@click.argument("name")
def tokens_revoke(name):
    """Revoke an API client: its token stops working (a post node gets no further watchlist deltas)."""
    try:
        client = accounts.revoke_api_client(name)
    except accounts.AccountError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    db.session.commit()
    click.echo(f"revoked API client {client.name}")


@demo_cli.command("load")
def demo_load():
    """Load the demo data (idempotent: a second run adds nothing)."""
    summary = demo.load()
    for line in summary:
        click.echo(line)


@audit_cli.command("verify")
def audit_verify():
    """Check the audit trail's MAC chain and every signed checkpoint; exits 1 naming what is wrong."""
    try:
        ok, count, message = audit.verify()
    except audit.AuditError as exc:  # unusable keys or key settings
        raise click.ClickException(str(exc)) from exc
    click.echo(message)
    if not ok:
        sys.exit(1)


@audit_cli.command("checkpoint")
def audit_checkpoint():
    """Sign the chain's head into the checkpoint file (the scheduler does it every 15 minutes)."""
    try:
        cp = audit.checkpoint()
    except audit.AuditError as exc:
        click.echo(str(exc), err=True)
        sys.exit(1)
    click.echo(f"checkpoint #{cp.seq}: {cp.rows} rows up to row {cp.last_id}, written to {audit.checkpoint_path()}")


@audit_cli.command("public-key")
def audit_public_key():
    """Print the checkpoint signing public key (base64), for an auditor or AUDIT_CHECKPOINT_PUBLIC_KEYS."""
    try:
        click.echo(audit.public_key_text())
    except audit.AuditError as exc:
        raise click.ClickException(str(exc)) from exc


@backup_cli.command("create")
@click.argument("path", required=False, type=click.Path(dir_okay=False, path_type=Path))
def backup_create(path):
    """Write the whole database to PATH (pg_dump custom format, or a SQLite copy); default: a dated name."""
    path = path or backup.default_path(utcnow(), backup.backend())
    try:
        written = backup.create(path)
    except backup.BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"backup written to {written} ({written.stat().st_size} bytes)")


@backup_cli.command("restore")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask: every change since the backup is lost.")
def backup_restore(path, yes):
    """Replace the database with the backup at PATH, then verify the audit trail (exits 1 if it fails)."""
    if not yes:
        click.confirm(f"Replace the whole database with {path}? Every change since the backup is lost",
                      abort=True)
    try:
        result = backup.restore(path)
    except (backup.BackupError, audit.AuditError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"restored {path}")
    if result.checkpoints_set_aside:
        click.echo(f"audit checkpoints newer than the backup set aside in {result.checkpoints_set_aside}; "
                   f"{result.checkpoints_kept} kept")
    click.echo(result.message)
    if not result.verified:
        sys.exit(1)


def register(app: Flask) -> None:
    for group in (users_cli, tokens_cli, demo_cli, audit_cli, backup_cli):
        app.cli.add_command(group)


@demo_cli.command("totp")
@click.argument("username")
def demo_totp(username):
    """Print the current TOTP code of a demo user (demo secrets are public; real ones never printed)."""
    import pyotp

    secrets = {u: s for u, _r, _p, _n, s in demo.DEMO_USERS}
    if username not in secrets:
        raise click.ClickException(f"{username!r} is not a demo user")
    click.echo(pyotp.TOTP(secrets[username]).now())
