"""``/_faults``: read and change the rate-based faults of a running helpdesk, and its counters.

Mounted only when ``HELPDESK_FAULTS_ENABLED=true``, and then answered only to the local machine;
anyone else gets the same ``404`` as for a path that does not exist.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

from supportbus_helpdesk.faults import MAX_DELAY_S, FaultInjector

CONTROL_PATH = "/_faults"
# The IPv6 loopback is the same machine; a client that resolves "localhost" to ::1 is local too.
_LOCAL_HOSTS = frozenset({"127.0.0.1", "::1"})

# strict: "0.5" or true is a client bug, not a rate; allow_inf_nan (model config) rejects NaN.
Rate = Annotated[float, Field(strict=True, ge=0.0, le=1.0)]
Delay = Annotated[float, Field(strict=True, ge=0.0, le=MAX_DELAY_S)]


class InjectedCounts(BaseModel):
    five_xx: int = Field(serialization_alias="5xx")
    slow_create: int
    header: int


class FaultsOut(BaseModel):
    rate_5xx: float
    slow_create_rate: float
    slow_create_s: float
    injected: InjectedCounts
    creates: int = Field(description="Tickets actually written")
    replays: int = Field(description="Idempotent repeats answered with the existing ticket")


class FaultsUpdate(BaseModel):
    """Any subset of the rates; fields left out keep their value."""

    # Unknown fields are rejected: a typo ("rate_500") silently ignored would leave a chaos run
    # without the faults it believes it has.
    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    # The defaults are never applied: only fields the client sent are used (exclude_unset), and
    # an explicit null fails as "not a float".
    rate_5xx: Rate = 0.0
    slow_create_rate: Rate = 0.0
    slow_create_s: Delay = 0.0


def build_fault_control_router(faults: FaultInjector) -> APIRouter:
    # Not in the OpenAPI document: the control surface is for test harnesses on this machine.
    router = APIRouter(prefix=CONTROL_PATH, include_in_schema=False)

    def current() -> FaultsOut:
        rates, counters = faults.snapshot()
        return FaultsOut(
            rate_5xx=rates.rate_5xx,
            slow_create_rate=rates.slow_create_rate,
            slow_create_s=rates.slow_create_s,
            injected=InjectedCounts(
                five_xx=counters.injected_5xx,
                slow_create=counters.injected_slow_create,
                header=counters.injected_header,
            ),
            creates=counters.creates,
            replays=counters.replays,
        )

    # async: these only touch in-memory state, so a worker thread would be pure overhead.

    @router.get("")
    async def read_faults() -> FaultsOut:
        return current()

    @router.put("")
    async def update_faults(request: Request) -> FaultsOut:
        faults.update_rates(**_parse_update(await request.body()))
        return current()

    @router.post("/reset")
    async def reset_counters() -> FaultsOut:
        faults.reset_counters()
        return current()

    return router


class LocalOnlyControl:
    """ASGI middleware: ``/_faults`` answers ``404`` to any client that is not local.

    A middleware rather than a route dependency, because it runs before routing and body
    parsing: a remote client must not learn the path exists from a ``405`` or a ``422``.
    Behind uvicorn's proxy-header handling the client is the forwarded address, so a local
    reverse proxy that sets ``X-Forwarded-For`` does not make remote clients look local.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and _is_control_path(scope["path"]):
            client = scope.get("client")
            if client is None or client[0] not in _LOCAL_HOSTS:
                # The body FastAPI gives an unknown path, so nothing tells the two apart.
                not_found = JSONResponse({"detail": "Not Found"}, status_code=404)
                await not_found(scope, receive, send)
                return
        await self.app(scope, receive, send)


def _parse_update(body: bytes) -> dict[str, float]:
    """The fields of a ``PUT /_faults`` body that the client sent; ``422`` if it is not valid.

    Parsed here instead of by FastAPI because FastAPI's ``422`` echoes the rejected input, and
    the JSON encoder cannot write a NaN back: ``{"rate_5xx": NaN}`` would end as a ``500``.
    """
    try:
        update = FaultsUpdate.model_validate_json(body)
    except ValidationError as error:
        raise RequestValidationError(
            [
                {**detail, "loc": ("body", *detail["loc"])}
                for detail in error.errors(include_input=False, include_url=False)
            ]
        ) from None
    return update.model_dump(exclude_unset=True)


def _is_control_path(path: str) -> bool:
    return path == CONTROL_PATH or path.startswith(CONTROL_PATH + "/")
