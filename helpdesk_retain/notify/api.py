"""``GET /api/messages`` (e.g. ``?state=failed``: what could not be delivered, and why) and
``POST /api/messages/<id>/retry`` (send a failed message again, e.g. after fixing ``[smtp]``)."""

from __future__ import annotations

from flask import Response, request
from sqlalchemy import and_, or_, select, update

from ..api import ApiError, decode_cursor, encode_cursor, make_api_blueprint, respond, runtime, validate
from ..db import session_scope
from ..events import utcnow
from ..models.messages import Message
from .schemas import MessageListQuery, MessageOut, MessagePage

bp = make_api_blueprint("messages")


@bp.get("/messages")
def list_messages() -> Response:
    query: MessageListQuery = validate(MessageListQuery, request.args.to_dict())
    limit = max(1, min(query.limit, 500))
    stmt = select(Message)
    for column, value in ((Message.state, query.state), (Message.channel, query.channel), (Message.kind, query.kind)):
        if value is not None:
            stmt = stmt.where(column == value)
    if query.cursor:
        created, row_id = decode_cursor(query.cursor)
        stmt = stmt.where(or_(Message.created_at < created, and_(Message.created_at == created, Message.id < row_id)))
    stmt = stmt.order_by(Message.created_at.desc(), Message.id.desc()).limit(limit + 1)
    with session_scope(runtime().sessions) as session:
        rows = list(session.execute(stmt).scalars())
    page, more = rows[:limit], len(rows) > limit
    cursor = encode_cursor(page[-1].created_at, page[-1].id or 0) if more else None
    return respond(MessagePage, {"items": [m.model_dump(exclude={"payload"}) for m in page], "next_cursor": cursor})


@bp.post("/messages/<int:message_id>/retry")
def retry_message(message_id: int) -> Response:
    """A failed message becomes pending again with its attempts reset; any other state is a 409."""
    table = Message.__table__
    with session_scope(runtime().sessions) as session:
        result = session.execute(
            update(table)
            .where(table.c.id == message_id, table.c.state == "failed")
            .values(state="pending", attempts=0, next_attempt_at=utcnow(), failed_at=None)
        )
        row = session.get(Message, message_id)
        if row is None:
            raise ApiError(404, "unknown message", {"id": message_id})
        if not result.rowcount:
            raise ApiError(409, f"message is {row.state}, not failed", {"id": message_id, "state": row.state})
        return respond(MessageOut, row.model_dump(exclude={"payload"}))
