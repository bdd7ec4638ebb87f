"""Store and forward between a post node and headquarters (docs/postnode.md, "Store and forward").

Post side: `post_outbox` holds what the post must still send (one row per HTTP request, written in the
same transaction as the capture or decision it carries), `post_flags` the flags raised at the post against
its local watchlist (keyed by headquarters' person id: a post holds no `persons` rows) and the flags
headquarters reported back. Headquarters side: `post_nodes`, what each post said about itself at its
last sync (watchlist number, backlog, clock).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from tip_cases.extensions import db, utcnow

OUTBOX_KINDS = ("crossings", "decision")
OUTBOX_STATES = ("pending", "sent", "rejected")


class PostOutbox(db.Model):
    """One request the post owes headquarters; sent oldest first, marked sent only after HQ answered."""

    __tablename__ = "post_outbox"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    idempotency_key: Mapped[str] = mapped_column(String(120), unique=True)
    body: Mapped[dict] = mapped_column(JSON)
    items: Mapped[int] = mapped_column(Integer, default=1)
    refs: Mapped[list | None] = mapped_column(JSON)  # local crossing ids (crossings) or post flag ids (decision)
    state: Mapped[str] = mapped_column(String(10), default="pending", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_attempt_at: Mapped[datetime | None] = mapped_column()
    sent_at: Mapped[datetime | None] = mapped_column()
    last_error: Mapped[str | None] = mapped_column(Text)  # why the last attempt failed, or what HQ rejected


class PostFlag(db.Model):
    """A flag as the post knows it: raised here (origin post) or told by headquarters (origin hq)."""

    __tablename__ = "post_flags"
    __table_args__ = (UniqueConstraint("crossing_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    crossing_id: Mapped[int] = mapped_column(ForeignKey("crossings.id"), index=True)
    person_id: Mapped[int] = mapped_column(Integer)  # headquarters' person id (no foreign key: not held here)
    origin: Mapped[str] = mapped_column(String(10), default="post")  # post | hq
    score: Mapped[float] = mapped_column(Float, default=0.0)
    priority: Mapped[str] = mapped_column(String(10), default="normal")
    category: Mapped[str] = mapped_column(String(30), default="")
    alert_kind: Mapped[str] = mapped_column(String(20), default="")
    discreet: Mapped[bool] = mapped_column(Boolean, default=False)
    action: Mapped[str] = mapped_column(Text, default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    features: Mapped[list | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(20), default="new")
    decided_by: Mapped[str | None] = mapped_column(String(80))
    decision_note: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column()
    hq_flag_id: Mapped[int | None] = mapped_column(Integer)
    hq_status: Mapped[str | None] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    crossing = relationship("Crossing")

    @property
    def explanations(self) -> list[str]:
        ranked = sorted(self.features or [], key=lambda f: -abs(f.get("contribution") or 0))
        return [f["explanation"] for f in ranked if f.get("verdict") != "missing"]

    @property
    def conflict(self) -> bool:
        """Decided here and at headquarters, differently (both decisions are kept)."""
        return bool(self.hq_status and self.hq_status != "new" and self.status != "new"
                    and self.hq_status != self.status)


class PostNode(db.Model):
    """Headquarters' view of one post node, updated by every sync call of the post's API client."""

    __tablename__ = "post_nodes"

    id: Mapped[int] = mapped_column(primary_key=True)
    border_post_id: Mapped[int] = mapped_column(ForeignKey("border_posts.id"), unique=True)
    api_client_id: Mapped[int | None] = mapped_column(ForeignKey("api_clients.id"))
    first_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_sync_at: Mapped[datetime | None] = mapped_column()
    watchlist_seq: Mapped[int | None] = mapped_column(Integer)
    backlog: Mapped[int | None] = mapped_column(Integer)
    post_clock: Mapped[datetime | None] = mapped_column()
    clock_drift_seconds: Mapped[float | None] = mapped_column(Float)
    reminded_at: Mapped[datetime | None] = mapped_column()  # last "not synced" reminder

    border_post = relationship("BorderPost")
    api_client = relationship("ApiClient")
