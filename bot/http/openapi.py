"""The OpenAPI 3.1 description of `/api/v1`, made from the same table of endpoints that serves
it (`bot.http.api.ENDPOINTS`), so it cannot describe a route that is not there."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bot import __version__

if TYPE_CHECKING:
    from bot.http.api import Endpoint

_PARAM = re.compile(r"{([a-z_]+)}")

_QUESTION = {
    "type": "object",
    "required": ["field", "question", "type"],
    "properties": {
        "field": {"type": "string"},
        "question": {"type": "string"},
        "type": {"type": "string"},
        "required": {"type": "boolean"},
        "expected": {"type": "string"},
        "choices": {"type": "array", "items": {"type": "string"}},
        "example": {"type": "string"},
        "error": {"type": "string"},
        "reason": {"type": "string"},
    },
}
_TICKET = {
    "type": "object",
    "required": ["number", "status", "questions"],
    "properties": {
        "number": {"type": "integer"},
        "status": {"type": "string"},
        "title": {"type": "string"},
        "procedure": {"type": "string"},
        "questions": {"type": "array", "items": {"$ref": "#/components/schemas/Question"}},
        "summary": {"type": "array", "items": {"type": "object"}},
    },
}
_PROBLEM = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "field": {"type": "string"},
    },
}


def document(endpoints: Sequence[Endpoint], prefix: str) -> dict[str, Any]:
    """The description of `endpoints` served under `prefix`."""
    paths: dict[str, dict[str, Any]] = {}
    for e in endpoints:
        operation: dict[str, Any] = {
            "operationId": e.name,
            "summary": e.summary,
            "x-scope": e.scope,
            "parameters": _parameters(e),
            "responses": _responses(e),
        }
        if e.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": e.body}},
            }
        paths.setdefault(prefix + e.path, {})[e.method.lower()] = operation
    return {
        "openapi": "3.1.0",
        "info": {"title": "sopbot write API", "version": __version__},
        "paths": paths,
        "components": {
            "schemas": {"Question": _QUESTION, "Ticket": _TICKET, "Problem": _PROBLEM},
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
    }


def _parameters(e: Endpoint) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = []
    for name in _PARAM.findall(e.path):
        kind = "integer" if name == "number" else "string"
        params.append({"name": name, "in": "path", "required": True, "schema": {"type": kind}})
    for name, kind in e.query:
        params.append({"name": name, "in": "query", "required": False, "schema": {"type": kind}})
    if e.idempotent_key:
        params.append(
            {
                "name": "Idempotency-Key",
                "in": "header",
                "required": False,
                "schema": {"type": "string", "maxLength": 200},
            }
        )
    return params


def _responses(e: Endpoint) -> dict[str, Any]:
    problem = {
        "content": {
            "application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}
        }
    }
    ok = "201" if e.name in ("open_ticket", "comment") else "200"
    schema = (
        {"$ref": "#/components/schemas/Ticket"}
        if e.path.startswith("/tickets/") or e.name == "open_ticket"
        else {"type": "object"}
    )
    out: dict[str, Any] = {
        ok: {"description": "OK", "content": {"application/json": {"schema": schema}}},
        "401": {"description": "No valid token", **problem},
        "403": {"description": "Missing scope or another team's chat", **problem},
    }
    if e.method == "POST" or "{number}" in e.path:
        for status in ("404", "409", "422"):
            out[status] = {"description": "Problem", **problem}
    return out
