"""PURE: the signed watchlist documents exchanged between headquarters and post nodes.

A document is an envelope {"format", "key_id", "signature", "payload"}; the Ed25519 signature covers the
canonical JSON of the payload (sorted keys, no spaces, UTF-8), so the post verifies exactly what
headquarters signed, whatever the transport did to whitespace. A payload is either a full extract
({"type": "extract", "post", "seq", "entries"}) or a delta ({"type": "delta", "post", "seq", "prev_seq",
"added", "changed", "expired"}). Entries follow the data-minimisation profile in docs/postnode.md.

No Flask, no database: headquarters and the post both use this module, and so do the tests.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date
from typing import Any

from screening.engine.matching import Document, Identity
from screening.engine.normalize import PartialDate

ENVELOPE_FORMAT = "tsela-signed/1"
PAYLOAD_FORMAT = "tsela-watchlist/1"

# The only keys an entry may carry (docs/postnode.md, "Data-minimisation profile").
ENTRY_FIELDS = ("id", "surname", "given_names", "aliases", "dob", "sex", "nationality", "documents",
                "category", "alert_kind", "discreet", "action", "reason", "review_date")


class DocumentRefused(ValueError):  # noqa: N818 - a refusal, named for what the post does
    """The post will not use this document; `code` is stable for machines, the message is for people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code


def canonical(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def entry_hash(entry: dict[str, Any]) -> str:
    return hashlib.sha256(canonical(entry)).hexdigest()


def raw_public(public_key) -> bytes:
    from cryptography.hazmat.primitives import serialization

    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(raw_public_key: bytes) -> str:
    return hashlib.sha256(raw_public_key).hexdigest()[:16]


def sign(payload: dict[str, Any], private_key) -> dict[str, Any]:
    """Wrap a payload in a signed envelope (private_key: an Ed25519PrivateKey)."""
    signature = private_key.sign(canonical(payload))
    return {"format": ENVELOPE_FORMAT, "key_id": key_id(raw_public(private_key.public_key())),
            "signature": base64.b64encode(signature).decode(), "payload": payload}


def public_key_from_text(text: str):
    """A trusted key as configured: base64 of the raw 32-byte Ed25519 public key."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    std = text.strip().replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except ValueError as exc:
        raise ValueError(f"watchlist public key {text[:12]!r}... is not base64") from exc
    if len(raw) != 32:
        raise ValueError("a watchlist public key is the base64 of 32 raw bytes")
    return Ed25519PublicKey.from_public_bytes(raw)


def verify(envelope: Any, trusted: dict[str, Any]) -> dict[str, Any]:
    """The payload of a correctly signed envelope; DocumentRefused otherwise (trusted: key id -> public key)."""
    from cryptography.exceptions import InvalidSignature

    if not isinstance(envelope, dict) or envelope.get("format") != ENVELOPE_FORMAT:
        raise DocumentRefused("malformed", f"not a signed watchlist document (expected format {ENVELOPE_FORMAT})")
    payload = envelope.get("payload")
    if not isinstance(payload, dict):
        raise DocumentRefused("malformed", "the document has no payload")
    public_key = trusted.get(envelope.get("key_id"))
    if public_key is None:
        raise DocumentRefused("unknown_key", f"signed with key {envelope.get('key_id')!r}, which this post does "
                                             "not trust (WATCHLIST_PUBLIC_KEYS)")
    try:
        signature = base64.b64decode(str(envelope.get("signature", "")), validate=True)
        public_key.verify(signature, canonical(payload))
    except (ValueError, InvalidSignature) as exc:
        raise DocumentRefused("bad_signature", "the signature does not match the content: the document was "
                                               "altered or not issued by headquarters") from exc
    if payload.get("format") != PAYLOAD_FORMAT:
        raise DocumentRefused("malformed", f"unknown payload format {payload.get('format')!r}")
    return payload


# --- entries ------------------------------------------------------------------------------------------

def dob_to_list(dob: PartialDate | None) -> list | None:
    return None if dob is None else [dob.year, dob.month, dob.day, dob.precision]


def dob_from_list(value: list | None) -> PartialDate | None:
    if not value:
        return None
    try:
        return PartialDate(value[0], value[1], value[2], value[3] or "day")
    except (ValueError, TypeError, IndexError):
        return None  # the same as headquarters' index does with an impossible stored date


def make_entry(*, id: int, surname: str, given_names: str, aliases: list[tuple[str, str]],  # noqa: A002
               dob: PartialDate | None, sex: str | None, nationality: str | None,
               documents: list[tuple[str | None, str, str | None]], category: str, alert_kind: str,
               discreet: bool, action: str, reason: str, review_date: date | None) -> dict[str, Any]:
    """One person of interest under the minimisation profile: a discreet or protective entry never carries its
    reason (need to know: the officer at the post gets the action, headquarters keeps why)."""
    return {
        "id": id, "surname": surname or "", "given_names": given_names or "",
        "aliases": [[s or "", g or ""] for s, g in aliases], "dob": dob_to_list(dob), "sex": sex,
        "nationality": nationality, "documents": [[t, n, c] for t, n, c in documents if n],
        "category": category, "alert_kind": alert_kind, "discreet": bool(discreet), "action": action or "",
        "reason": "" if discreet or alert_kind == "protective" else (reason or ""),
        "review_date": review_date.isoformat() if review_date else None,
    }


def entry_identity(entry: dict[str, Any]) -> Identity:
    """The engine's view of an entry: built exactly as headquarters' screener builds it from the database."""
    return Identity(id=entry["id"], surname=entry.get("surname") or "", given_names=entry.get("given_names") or "",
                    aliases=[(s or "", g or "") for s, g in entry.get("aliases") or []],
                    dob=dob_from_list(entry.get("dob")), sex=entry.get("sex"),
                    nationality=entry.get("nationality"),
                    documents=[Document(t, n, c) for t, n, c in entry.get("documents") or [] if n])


def entry_review_date(entry: dict[str, Any]) -> date | None:
    value = entry.get("review_date")
    return date.fromisoformat(value) if value else None
