"""Every error the helpdesk answers has the documented ``ErrorOut`` body, and none echoes input.

Three sources of errors reach a client: the helpdesk's own (``HelpdeskError``), FastAPI's
request validation (``422``) and Starlette's routing and body parsing (``400``, ``405``). Their
default bodies differ from ``ErrorOut``, and FastAPI's ``422`` repeats the rejected input (a
customer's subject, e-mail address, the names of unknown fields) back to the caller and into
whatever logs the answer: here a validation error says only *where* and *what*, never the value.
"""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from supportbus_helpdesk.errors import (
    Forbidden,
    HelpdeskError,
    IdempotencyConflict,
    InjectedFault,
    InjectedUnavailable,
    InvalidFaultDirective,
    InvalidIdempotencyKey,
    TicketNotFound,
    Unauthenticated,
)
from supportbus_helpdesk.schemas import ErrorOut

# Domain errors → (HTTP status, machine-readable code). Looked up along the exception's MRO.
_ERROR_RESPONSES: dict[type[HelpdeskError], tuple[int, str]] = {
    InvalidIdempotencyKey: (HTTPStatus.BAD_REQUEST, "invalid_idempotency_key"),
    InvalidFaultDirective: (HTTPStatus.BAD_REQUEST, "invalid_fault_directive"),
    Unauthenticated: (HTTPStatus.UNAUTHORIZED, "unauthenticated"),
    Forbidden: (HTTPStatus.FORBIDDEN, "forbidden"),
    TicketNotFound: (HTTPStatus.NOT_FOUND, "ticket_not_found"),
    IdempotencyConflict: (HTTPStatus.CONFLICT, "idempotency_conflict"),
    InjectedFault: (HTTPStatus.INTERNAL_SERVER_ERROR, "injected_fault"),
    InjectedUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "injected_fault"),
}
# The answers every documented operation may give, all with the ErrorOut body. 400 covers a
# body that is not even text (not UTF-8), 422 one that is not valid for the operation.
ERROR_DOCS: dict[int | str, dict[str, Any]] = {
    code: {"model": ErrorOut} for code in (400, 401, 403, 404, 409, 422, 500, 503)
}
_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_CUSTOM_VALIDATOR_TYPES = frozenset({"value_error", "assertion_error"})
# The source of a validation error (first element of its location) → how the detail names it.
_SOURCES = {"body": "body", "query": "query parameter", "header": "header", "path": "path"}


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(HelpdeskError, _helpdesk_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error_response)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, _http_error_response)  # type: ignore[arg-type]


def error_response(
    status_code: int, code: str, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    body = ErrorOut(error=code, detail=detail)
    return JSONResponse(status_code=status_code, content=body.model_dump(), headers=headers)


async def _helpdesk_error_response(request: Request, error: HelpdeskError) -> JSONResponse:
    status_code, code = next(
        (_ERROR_RESPONSES[cls] for cls in type(error).__mro__ if cls in _ERROR_RESPONSES),
        (HTTPStatus.INTERNAL_SERVER_ERROR, "helpdesk_error"),
    )
    # RFC 9110: a 401 names the scheme the client should use.
    headers = {"WWW-Authenticate": "Bearer"} if status_code == HTTPStatus.UNAUTHORIZED else None
    return error_response(status_code, code, str(error), headers)


async def _validation_error_response(
    request: Request, error: RequestValidationError
) -> JSONResponse:
    problems = "; ".join(dict.fromkeys(describe_problem(item) for item in error.errors()))
    return error_response(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_request", problems)


def describe_problem(error: dict[str, Any]) -> str:
    """``where: what`` of one pydantic/FastAPI error, from its location and message only.

    The location stops at the declared field or parameter: anything past it (a key of a dict, an
    index, the name of an unknown field) came from the client, and so may be personal data.
    Messages of pydantic's own errors name constraints ("at most 200 characters"), not values;
    ``ctx`` and ``input`` are never read.
    """
    location: Sequence[Any] = error.get("loc", ())
    if error.get("type") == "extra_forbidden":
        location = location[:-1]  # the last element is the unknown field's name
        message = "has a field the schema does not declare (unknown fields are rejected)"
    elif error.get("type") == "json_invalid":
        location = location[:1]  # the rest is a position in the client's text
        message = "is not valid JSON"
    elif error.get("type") in _CUSTOM_VALIDATOR_TYPES:
        message = "is not valid"  # a validator's own message may quote the value
    else:
        message = str(error.get("msg", "is not valid"))
    return f"{_where(location)}: {message}"


def _where(location: Sequence[Any]) -> str:
    if not location:
        return "request"
    source, *rest = location
    label = _SOURCES.get(str(source), "request")
    field = next((part for part in rest if isinstance(part, str)), None)
    return label if field is None else f"{label} field '{field}'"


async def _http_error_response(request: Request, error: StarletteHTTPException) -> JSONResponse:
    headers = dict(error.headers or {})
    if error.status_code == HTTPStatus.METHOD_NOT_ALLOWED:
        # Starlette's Allow names the methods of the first route on the path only; one path
        # can have several routes (GET and POST /v1/tickets).
        allowed = allowed_methods(request)
        headers["Allow"] = ", ".join(allowed)
        return error_response(
            error.status_code,
            "method_not_allowed",
            f"{request.method} is not supported here; allowed: {', '.join(allowed)}",
            headers,
        )
    if error.status_code == HTTPStatus.BAD_REQUEST:
        # FastAPI's answer to a body it cannot decode at all (e.g. not UTF-8).
        return error_response(
            error.status_code, "invalid_body", "the request body could not be decoded", headers
        )
    if error.status_code == HTTPStatus.NOT_FOUND:
        # An unknown path keeps FastAPI's own body: ``LocalOnlyControl`` imitates it so that
        # a remote client cannot tell /_faults from a path that does not exist.
        return JSONResponse({"detail": "Not Found"}, status_code=error.status_code, headers=headers)
    phrase = HTTPStatus(error.status_code).phrase
    code = phrase.lower().replace(" ", "_").replace("-", "_")
    return error_response(error.status_code, code, phrase, headers)


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on the request's path.

    Probed through the router (rather than read off the routes) because included routers are
    not flattened into one list of routes in every FastAPI version.
    """
    routes = request.app.router.routes
    return [
        method
        for method in _METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes
        )
    ]
