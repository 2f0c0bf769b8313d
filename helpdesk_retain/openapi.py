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

from . import schemas


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
