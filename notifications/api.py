"""Partner-facing API: acknowledgements. Partners are neither Tsela users nor border systems; they
authenticate with their agency's token (issued on the agency page or `flask notifications partner-token`)."""

from __future__ import annotations

from flask import Blueprint, jsonify, request
from sqlalchemy import select

from notifications import services
from notifications.models import OutboxMessage
from tip_cases.extensions import csrf, db, utcnow

bp = Blueprint("notifications_api", __name__, url_prefix="/api/v1/notifications")


@bp.route("/<message_id>/ack", methods=["POST"])
@csrf.exempt
def api_ack(message_id: str):
    """Partner acknowledgement over the API: `Authorization: Bearer <agency token>`; an agency may only
    acknowledge its own messages. Public to the user/API-client policy: partners authenticate here."""
    header = request.headers.get("Authorization", "")
    agency = services.agency_for_token(header[7:].strip()) if header.startswith("Bearer ") else None
    if agency is None:
        resp = jsonify(error="unauthorized", message="Send the agency token: Authorization: Bearer <token>.")
        resp.headers["WWW-Authenticate"] = 'Bearer realm="tsela-partners"'
        return resp, 401
    msg = db.session.execute(select(OutboxMessage).where(OutboxMessage.message_id == message_id)).scalar()
    if msg is None or msg.agency_id != agency.id:
        return jsonify(error="not_found", message="No such message for this agency."), 404
    try:
        first = services.acknowledge(msg, by=f"agency:{agency.id}", via="api", now=utcnow())
    except services.NotificationError as exc:
        db.session.rollback()
        return jsonify(error="invalid", field="message_id", message=str(exc)), 422
    db.session.commit()
    return jsonify(acknowledged=True, first=first, message_id=msg.message_id,
                   acknowledged_at=msg.acknowledged_at.isoformat())
