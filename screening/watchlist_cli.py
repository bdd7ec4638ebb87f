"""`flask watchlist ...`: publish at headquarters; show, verify, apply, fetch and screen at a post node."""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy import select

from screening import watchlist
from screening.engine.matching import Document, Identity
from screening.engine.normalize import parse_partial_date
from screening.postnode import get_post_watchlist
from screening.watchlist import trusted_keys
from screening.watchlist_format import DocumentRefused, verify
from screening.watchlist_models import WatchlistDelta
from tip_cases.accounts import find_post
from tip_cases.extensions import db, utcnow

watchlist_cli = AppGroup("watchlist", help="Signed watchlist for post nodes (docs/postnode.md).")


def _role() -> str:
    return current_app.config.get("TSELA_ROLE") or "headquarters"


def _require(role: str, what: str) -> None:
    if _role() != role:
        raise click.ClickException(f"{what} runs on a {role} node; this node is TSELA_ROLE={_role()}")


def _read_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"{path}: not a readable JSON document ({exc})") from exc


def _documents(body: Any) -> list[Any]:
    """A file holds one signed document, or the deltas endpoint's answer ({"deltas": [...]})."""
    if isinstance(body, dict) and isinstance(body.get("deltas"), list):
        return body["deltas"]
    return [body]


@watchlist_cli.command("publish")
def publish_cmd() -> None:
    """Publish the next delta (headquarters): the persons of interest screened today versus the last one."""
    _require("headquarters", "publish")
    result = watchlist.publish(now=utcnow())
    db.session.commit()
    if result is None:
        click.echo(f"nothing changed since watchlist {watchlist.head_seq(db.session)}")
        return
    kind = "baseline" if result.baseline else "delta"
    click.echo(f"published watchlist {result.seq} ({kind}): {result.added} added, {result.changed} changed, "
               f"{result.expired} expired")


@watchlist_cli.command("public-key")
def public_key_cmd() -> None:
    """Print headquarters' public key, for the posts' WATCHLIST_PUBLIC_KEYS."""
    _require("headquarters", "public-key")
    click.echo(watchlist.public_key_text())


@watchlist_cli.command("export")
@click.option("--post", "post_code", required=True, help="The post the documents are bound to.")
@click.option("--after", type=int, default=None, help="Export the deltas after this number instead of the extract.")
@click.option("--out", "out_path", required=True, type=click.Path(dir_okay=False))
def export_cmd(post_code: str, after: int | None, out_path: str) -> None:
    """Write a signed extract (or deltas) for one post to a file, for a post with no link at all."""
    _require("headquarters", "export")
    post = find_post(post_code)
    if post is None:
        raise click.ClickException(f"unknown border post {post_code!r}")
    try:
        if after is None:
            body = watchlist.extract_document(post.code, now=utcnow())
        else:
            head, docs = watchlist.delta_documents(post.code, after, now=utcnow(), limit=10**6)
            body = {"head": head, "after": after, "deltas": docs}
    except watchlist.WatchlistError as exc:
        raise click.ClickException(str(exc)) from exc
    Path(out_path).write_text(json.dumps(body, separators=(",", ":"), ensure_ascii=False), encoding="utf-8")
    click.echo(f"wrote {out_path}")


@watchlist_cli.command("show")
def show_cmd() -> None:
    """What this node holds: the last publications (headquarters) or the local watchlist (post)."""
    if _role() == "post":
        s = get_post_watchlist().status()
        click.echo(f"post {s['post']}: watchlist {s['seq']} issued {s['issued_at'] or '-'}, {s['entries']} entries, "
                   f"threshold {s['threshold']:.2f}")
        return
    rows = db.session.execute(select(WatchlistDelta).order_by(WatchlistDelta.seq.desc()).limit(10)).scalars().all()
    if not rows:
        click.echo("no watchlist published yet (flask watchlist publish)")
    for r in rows:
        kind = "baseline" if r.changes is None else "delta"
        click.echo(f"{r.seq:>6}  {r.created_at:%Y-%m-%d %H:%M}  {kind:<8} +{r.added} ~{r.changed} -{r.expired}")


@watchlist_cli.command("verify")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def verify_cmd(path: str) -> None:
    """Check a document's signature (and, on a post, its post binding) without applying it."""
    problems = 0
    for doc in _documents(_read_json(path)):
        try:
            payload = verify(doc, trusted_keys())
            if _role() == "post" and payload.get("post") != current_app.config.get("TSELA_POST_CODE"):
                raise DocumentRefused("wrong_post", f"issued for post {payload.get('post')!r}, not this post")
        except DocumentRefused as exc:
            problems += 1
            click.echo(f"REFUSED ({exc.code}): {exc}")
            continue
        size = len(payload.get("entries") or []) if payload["type"] == "extract" else \
            f"+{len(payload['added'])} ~{len(payload['changed'])} -{len(payload['expired'])}"
        click.echo(f"OK {payload['type']} {payload['seq']} for post {payload['post']}: {size}")
    if problems:
        sys.exit(1)


def _apply(held, docs: list[Any]) -> None:

    for doc in docs:
        kind = doc.get("payload", {}).get("type") if isinstance(doc, dict) else None
        try:
            if kind == "extract":
                held.accept_extract(doc)
                click.echo(f"applied extract {held.seq}: {len(held.entries)} entries")
            else:
                a, c, e = held.accept_delta(doc)
                click.echo(f"applied delta {held.seq}: {a} added, {c} changed, {e} expired")
        except DocumentRefused as exc:
            click.echo(f"REFUSED ({exc.code}): {exc}", err=True)
            click.echo(f"kept watchlist {held.seq}", err=True)
            sys.exit(1)


@watchlist_cli.command("apply")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
def apply_cmd(path: str) -> None:
    """Apply a signed extract or deltas from a file (post); a refused document leaves the watchlist as it was."""
    _require("post", "apply")
    _apply(get_post_watchlist(), _documents(_read_json(path)))


def _get(url: str, token: str) -> tuple[int, Any]:
    req = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310 - HQ_URL is ours
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:  # noqa: S310
            return resp.status, json.loads(resp.read())
    except urllib.error.HTTPError as exc:
        try:
            return exc.code, json.loads(exc.read())
        except ValueError:
            return exc.code, {"message": exc.reason}


@watchlist_cli.command("fetch")
def fetch_cmd() -> None:
    """Bring the post's watchlist up to date from HQ_URL (deltas, or the full extract when needed)."""
    _require("post", "fetch")
    base, token = current_app.config.get("HQ_URL"), current_app.config.get("HQ_API_TOKEN")
    if not base or not token:
        raise click.ClickException("set HQ_URL and HQ_API_TOKEN (this post's API client token)")
    held = get_post_watchlist()
    base = base.rstrip("/") + "/api/v1/watchlist"
    try:
        while True:
            if held.seq:
                status, body = _get(f"{base}/deltas?after={held.seq}", token)
                if status == 200:
                    if not body["deltas"]:
                        click.echo(f"up to date at watchlist {held.seq}")
                        return
                    _apply(held, body["deltas"])
                    continue
                if status not in (409, 410):
                    raise click.ClickException(f"headquarters answered {status}: {body.get('message')}")
            status, body = _get(f"{base}/extract", token)
            if status != 200:
                raise click.ClickException(f"headquarters answered {status}: {body.get('message')}")
            _apply(held, [body])
            if not held.seq:
                return
    except urllib.error.URLError as exc:
        raise click.ClickException(f"headquarters unreachable ({exc.reason}); kept watchlist {held.seq}") from exc


@watchlist_cli.command("screen")
@click.option("--surname", default="")
@click.option("--given-names", default="")
@click.option("--dob", default=None, help="YYYY-MM-DD, YYYY-MM or YYYY")
@click.option("--sex", default=None)
@click.option("--nationality", default=None)
@click.option("--document", "document_number", default=None)
def screen_cmd(surname, given_names, dob, sex, nationality, document_number) -> None:
    """Screen one traveller against the post's local watchlist (works with the link down)."""
    _require("post", "screen")
    try:
        born = parse_partial_date(dob) if dob else None
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--dob") from exc
    probe = Identity(id="probe", surname=surname, given_names=given_names, dob=born, sex=sex,
                     nationality=nationality, documents=[Document(None, document_number)] if document_number else [])
    held = get_post_watchlist()
    flags = held.screen(probe)
    click.echo(f"screened against watchlist {held.seq} ({len(held.entries)} entries): {len(flags)} flag(s)")
    for f in flags:
        click.echo(f"- person {f.person_id}: {f.priority} {f.alert_kind}, score {f.score:.2f}")
        click.echo(f"  action: {f.action}")
        if f.reason:
            click.echo(f"  reason: {f.reason}")
        for line in f.explanations:
            click.echo(f"  * {line}")


def register(app: Flask) -> None:
    app.cli.add_command(watchlist_cli)
