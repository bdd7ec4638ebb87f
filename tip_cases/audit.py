"""The audit trail: rows are queued on the session and chained (prev_hash -> MAC) at flush time.

Chaining at flush, under a database lock on PostgreSQL, keeps the chain linear even with several
web workers; SQLite serialises writers by itself.

Why keys and checkpoints: a plain hash chain proves nothing to someone who can write to the database,
since they can drop the trigger, edit rows and recompute every hash with this very module. So each row
carries an HMAC-SHA256 keyed by `AUDIT_HMAC_KEY`, a secret that never enters the database, and the head
of the chain is anchored outside the database: a checkpoint (last id, its MAC, row count) signed with an
Ed25519 key and appended to a JSON-lines file. A rewrite without the HMAC key breaks the MACs; a rewrite
with it, or deleting the newest rows, no longer matches the signed checkpoints.

Rows written before keys existed have no key id and a plain SHA-256 link: they verify as a legacy
prefix, and no unkeyed row may follow a keyed one.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import hmac
import json
import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from flask import current_app, has_request_context, request
from sqlalchemy import event, func, select, text
from sqlalchemy.orm import Session

from tip_cases.actor import current_actor
from tip_cases.extensions import db, utcnow
from tip_cases.models import ApiClient, AuditEvent

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x75E1A  # advisory lock id for the audit chain
_PENDING = "audit_pending"
_FIELDS = ("at", "actor_user_id", "actor_label", "action", "object_type", "object_id", "outcome", "ip", "detail")
CHECKPOINT_VERSION = 1


class AuditError(Exception):
    """The trail or its checkpoints fail verification, or the keys are unusable."""


def _actor() -> tuple[int | None, str]:
    if not has_request_context():
        return None, "cli"
    actor = current_actor()
    if actor is None:
        return None, "anonymous"
    if isinstance(actor, ApiClient):
        return None, f"api:{actor.name}"[:80]
    return actor.id, actor.username


def record(action: str, object_type: str | None = None, object_id: Any = None, *, outcome: str = "allowed",
           detail: dict | None = None, actor: tuple[int | None, str] | None = None,
           session: Session | None = None) -> None:
    """Queue an audit row in the current transaction; it is written with the caller's commit."""
    session = session or db.session()
    if not session.in_transaction():
        session.begin()  # so that a rollback (which fires the drop hook) also discards this row
    actor_id, label = actor or _actor()
    ip = request.remote_addr if has_request_context() else None
    session.info.setdefault(_PENDING, []).append({
        "at": utcnow(), "actor_user_id": actor_id, "actor_label": label, "action": action,
        "object_type": object_type, "object_id": None if object_id is None else str(object_id),
        "outcome": outcome, "ip": ip, "detail": detail,
    })


def denied(action: str, object_type: str | None, object_id: Any, detail: dict | None = None) -> None:
    """Record a refused access on its own transaction, so it survives the abort that follows."""
    db.session.rollback()
    record(action, object_type, object_id, outcome="denied", detail=detail)
    db.session.commit()


# --- the chain -----------------------------------------------------------------------------------

def _payload(prev_hash: str, fields: dict) -> bytes:
    payload = {
        "at": fields["at"].isoformat(), "actor_user_id": fields["actor_user_id"],
        "actor_label": fields["actor_label"], "action": fields["action"],
        "object_type": fields["object_type"], "object_id": fields["object_id"],
        "outcome": fields["outcome"], "ip": fields["ip"], "detail": fields["detail"],
    }
    return (prev_hash + json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)).encode()


def row_hash(prev_hash: str, fields: dict) -> str:
    """The legacy, unkeyed link: verifies rows written before 0009 (key_id NULL); never written now."""
    return hashlib.sha256(_payload(prev_hash, fields)).hexdigest()


def row_mac(key: bytes, prev_hash: str, fields: dict) -> str:
    """HMAC-SHA256 of the same canonical payload: without the key nobody can recompute it."""
    return hmac.new(key, _payload(prev_hash, fields), hashlib.sha256).hexdigest()


def key_id_for(key: bytes) -> str:
    """A short name for a key, derived from it, so rotating is just moving the old key to the old list."""
    return hmac.new(key, b"tsela audit key id", hashlib.sha256).hexdigest()[:12]


@dataclass(frozen=True)
class Keyring:
    current_id: str
    keys: dict[str, bytes]

    @property
    def current(self) -> bytes:
        return self.keys[self.current_id]


def _instance_file_secret(name: str, make) -> str:
    """Development only (production refuses to start without the environment's key): a random secret
    kept in the instance folder, created on first use, so it is never a published default."""
    path = Path(current_app.instance_path) / name
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(make())
        try:
            os.link(tmp, path)  # atomic and never overwrites: two processes starting together agree on one key
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def _split(value: str | None) -> list[str]:
    return [part.strip() for part in (value or "").replace("\n", ",").split(",") if part.strip()]


def keyring() -> Keyring:
    """The current HMAC key and the retired ones (AUDIT_HMAC_OLD_KEYS) that still verify older rows."""
    cfg = current_app.config
    current = cfg.get("AUDIT_HMAC_KEY") or _instance_file_secret(
        "audit_hmac_key", lambda: secrets.token_urlsafe(48))
    keys = {}
    for secret in [*_split(cfg.get("AUDIT_HMAC_OLD_KEYS")), current]:
        raw = secret.encode()
        keys[key_id_for(raw)] = raw
    return Keyring(current_id=key_id_for(current.encode()), keys=keys)


def _chain_pending(session: Session) -> None:
    """Chain the queued rows onto the trail's head, holding the chain's lock until the commit ends.

    Called only from before_commit: the lock serialises every writer, so it is taken at the last
    moment, after the caller's screening and tracing, not at the first flush of a long transaction.
    """
    pending = session.info.pop(_PENDING, None)
    if not pending:
        return
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(
        select(AuditEvent.hash).order_by(AuditEvent.id.desc()).limit(1)
    ).scalar()
    ring = keyring()
    prev = last or GENESIS
    for fields in pending:
        mac = row_mac(ring.current, prev, fields)
        session.add(AuditEvent(prev_hash=prev, hash=mac, key_id=ring.current_id, **fields))
        prev = mac


@event.listens_for(Session, "after_soft_rollback")
def _drop_pending(session: Session, previous_transaction) -> None:
    # Fires on every rollback() call, even when no SQL was sent yet; savepoint rollbacks keep the queue.
    if previous_transaction.parent is None:
        session.info.pop(_PENDING, None)


@event.listens_for(Session, "before_commit")
def _flush_pending(session: Session) -> None:
    _chain_pending(session)


# --- checkpoints: the chain's head, signed and kept outside the database ---------------------------

def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _load_private_key(value: str):
    """AUDIT_SIGNING_KEY: a PEM private key, or the base64 of a raw 32-byte Ed25519 seed."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    value = value.strip()
    if value.startswith("-----BEGIN"):
        key = serialization.load_pem_private_key(value.encode(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditError("AUDIT_SIGNING_KEY is not an Ed25519 key")
        return key
    try:
        std = value.replace("-", "+").replace("_", "/")  # accept the URL-safe alphabet too
        seed = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except ValueError as exc:
        raise AuditError("AUDIT_SIGNING_KEY is neither PEM nor base64") from exc
    if len(seed) != 32:
        raise AuditError("AUDIT_SIGNING_KEY must be 32 bytes (base64) or a PEM Ed25519 key")
    return Ed25519PrivateKey.from_private_bytes(seed)


def _new_private_pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()


def signing_key(*, create: bool = True):
    """AUDIT_SIGNING_KEY, else the instance folder's key (created on first use unless `create` is off)."""
    cfg_value = current_app.config.get("AUDIT_SIGNING_KEY")
    if not cfg_value and not create and not (Path(current_app.instance_path) / "audit_signing_key.pem").exists():
        return None
    return _load_private_key(cfg_value or _instance_file_secret("audit_signing_key.pem", _new_private_pem))


def _raw_public(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def public_key_id(raw_public: bytes) -> str:
    return hashlib.sha256(raw_public).hexdigest()[:16]


def public_key_text() -> str:
    """The base64 public key, to hand to an auditor or list in AUDIT_CHECKPOINT_PUBLIC_KEYS elsewhere."""
    return _b64(_raw_public(signing_key().public_key()))


def trusted_public_keys() -> dict[str, Any]:
    """Keys whose signatures count: this installation's own, plus retired or remote ones from config.

    Never the key a checkpoint line names about itself: a forger would simply name their own. A host
    that only verifies (an auditor's) needs no private key, just AUDIT_CHECKPOINT_PUBLIC_KEYS."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    own = signing_key(create=False)
    raws = [_raw_public(own.public_key())] if own is not None else []
    for item in _split(current_app.config.get("AUDIT_CHECKPOINT_PUBLIC_KEYS")):
        try:
            raws.append(base64.b64decode(item, validate=True))
        except ValueError as exc:
            raise AuditError("AUDIT_CHECKPOINT_PUBLIC_KEYS holds a value that is not base64") from exc
    keys = {}
    for raw in raws:
        if len(raw) != 32:
            raise AuditError("AUDIT_CHECKPOINT_PUBLIC_KEYS holds a key that is not 32 bytes")
        keys[public_key_id(raw)] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def checkpoint_path() -> Path:
    configured = current_app.config.get("AUDIT_CHECKPOINT_PATH")
    return Path(configured) if configured else Path(current_app.instance_path) / "audit-checkpoints.jsonl"


def _canonical(body: dict) -> bytes:
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


@dataclass
class Checkpoint:
    seq: int
    at: str
    last_id: int
    last_mac: str
    rows: int
    legacy_last_id: int
    line_no: int = 0
    line_digest: str = ""


@dataclass
class CheckpointFile:
    checkpoints: list[Checkpoint] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    exists: bool = False


def read_checkpoints(path: Path | None = None) -> CheckpointFile:
    """Parse and check every line: signature by a trusted key, sequence, and the link to the line before.

    A line that fails is reported and not used as an anchor."""
    from cryptography.exceptions import InvalidSignature

    path = path or checkpoint_path()
    result = CheckpointFile()
    if not path.exists():
        return result
    result.exists = True
    keys = trusted_public_keys()
    prev_digest = None
    prev_seq = 0
    try:
        content = path.read_bytes().splitlines()
    except OSError as exc:
        raise AuditError(f"cannot read the checkpoint file {path}: {exc.strerror}") from exc
    for line_no, line in enumerate(content, start=1):
        if not line.strip():
            continue
        where = f"checkpoint file line {line_no}"
        digest = hashlib.sha256(line).hexdigest()
        try:
            obj = json.loads(line)
            sig = base64.b64decode(obj.pop("sig"), validate=True)
            kid = str(obj["kid"])
            cp = Checkpoint(seq=int(obj["seq"]), at=str(obj["at"]), last_id=int(obj["last_id"]),
                            last_mac=str(obj["last_mac"]), rows=int(obj["rows"]),
                            legacy_last_id=int(obj["legacy_last_id"]), line_no=line_no, line_digest=digest)
        except (ValueError, KeyError, TypeError, AttributeError):
            result.problems.append(f"{where}: not a checkpoint (unreadable or missing fields): the file was "
                                   "tampered with")
            prev_digest, prev_seq = digest, prev_seq + 1
            continue
        key = keys.get(kid)
        if key is None:
            result.problems.append(f"{where}: signed by unknown key {kid} (forged, or a retired key missing "
                                   "from AUDIT_CHECKPOINT_PUBLIC_KEYS)")
        else:
            try:
                key.verify(sig, _canonical(obj))
            except InvalidSignature:
                result.problems.append(f"{where}: signature invalid (the checkpoint was altered or forged)")
                prev_digest, prev_seq = digest, cp.seq
                continue
            if obj.get("prev") != prev_digest or cp.seq != prev_seq + 1:
                result.problems.append(f"{where}: does not follow the line before it (a checkpoint line was "
                                       "removed, reordered or inserted)")
            result.checkpoints.append(cp)
        prev_digest, prev_seq = digest, cp.seq
    return result


def checkpoint(*, now: datetime | None = None, session: Session | None = None) -> Checkpoint:
    """Sign the chain's current head and append it to the checkpoint file.

    The rows since the previous checkpoint are verified first, so a tampered trail is never signed
    as good; the previous line must be valid for the same reason. Returns the new checkpoint."""
    session = session or db.session()
    now = now or utcnow()
    path = checkpoint_path()
    private = signing_key()
    kid = public_key_id(_raw_public(private.public_key()))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        raise AuditError(f"cannot open the checkpoint file {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "r+b") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)  # the scheduler and a manual `audit checkpoint` never interleave
        existing = read_checkpoints(path)
        if existing.problems:
            raise AuditError("refusing to checkpoint: " + existing.problems[0] + " (run `flask audit verify`)")
        prev = existing.checkpoints[-1] if existing.checkpoints else None
        walk = _walk(session, anchors=[prev] if prev else [], start=prev)
        if walk.problems:
            raise AuditError("refusing to checkpoint: " + walk.problems[0])
        body = {
            "v": CHECKPOINT_VERSION, "seq": (prev.seq if prev else 0) + 1, "at": now.isoformat(),
            "last_id": walk.last_id, "last_mac": walk.last_mac, "rows": walk.count,
            "legacy_last_id": walk.legacy_last_id, "prev": prev.line_digest if prev else None, "kid": kid,
        }
        line = json.dumps({**body, "sig": _b64(private.sign(_canonical(body)))}, sort_keys=True,
                          separators=(",", ":")).encode()
        fh.write(line + b"\n")
        fh.flush()
        os.fsync(fh.fileno())
    return Checkpoint(seq=body["seq"], at=body["at"], last_id=body["last_id"], last_mac=body["last_mac"],
                      rows=body["rows"], legacy_last_id=body["legacy_last_id"],
                      line_no=(prev.line_no if prev else 0) + 1, line_digest=hashlib.sha256(line).hexdigest())


# --- verification --------------------------------------------------------------------------------

@dataclass
class _Walk:
    count: int = 0
    last_id: int = 0
    last_mac: str = GENESIS
    legacy_last_id: int = 0
    problems: list[str] = field(default_factory=list)
    anchors_seen: set[int] = field(default_factory=set)


def _walk(session: Session, *, anchors: list[Checkpoint], start: Checkpoint | None = None,
          batch: int = 5000) -> _Walk:
    """Walk the chain from the genesis (or from a trusted checkpoint), checking links, MACs and anchors.

    Stops at the first broken row: what follows it can no longer be trusted anyway."""
    ring = keyring()
    by_id: dict[int, list[Checkpoint]] = {}
    for cp in anchors:
        by_id.setdefault(cp.last_id, []).append(cp)
    w = _Walk()
    prev, after_id = GENESIS, 0
    if start is not None and start.last_id:
        row = session.execute(select(AuditEvent.hash).where(AuditEvent.id == start.last_id)).scalar()
        if row is None or not hmac.compare_digest(row, start.last_mac):
            w.problems.append(_anchor_problem(session, start, row is None))
            return w
        w.anchors_seen.add(start.last_id)
        prev, after_id = start.last_mac, start.last_id
        w.count, w.last_id, w.last_mac, w.legacy_last_id = start.rows, start.last_id, start.last_mac, \
            start.legacy_last_id
    keyed_seen = w.last_id > w.legacy_last_id
    columns = [getattr(AuditEvent, c) for c in ("id", "prev_hash", "hash", "key_id", *_FIELDS)]
    while True:
        rows = session.execute(  # plain column rows, not ORM objects: twice as fast on a long trail
            select(*columns).where(AuditEvent.id > after_id).order_by(AuditEvent.id).limit(batch)
        ).all()
        if not rows:
            break
        for row in rows:
            fields = {c: getattr(row, c) for c in _FIELDS}
            if row.prev_hash != prev:
                w.problems.append(f"row {row.id}: previous-hash link broken (a row was removed or reordered)")
                return w
            if row.key_id is None:
                if keyed_seen:
                    w.problems.append(f"row {row.id}: unkeyed (plain SHA-256) row after keyed rows: the trail was "
                                      "rewritten by someone without the audit key")
                    return w
                expected = row_hash(prev, fields)
                w.legacy_last_id = row.id
            else:
                key = ring.keys.get(row.key_id)
                if key is None:
                    w.problems.append(f"row {row.id}: chained with key id {row.key_id}, which is not configured "
                                      "(a retired key belongs in AUDIT_HMAC_OLD_KEYS)")
                    return w
                expected = row_mac(key, prev, fields)
                keyed_seen = True
            if not hmac.compare_digest(expected, row.hash):
                w.problems.append(f"row {row.id}: content does not match its MAC (row was altered, or its MAC "
                                  "recomputed without the key)")
                return w
            prev = row.hash
            w.count += 1
            w.last_id, w.last_mac = row.id, row.hash
            for cp in by_id.get(row.id, ()):
                w.anchors_seen.add(row.id)
                if not hmac.compare_digest(cp.last_mac, row.hash):
                    w.problems.append(_anchor_problem(session, cp, False))
                elif cp.rows != w.count or cp.legacy_last_id != w.legacy_last_id:
                    w.problems.append(
                        f"checkpoint #{cp.seq} ({cp.at}) counted {cp.rows} rows up to row {cp.last_id}, the trail "
                        f"now has {w.count}: the trail was rewritten")
            if w.problems:
                return w
            after_id = row.id
    return w


def _anchor_problem(session: Session, cp: Checkpoint, missing: bool) -> str:
    name = f"checkpoint #{cp.seq} ({cp.at})"
    if not missing:
        return f"{name}: row {cp.last_id}'s MAC differs from the signed one: the trail was rewritten"
    max_id, total = session.execute(select(func.max(AuditEvent.id), func.count()).select_from(AuditEvent)).one()
    if (max_id or 0) < cp.last_id:
        return (f"{name} covers {cp.rows} rows up to row {cp.last_id}, but the trail ends at row {max_id or 0} "
                f"with {total} rows: the newest rows were deleted (truncated)")
    return f"{name}: row {cp.last_id} no longer exists: the trail was rewritten"


def verify(session: Session | None = None, batch: int = 5000) -> tuple[bool, int, str]:
    """Walk the chain and check it against every signed checkpoint.

    Returns (ok, rows checked, message): one line per problem found, or "audit chain intact" with what
    the checkpoints cover."""
    session = session or db.session()
    cps = read_checkpoints()
    walk = _walk(session, anchors=cps.checkpoints, batch=batch)
    problems = list(walk.problems) + cps.problems
    if not walk.problems:
        for cp in cps.checkpoints:
            if cp.last_id not in walk.anchors_seen and cp.last_id:
                problems.append(_anchor_problem(session, cp, True))
        if walk.legacy_last_id and not any(cp.last_id >= walk.legacy_last_id for cp in cps.checkpoints):
            # Without a signed seal, "legacy" rows are exactly what a rewrite without the key looks like.
            problems.append(f"rows 1..{walk.legacy_last_id} are unkeyed (plain SHA-256) and no signed checkpoint "
                            "seals them: the trail was rewritten without the audit key, or this installation was "
                            "upgraded and `flask audit checkpoint` has not run yet")
    if problems:
        return False, walk.count, "audit trail NOT intact:\n" + "\n".join(f"- {p}" for p in problems)
    lines = [f"audit chain intact: {walk.count} rows"]
    if walk.legacy_last_id:
        lines.append(f"rows 1..{walk.legacy_last_id} predate keyed MACs (plain SHA-256), sealed by a checkpoint")
    if cps.checkpoints:
        latest = cps.checkpoints[-1]
        lines.append(f"{len(cps.checkpoints)} signed checkpoints verified; the latest (#{latest.seq}, "
                     f"{latest.at}) covers rows up to {latest.last_id}; {walk.count - latest.rows} rows since")
    else:
        lines.append(f"warning: no checkpoints in {checkpoint_path()}: truncation cannot be detected "
                     "(schedule `flask audit checkpoint`)")
    return True, walk.count, "\n".join(lines)


def iter_events(stmt) -> Iterator[AuditEvent]:
    yield from db.session.execute(stmt).scalars()
