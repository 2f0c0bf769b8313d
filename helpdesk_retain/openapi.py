"""OpenAPI 3.1 generated from the pydantic models in ``schemas.py``.

Why not spectree or flask-openapi3: both answer validation errors in their own shape, while
CONTRACT.md fixes ``{"error", "detail"}`` for every error; pydantic already emits JSON Schema 2020-12,
which is what OpenAPI 3.1 uses, so a route table plus ``models_json_schema`` is all that is needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import followups_schemas, schemas
from .digest import schemas as digest_schemas
from .notify import schemas as notify_schemas
from .saves import schemas as save_schemas
from .tagging import schemas as tagging_schemas
from .tat import schemas as tat_schemas


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    response: type[BaseModel] | None
    status: int = 200
    request: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    errors: tuple[int, ...] = (401,)
    auth: bool = True
    tags: tuple[str, ...] = field(default_factory=tuple)


OPERATIONS: list[Operation] = [
    Operation(
        "post",
        "/webhooks/{source}",
        "Receive a signed webhook delivery",
        schemas.WebhookAnswer,
        202,
        errors=(401, 404, 413, 415, 422, 503),
        auth=False,
        tags=("webhooks",),
    ),
    Operation(
        "get",
        "/api/tickets/{source}/{external_id}",
        "One ticket",
        schemas.TicketOut,
        errors=(401, 404),
        tags=("tickets",),
    ),
    Operation(
        "get",
        "/api/tickets",
        "A page of tickets, newest first",
        schemas.TicketPage,
        query=schemas.TicketListQuery,
        errors=(401, 422),
        tags=("tickets",),
    ),
    Operation(
        "get",
        "/api/reminders",
        "Follow-up reminders for fixed bugs, oldest due first",
        followups_schemas.ReminderPage,
        query=followups_schemas.ReminderListQuery,
        errors=(401, 422),
        tags=("reminders",),
    ),
    Operation(
        "post",
        "/api/reminders/{id}/done",
        "Mark a follow-up done (the customer was told)",
        followups_schemas.ReminderOut,
        errors=(401, 404, 409),
        tags=("reminders",),
    ),
    Operation(
        "post",
        "/api/saves",
        "Record a save on a ticket (marking it again updates it)",
        save_schemas.SaveRecordedOut,
        201,
        request=save_schemas.SaveIn,
        errors=(401, 404, 415, 422),
        tags=("saves",),
    ),
    Operation(
        "get",
        "/api/saves",
        "Saves made in a period, newest first, with totals per currency",
        save_schemas.SavesPageOut,
        query=save_schemas.SavesQuery,
        errors=(401, 422),
        tags=("saves",),
    ),
    Operation(
        "get",
        "/api/retention",
        "Retention figures for a period: saves, save rate, CRR, CLV of saves",
        save_schemas.RetentionOut,
        query=save_schemas.PeriodQuery,
        errors=(401, 422),
        tags=("saves",),
    ),
    Operation(
        "get",
        "/api/tat/attainment",
        "TAT attainment per policy and metric in a period: met / (met + breached)",
        tat_schemas.AttainmentOut,
        query=tat_schemas.AttainmentQuery,
        errors=(401, 422),
        tags=("tat",),
    ),
    Operation(
        "get",
        "/api/digest/{week}",
        "The weekly digest's figures for an ISO week (YYYY-Www) in [digest].timezone",
        digest_schemas.DigestOut,
        errors=(401, 422),
        tags=("digest",),
    ),
    Operation(
        "post",
        "/api/tickets/{source}/{external_id}/complaint",
        "Override the complaint rules for a ticket (the ticket then shows source: agent)",
        schemas.TicketOut,
        request=tagging_schemas.ComplaintIn,
        errors=(401, 404, 415, 422),
        tags=("tickets",),
    ),
    Operation(
        "delete",
        "/api/tickets/{source}/{external_id}/complaint",
        "Remove the agent's complaint override: help-desk tags and rules decide again",
        schemas.TicketOut,
        errors=(401, 404),
        tags=("tickets",),
    ),
    Operation(
        "get",
        "/api/customers",
        "At-risk customers with their reasons, most recurring revenue first",
        tagging_schemas.AtRiskPage,
        query=tagging_schemas.AtRiskQuery,
        errors=(401, 422),
        tags=("customers",),
    ),
    Operation(
        "get",
        "/api/messages",
        "Outbound messages (reminders, alerts, digests) and their delivery state, newest first",
        notify_schemas.MessagePage,
        query=notify_schemas.MessageListQuery,
        errors=(401, 422),
        tags=("messages",),
    ),
    Operation(
        "post",
        "/api/messages/{id}/retry",
        "Send a failed message again (attempts start over)",
        notify_schemas.MessageOut,
        errors=(401, 404, 409),
        tags=("messages",),
    ),
]


def build_spec(operations: list[Operation] | None = None) -> dict[str, Any]:
    operations = OPERATIONS if operations is None else operations
    models = {schemas.ErrorOut}
    for op in operations:
        models.update(m for m in (op.response, op.request) if m is not None)
    ordered = sorted(models, key=lambda m: m.__name__)
    keyed, defs = models_json_schema(
        [(m, "validation" if _is_request(m, operations) else "serialization") for m in ordered],
        ref_template="#/components/schemas/{model}",
    )
    ref = {m: keyed[(m, "validation" if _is_request(m, operations) else "serialization")] for m in ordered}
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op.path, {})[op.method] = _operation(op, ref)
    return {
        "openapi": "3.1.0",
        "info": {"title": "helpdesk-retain", "version": "1"},
        "paths": paths,
        "components": {
            "schemas": defs.get("$defs", {}),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def _is_request(model: type[BaseModel], operations: list[Operation]) -> bool:
    return any(op.request is model for op in operations)


def _operation(op: Operation, ref: dict[type[BaseModel], Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op.summary, "tags": list(op.tags), "responses": {}}
    params = [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}} for name in _path_params(op.path)
    ]
    if op.query is not None:
        for name, info in op.query.model_fields.items():
            params.append(
                {
                    "name": name,
                    "in": "query",
                    "required": info.is_required(),
                    "schema": op.query.model_json_schema()["properties"][name],
                }
            )
    if params:
        out["parameters"] = params
    if op.request is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": ref[op.request]}}}
    if op.response is not None:
        out["responses"][str(op.status)] = {
            "description": "OK",
            "content": {"application/json": {"schema": ref[op.response]}},
        }
    else:
        out["responses"][str(op.status)] = {"description": "OK"}
    for code in op.errors:
        out["responses"][str(code)] = {
            "description": "Error",
            "content": {"application/json": {"schema": ref[schemas.ErrorOut]}},
        }
    if op.auth:
        out["security"] = [{"bearer": []}]
    return out


def _path_params(path: str) -> list[str]:
    return [part[1:-1] for part in path.split("/") if part.startswith("{") and part.endswith("}")]
