"""The helpdesk's HTTP API. ``build_api`` is a factory with no I/O: the store is opened when the
app starts (lifespan) and closed when it stops, so importing this module is always safe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, cast

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from supportbus_contracts import ReplyRoute
from supportbus_helpdesk import __version__
from supportbus_helpdesk.errors import (
    HelpdeskError,
    IdempotencyConflict,
    InjectedFault,
    InjectedUnavailable,
    InvalidFaultDirective,
    InvalidIdempotencyKey,
    TicketNotFound,
)
from supportbus_helpdesk.fault_control import LocalOnlyControl, build_fault_control_router
from supportbus_helpdesk.faults import (
    FaultInjector,
    FaultPlan,
    FaultRates,
    parse_fault_header,
)
from supportbus_helpdesk.schemas import (
    ErrorOut,
    TicketCreate,
    TicketDetailOut,
    TicketOut,
    TicketPage,
    ticket_url,
)
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_helpdesk.store import TicketStore

MAX_IDEMPOTENCY_KEY_CHARS = 200
REPLAYED_HEADER = "Idempotent-Replayed"

# Domain errors → (HTTP status, machine-readable code). Looked up along the exception's MRO.
_ERROR_RESPONSES: dict[type[HelpdeskError], tuple[int, str]] = {
    InvalidIdempotencyKey: (HTTPStatus.BAD_REQUEST, "invalid_idempotency_key"),
    InvalidFaultDirective: (HTTPStatus.BAD_REQUEST, "invalid_fault_directive"),
    TicketNotFound: (HTTPStatus.NOT_FOUND, "ticket_not_found"),
    IdempotencyConflict: (HTTPStatus.CONFLICT, "idempotency_conflict"),
    InjectedFault: (HTTPStatus.INTERNAL_SERVER_ERROR, "injected_fault"),
    InjectedUnavailable: (HTTPStatus.SERVICE_UNAVAILABLE, "injected_fault"),
}
_ERROR_DOCS: dict[int | str, dict[str, object]] = {
    code: {"model": ErrorOut} for code in (400, 404, 409, 500, 503)
}


def build_api(settings: HelpdeskSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        store = TicketStore(settings.db_path)
        app.state.store = store
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="supportbus helpdesk (sandbox)", version=__version__, lifespan=lifespan)
    app.add_exception_handler(HelpdeskError, _helpdesk_error_response)  # type: ignore[arg-type]
    faults = _build_fault_injector(settings)
    app.include_router(_build_router(settings, faults))
    if faults is not None:
        app.include_router(build_fault_control_router(faults))
        app.add_middleware(LocalOnlyControl)
    return app


def _build_fault_injector(settings: HelpdeskSettings) -> FaultInjector | None:
    if not settings.faults_enabled:
        return None
    rates = FaultRates(
        rate_5xx=settings.faults_5xx_rate,
        slow_create_rate=settings.faults_slow_create_rate,
        slow_create_s=settings.faults_slow_create_s,
    )
    return FaultInjector(rates, seed=settings.faults_seed)


# async: a plain attribute read; as a sync dependency it would cost a thread-pool hop per request.
async def _get_store(request: Request) -> TicketStore:
    return cast(TicketStore, request.app.state.store)


StoreDependency = Annotated[TicketStore, Depends(_get_store)]


def _build_router(settings: HelpdeskSettings, faults: FaultInjector | None) -> APIRouter:
    router = APIRouter()
    base_url = settings.public_base_url

    # Endpoints are plain ``def`` where they only do store work: sqlite3 blocks, so FastAPI runs
    # them in its thread pool instead of stalling the event loop.

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.post(
        "/v1/tickets",
        status_code=HTTPStatus.CREATED,
        responses={
            HTTPStatus.OK.value: {"model": TicketOut, "description": "Replay of an earlier create"},
            **_ERROR_DOCS,
        },
    )
    async def create_ticket(
        payload: TicketCreate,
        response: Response,
        store: StoreDependency,
        idempotency_key: Annotated[str | None, Header()] = None,
        x_fault: Annotated[
            str | None, Header(description="Test-only; see supportbus_helpdesk.faults")
        ] = None,
    ) -> TicketOut:
        # async so injected waits are event-loop sleeps that hold no worker thread; the store
        # call itself still runs in the thread pool.
        key = _require_idempotency_key(idempotency_key)
        rate_faults = faults is not None and await _faults_before_create(faults, x_fault)
        ticket, created = await run_in_threadpool(store.create_ticket, key, payload.to_fields())
        if faults is not None:
            # The ticket is committed and the store's lock released before this wait, so other
            # requests (a retry with the same key included) go ahead meanwhile.
            hold_back_s = faults.after_create(created=created, rate_faults=rate_faults)
            if hold_back_s > 0:
                await asyncio.sleep(hold_back_s)
        if not created:
            response.status_code = HTTPStatus.OK
            response.headers[REPLAYED_HEADER] = "true"
        response.headers["Location"] = ticket_url(base_url, ticket.id)
        return TicketOut.of(ticket, base_url)

    @router.get("/v1/tickets", responses=_ERROR_DOCS)
    def list_tickets(
        store: StoreDependency,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
        offset: Annotated[int, Query(ge=0)] = 0,
        status: Annotated[str | None, Query(min_length=1, max_length=32)] = None,
        queue: Annotated[ReplyRoute | None, Query(description="human: the handoff queue.")] = None,
    ) -> TicketPage:
        # The page and the total are two reads; tickets created in between can make them
        # disagree by a few, which is acceptable for a listing.
        tickets = store.list(limit=limit, offset=offset, status=status, queue=queue)
        return TicketPage(
            items=[TicketOut.of(ticket, base_url) for ticket in tickets],
            total=store.count(status=status, queue=queue),
        )

    @router.get("/v1/tickets/{ticket_id}", responses=_ERROR_DOCS)
    def get_ticket(ticket_id: str, store: StoreDependency) -> TicketDetailOut:
        return TicketDetailOut.of(store.get(ticket_id), base_url)

    return router


async def _faults_before_create(faults: FaultInjector, x_fault: str | None) -> bool:
    """Run the pre-write faults of a create; returns whether rate-based faults apply to it.

    A header that asks for a fault gets exactly that fault and nothing drawn on top.
    """
    plan = parse_fault_header(x_fault) if x_fault else FaultPlan()
    if plan.injects_anything:
        faults.record_header_fault()
        await plan.apply()
        return False
    faults.before_create()
    return True


def _require_idempotency_key(value: str | None) -> str:
    if value is None or not value.strip():
        raise InvalidIdempotencyKey(
            "the Idempotency-Key header is required: send a unique key per ticket and reuse it "
            "when retrying the same request"
        )
    if len(value) > MAX_IDEMPOTENCY_KEY_CHARS:
        raise InvalidIdempotencyKey(
            f"the Idempotency-Key header must be at most {MAX_IDEMPOTENCY_KEY_CHARS} characters"
        )
    return value


async def _helpdesk_error_response(request: Request, error: HelpdeskError) -> JSONResponse:
    status_code, code = next(
        (_ERROR_RESPONSES[cls] for cls in type(error).__mro__ if cls in _ERROR_RESPONSES),
        (HTTPStatus.INTERNAL_SERVER_ERROR, "helpdesk_error"),
    )
    body = ErrorOut(error=code, detail=str(error))
    return JSONResponse(status_code=status_code, content=body.model_dump())
