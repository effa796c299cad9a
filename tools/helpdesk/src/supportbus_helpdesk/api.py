"""The helpdesk's HTTP API. ``build_api`` is a factory with no I/O: the store is opened when the
app starts (lifespan) and closed when it stops, so importing this module is always safe."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http import HTTPStatus
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, FastAPI, Header, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from supportbus_contracts import ReplyRoute
from supportbus_helpdesk import __version__
from supportbus_helpdesk.auth import SCOPES, ApiKey, ApiKeyRing, Scope
from supportbus_helpdesk.errors import Forbidden, InvalidIdempotencyKey, Unauthenticated
from supportbus_helpdesk.fault_control import LocalOnlyControl, build_fault_control_router
from supportbus_helpdesk.faults import (
    FaultInjector,
    FaultPlan,
    FaultRates,
    parse_fault_header,
)
from supportbus_helpdesk.http_errors import ERROR_DOCS, install_error_handlers
from supportbus_helpdesk.schemas import (
    KeyOut,
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

# Bounds of a listing's paging. SQLite takes 64-bit integers only: an offset past that is a 500
# unless refused here; nobody pages a billion tickets deep.
MAX_PAGE_SIZE = 200
MAX_OFFSET = 1_000_000_000
# The Idempotency-Key header as documented: required. The endpoint itself declares it optional
# (and hides that declaration) so that a missing key is answered with the documented 400
# ``invalid_idempotency_key`` the ticketer relies on, not with a generic 422.
_IDEMPOTENCY_KEY_PARAMETER = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": True,
    "description": (
        "A unique key per ticket, reused when retrying the same request. Missing, blank or too "
        "long: 400 invalid_idempotency_key."
    ),
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_IDEMPOTENCY_KEY_CHARS,
        "pattern": r"\S",
    },
}
# auto_error off: a missing or malformed header is answered by ``_authorised`` with the
# documented error body, not FastAPI's own.
_BEARER = HTTPBearer(
    auto_error=False, description="An API key the helpdesk holds (HELPDESK_API_KEYS_FILE)."
)
# What ``_authorised`` returns when the operator turned authentication off.
_ANYONE = ApiKey(name="anyone", scopes=SCOPES, digest=b"")


def build_api(settings: HelpdeskSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.keys = (
            None if settings.api_keys_file is None else ApiKeyRing.from_file(settings.api_keys_file)
        )
        store = TicketStore(settings.db_path)
        app.state.store = store
        try:
            yield
        finally:
            store.close()

    app = FastAPI(title="supportbus helpdesk (sandbox)", version=__version__, lifespan=lifespan)
    install_error_handlers(app)
    faults = _build_fault_injector(settings)
    app.include_router(_build_router(settings, faults))
    if faults is not None:
        app.include_router(
            build_fault_control_router(faults), dependencies=[_authorised("faults:write")]
        )
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


def _authorised(scope: Scope | None) -> Any:
    """A dependency that lets a request through only with a key holding ``scope`` (None: any
    valid key)."""

    async def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_BEARER)],
    ) -> ApiKey:
        keys = cast(ApiKeyRing | None, request.app.state.keys)
        if keys is None:
            return _ANYONE
        if credentials is None:
            raise Unauthenticated("send an API key: Authorization: Bearer <key>")
        key = keys.authenticate(credentials.credentials)
        if key is None:
            raise Unauthenticated("the API key is not one this helpdesk holds")
        if scope is not None and scope not in key.scopes:
            raise Forbidden(f"the API key '{key.name}' does not have the scope {scope}")
        return key

    return Depends(check)


def _build_router(settings: HelpdeskSettings, faults: FaultInjector | None) -> APIRouter:
    router = APIRouter()
    base_url = settings.public_base_url

    # Endpoints are plain ``def`` where they only do store work: sqlite3 blocks, so FastAPI runs
    # them in its thread pool instead of stalling the event loop.

    @router.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/v1/whoami", responses=ERROR_DOCS)
    async def whoami(key: Annotated[ApiKey, _authorised(None)]) -> KeyOut:
        """Who the presented key is and what it may do: clients check their key at start."""
        return KeyOut(name=key.name, scopes=sorted(key.scopes))

    @router.post(
        "/v1/tickets",
        status_code=HTTPStatus.CREATED,
        dependencies=[_authorised("tickets:create")],
        responses={
            HTTPStatus.OK.value: {"model": TicketOut, "description": "Replay of an earlier create"},
            **ERROR_DOCS,
        },
        openapi_extra={"parameters": [_IDEMPOTENCY_KEY_PARAMETER]},
    )
    async def create_ticket(
        payload: TicketCreate,
        response: Response,
        store: StoreDependency,
        idempotency_key: Annotated[str | None, Header(include_in_schema=False)] = None,
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

    @router.get("/v1/tickets", responses=ERROR_DOCS, dependencies=[_authorised("tickets:read")])
    def list_tickets(
        store: StoreDependency,
        limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
        offset: Annotated[int, Query(ge=0, le=MAX_OFFSET)] = 0,
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

    @router.get(
        "/v1/tickets/{ticket_id}", responses=ERROR_DOCS, dependencies=[_authorised("tickets:read")]
    )
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
