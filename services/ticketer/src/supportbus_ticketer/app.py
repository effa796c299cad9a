"""Composition root of the ticketer."""

from __future__ import annotations

import httpx
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

from supportbus_runtime.kit import ServiceApp, build_service_app
from supportbus_ticketer.declaration import DECLARATION
from supportbus_ticketer.handlers import routes
from supportbus_ticketer.helpdesk_client import HelpdeskClient, check_key
from supportbus_ticketer.ports import TicketingSystem
from supportbus_ticketer.service import TicketService
from supportbus_ticketer.settings import TicketerSettings


def build_app(settings: TicketerSettings, *, tickets: TicketingSystem | None = None) -> ServiceApp:
    http: httpx.AsyncClient | None = None
    if tickets is None:
        key = settings.helpdesk_api_key()
        headers = {} if key is None else {"Authorization": f"Bearer {key.get_secret_value()}"}
        timeout = httpx.Timeout(settings.helpdesk_timeout_s)
        # A refused key stops the service here, before it consumes anything, instead of
        # dead-lettering every record.
        with httpx.Client(
            base_url=settings.helpdesk_url, headers=headers, timeout=timeout
        ) as probe:
            check_key(probe)
        http = httpx.AsyncClient(
            base_url=settings.helpdesk_url,
            headers=headers,
            timeout=timeout,
            # Records in flight call the helpdesk concurrently.
            limits=httpx.Limits(
                max_connections=settings.helpdesk_max_connections,
                max_keepalive_connections=settings.helpdesk_max_connections,
            ),
        )
        # Client spans, and the traceparent header that ties the helpdesk's spans in.
        HTTPXClientInstrumentor.instrument_client(http)
        tickets = HelpdeskClient(http)
    return build_service_app(
        DECLARATION,
        settings,
        routes(TicketService(tickets)),
        closing=[http.aclose if http else None],
    )
