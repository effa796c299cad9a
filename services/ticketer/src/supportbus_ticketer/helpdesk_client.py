"""HTTP adapter for the helpdesk ticketing API (the sandbox one we ship, or a compatible one).

One attempt per call: timeouts, connection errors, 429 and 5xx become ``HelpdeskUnavailable`` (a
``TransientError``), which the delivery policy retries with backoff within its budget
(``TICKETER_RETRY_*``) — the one owner of retries, so a record costs at most
``TICKETER_RETRY_ATTEMPTS`` POSTs. Other 4xx become ``TicketRejected`` (dead-lettered at once).
Every attempt sends the same Idempotency-Key, so a retry after a lost response cannot create a
second ticket.
"""

from __future__ import annotations

import httpx

from supportbus_contracts import Ticket
from supportbus_ticketer.errors import HelpdeskUnavailable, TicketRejected
from supportbus_ticketer.ports import TicketDraft


class HelpdeskClient:
    def __init__(self, client: httpx.AsyncClient) -> None:
        self._client = client
        self.attempts_made = 0

    async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
        self.attempts_made += 1
        try:
            response = await self._client.post(
                "/v1/tickets",
                json=draft.model_dump(),
                headers={"Idempotency-Key": idempotency_key},
            )
        except httpx.TransportError as error:  # timeouts included
            raise HelpdeskUnavailable(
                f"helpdesk unreachable: {type(error).__name__} {error}".strip()
            ) from error
        if response.status_code >= 500 or response.status_code == 429:
            raise HelpdeskUnavailable(f"helpdesk answered {response.status_code}")
        if response.status_code >= 400:
            raise TicketRejected(
                f"helpdesk rejected the ticket: HTTP {response.status_code} {_error_text(response)}"
            )
        try:
            data = response.json()
            return Ticket(
                ticket_id=data["id"],
                url=data["url"],
                status=data["status"],
                # The helpdesk's own timestamp, the same on every replay of the key: it dates the
                # TicketCreated event, so a redelivery yields the very same event.
                created_at=data.get("created_at"),
            )
        except (ValueError, KeyError, TypeError) as error:
            raise TicketRejected(f"helpdesk answered an unreadable ticket: {error}") from error


def _error_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        detail = ""
    return str(detail)[:300]
