"""Post node: keep the last good watchlist, encrypted at rest, and screen crossings against it offline.

The post accepts a signed document only if its signature verifies with a trusted key, its post binding
is this post, and its number follows on: an extract must be newer than what the post holds, a delta
must continue exactly from it (prev_seq == held seq). Anything else raises DocumentRefused with the
reason, and the held watchlist is left as it was. The store is one file, AES-256-GCM encrypted with
POST_EXTRACT_KEY (or a development key in the instance folder) and replaced atomically.

Screening calls the same engine as headquarters (CandidateIndex.screen, matching.match_prepared via the
index) with the threshold headquarters signed into the document, so the same identity gets the same
score, explanations and priority at both ends.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import threading
import zlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from flask import current_app

from screening.engine.index import CandidateIndex
from screening.engine.matching import DEFAULT, Identity, MatchConfig
from screening.services import flag_priority
from screening.watchlist import trusted_keys
from screening.watchlist_format import DocumentRefused, entry_identity, entry_review_date, verify
from tip_cases import audit

_MAGIC = b"TSW1"
_AAD = b"tsela post watchlist store v1"


class StoreError(RuntimeError):
    """The local store cannot be read: wrong or missing key, or the file is damaged."""


# --- encrypted store ----------------------------------------------------------------------------------

def parse_key(value: str) -> bytes:
    std = value.strip().replace("-", "+").replace("_", "/")
    try:
        key = base64.b64decode(std + "=" * (-len(std) % 4), validate=True)
    except ValueError as exc:
        raise StoreError("POST_EXTRACT_KEY is not base64") from exc
    if len(key) != 32:
        raise StoreError("POST_EXTRACT_KEY must be the base64 of 32 random bytes")
    return key


def new_key_text() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


class EncryptedStore:
    """One file holding the post's watchlist state as AES-256-GCM ciphertext (zlib-compressed JSON)."""

    def __init__(self, path: Path, key: bytes) -> None:
        self.path = Path(path)
        self.key = key

    def save(self, state: dict[str, Any]) -> None:
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        nonce = secrets.token_bytes(12)
        plain = zlib.compress(json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode(), 6)
        blob = _MAGIC + nonce + AESGCM(self.key).encrypt(nonce, plain, _AAD)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(blob)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.path)  # atomic: a crash leaves the old file or the new one, never half of one

    def load(self) -> dict[str, Any] | None:
        from cryptography.exceptions import InvalidTag
        from cryptography.hazmat.primitives.ciphers.aead import AESGCM

        if not self.path.exists():
            return None
        blob = self.path.read_bytes()
        if not blob.startswith(_MAGIC) or len(blob) < len(_MAGIC) + 12 + 16:
            raise StoreError(f"{self.path} is not a post watchlist store")
        nonce, body = blob[4:16], blob[16:]
        try:
            plain = AESGCM(self.key).decrypt(nonce, body, _AAD)
        except InvalidTag as exc:
            raise StoreError(f"{self.path} cannot be decrypted: wrong POST_EXTRACT_KEY, or the file was altered") \
                from exc
        return json.loads(zlib.decompress(plain))


# --- the held watchlist and local screening ---------------------------------------------------------------

@dataclass
class LocalFlag:
    """A hit at the post: what the officer sees. A discreet entry shows the action, never a reason."""

    person_id: int
    score: float
    priority: str
    category: str
    alert_kind: str
    discreet: bool
    action: str
    reason: str
    features: list[dict[str, Any]] = field(default_factory=list)

    @property
    def explanations(self) -> list[str]:
        """Ranked as the API ranks a flag's (screening.api.flag_json): strongest evidence first."""
        ranked = sorted(self.features, key=lambda f: -abs(f.get("contribution") or 0))
        return [f["explanation"] for f in ranked if f.get("verdict") != "missing" or f.get("name") in ("name", "dob")]


class PostWatchlist:
    """The post's watchlist: the verified state, its candidate index, and the rules for accepting more."""

    def __init__(self, post_code: str, trusted: dict[str, Any], store: EncryptedStore | None = None,
                 config: MatchConfig = DEFAULT) -> None:
        self.post_code = post_code
        self.trusted = trusted
        self.store = store
        self.config = config
        self.seq = 0
        self.issued_at: str | None = None
        self.threshold = config.flag_threshold
        self.entries: dict[int, dict[str, Any]] = {}
        self.index = CandidateIndex(config)
        self._lock = threading.Lock()

    # --- loading ---------------------------------------------------------------------------------------

    def load_store(self) -> bool:
        """Read the last good state from the encrypted store; False when there is none yet."""
        if self.store is None:
            return False
        state = self.store.load()
        if state is None:
            return False
        if state.get("post") != self.post_code:
            raise StoreError(f"the store at {self.store.path} is for post {state.get('post')!r}, "
                             f"not {self.post_code!r}")
        self._install(state["seq"], state.get("issued_at"), state["threshold"],
                      {e["id"]: e for e in state["entries"]})
        return True

    def _state(self) -> dict[str, Any]:
        return {"post": self.post_code, "seq": self.seq, "issued_at": self.issued_at, "threshold": self.threshold,
                "entries": list(self.entries.values())}

    def _install(self, seq: int, issued_at: str | None, threshold: float, entries: dict[int, dict[str, Any]]) -> None:
        index = CandidateIndex(self.config)
        for e in entries.values():
            index.add(entry_identity(e))
        self.seq, self.issued_at, self.threshold, self.entries, self.index = seq, issued_at, threshold, entries, index

    def _check(self, envelope: Any, kind: str) -> dict[str, Any]:
        payload = verify(envelope, self.trusted)
        if payload.get("type") != kind:
            raise DocumentRefused("wrong_type", f"expected a {kind}, got a {payload.get('type')!r}")
        if payload.get("post") != self.post_code:
            raise DocumentRefused("wrong_post", f"this {kind} was issued for post {payload.get('post')!r}; "
                                                f"this node is post {self.post_code!r}")
        seq = payload.get("seq")
        if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
            raise DocumentRefused("malformed", "the document has no valid sequence number")
        if not isinstance(payload.get("flag_threshold"), int | float):
            raise DocumentRefused("malformed", "the document has no flag threshold")
        return payload

    def accept_extract(self, envelope: Any) -> int:
        """Replace the held watchlist with a newer full extract; returns its number."""
        with self._lock:
            payload = self._check(envelope, "extract")
            if payload["seq"] <= self.seq:
                raise DocumentRefused("replay", f"extract {payload['seq']} is not newer than the watchlist held "
                                                f"({self.seq}); kept {self.seq}")
            entries = payload.get("entries")
            if not isinstance(entries, list):
                raise DocumentRefused("malformed", "the extract has no entries")
            by_id = {e["id"]: e for e in entries}
            old = (self.seq, self.issued_at, self.threshold, self.entries, self.index)
            self._install(payload["seq"], payload.get("issued_at"), float(payload["flag_threshold"]), by_id)
            try:
                self._persist()
            except Exception:
                self.seq, self.issued_at, self.threshold, self.entries, self.index = old
                raise
            return self.seq

    def accept_delta(self, envelope: Any) -> tuple[int, int, int]:
        """Apply the next delta in place; returns (added, changed, expired)."""
        with self._lock:
            payload = self._check(envelope, "delta")
            seq, prev = payload["seq"], payload.get("prev_seq")
            if seq <= self.seq:
                raise DocumentRefused("replay", f"delta {seq} was already applied (holding {self.seq}); "
                                                f"kept {self.seq}")
            if prev != self.seq or seq != self.seq + 1:
                raise DocumentRefused("gap", f"delta {seq} continues from {prev}, but this post holds {self.seq}; "
                                             f"fetch the missing deltas or the full extract; kept {self.seq}")
            added, changed, expired = (payload.get("added"), payload.get("changed"), payload.get("expired"))
            if not all(isinstance(x, list) for x in (added, changed, expired)):
                raise DocumentRefused("malformed", "the delta must list added, changed and expired")
            undo = {e["id"]: self.entries.get(e["id"]) for e in [*added, *changed]}
            undo.update({pid: self.entries.get(pid) for pid in expired})
            old_seq, old_issued, old_threshold = self.seq, self.issued_at, self.threshold
            self._patch({pid: e for pid, e in ((e["id"], e) for e in [*added, *changed])}, expired)
            self.seq, self.issued_at, self.threshold = seq, payload.get("issued_at"), float(payload["flag_threshold"])
            try:
                self._persist()
            except Exception:
                self._patch({pid: e for pid, e in undo.items() if e is not None},
                            [pid for pid, e in undo.items() if e is None])
                self.seq, self.issued_at, self.threshold = old_seq, old_issued, old_threshold
                raise
            return len(added), len(changed), len(expired)

    def _patch(self, upserts: dict[int, dict[str, Any]], removals: list[int]) -> None:
        for pid in removals:
            if pid in self.entries:
                del self.entries[pid]
                self.index.remove(pid)
        for pid, e in upserts.items():
            self.entries[pid] = e
            self.index.add(entry_identity(e))  # replaces an id already indexed

    def _persist(self) -> None:
        if self.store is not None:
            self.store.save(self._state())

    # --- screening -------------------------------------------------------------------------------------

    def screen(self, probe: Identity, today: date | None = None) -> list[LocalFlag]:
        """Hits for one captured crossing, best first, as headquarters would raise them for the same list."""
        today = today or datetime.now(UTC).date()
        out = []
        with self._lock:
            for pid, result in self.index.screen(probe, self.threshold):
                e = self.entries.get(pid)
                review = entry_review_date(e) if e else None
                if e is None or (review is not None and review < today):
                    continue  # expired since it was published: headquarters would skip it too
                out.append(LocalFlag(
                    person_id=pid, score=round(result.score, 4),  # the threshold and priority: the pair's own
                    priority=flag_priority(e["category"], result.alone().score, self.threshold), category=e["category"],
                    alert_kind=e["alert_kind"], discreet=bool(e["discreet"]), action=e["action"],
                    reason="" if e["discreet"] else e.get("reason", ""),
                    features=[f.to_dict() for f in result.features]))
        return out

    def status(self) -> dict[str, Any]:
        return {"post": self.post_code, "seq": self.seq, "issued_at": self.issued_at, "entries": len(self.entries),
                "threshold": self.threshold}


# --- the app's post watchlist -----------------------------------------------------------------------------

def _store_for_app(app) -> EncryptedStore:
    key_text = app.config.get("POST_EXTRACT_KEY")
    if not key_text:
        with app.app_context():
            key_text = audit._instance_file_secret("post_extract_key", new_key_text)  # noqa: SLF001
    path = app.config.get("POST_EXTRACT_PATH") or str(Path(app.instance_path) / "post-watchlist.bin")
    return EncryptedStore(Path(path), parse_key(key_text))


def get_post_watchlist() -> PostWatchlist:
    """This process's post watchlist, loaded from the encrypted store on first use (never in create_app)."""
    app = current_app._get_current_object()
    held = app.extensions.get("tsela_post_watchlist")
    if held is None:
        code = app.config.get("TSELA_POST_CODE")
        if not code:
            raise StoreError("TSELA_POST_CODE is not set: a post node must know which post it is")
        held = PostWatchlist(code, trusted_keys(), _store_for_app(app))
        held.load_store()
        held = app.extensions.setdefault("tsela_post_watchlist", held)
    return held


__all__ = ["DocumentRefused", "EncryptedStore", "LocalFlag", "PostWatchlist", "StoreError", "get_post_watchlist"]
