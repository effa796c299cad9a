"""HTTP adapter for the helpdesk ticketing API (the sandbox one we ship, or a compatible one).

Retries (tenacity, exponential backoff with jitter) on timeouts, connection errors and 5xx; never
on 4xx. Every attempt sends the same Idempotency-Key, so a retry after a lost response cannot
create a second ticket.
"""

from __future__ import annotations

import httpx
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_attempt,
    wait_exponential_jitter,
)

from supportbus_contracts import Ticket
from supportbus_ticketer.errors import HelpdeskUnavailable, TicketRejected
from supportbus_ticketer.ports import TicketDraft


class _RetryableStatus(Exception):
    def __init__(self, status: int) -> None:
        super().__init__(f"helpdesk answered {status}")
        self.status = status


class HelpdeskClient:
    def __init__(
        self,
        client: httpx.AsyncClient,
        *,
        attempts: int = 4,
        initial_backoff_s: float = 0.2,
        max_backoff_s: float = 3.0,
    ) -> None:
        self._client = client
        self._attempts = attempts
        self._initial_backoff_s = initial_backoff_s
        self._max_backoff_s = max_backoff_s
        self.attempts_made = 0

    async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._attempts),
            wait=wait_exponential_jitter(
                multiplier=self._initial_backoff_s,
                max=self._max_backoff_s,
                jitter=self._initial_backoff_s,
            ),
            retry=retry_if_exception_type(
                (httpx.TimeoutException, httpx.TransportError, _RetryableStatus)
            ),
            reraise=True,
        )
        try:
            response: httpx.Response = await retrying(self._post, draft, idempotency_key)
        except (httpx.TimeoutException, httpx.TransportError, _RetryableStatus) as error:
            raise HelpdeskUnavailable(
                f"helpdesk unavailable after {self._attempts} attempts: {type(error).__name__} "
                f"{error}".strip()
            ) from error
        if response.status_code >= 400:
            raise TicketRejected(
                f"helpdesk rejected the ticket: HTTP {response.status_code} {_error_text(response)}"
            )
        try:
            data = response.json()
            return Ticket(ticket_id=data["id"], url=data["url"], status=data["status"])
        except (ValueError, KeyError, TypeError) as error:
            raise TicketRejected(f"helpdesk answered an unreadable ticket: {error}") from error

    async def _post(self, draft: TicketDraft, idempotency_key: str) -> httpx.Response:
        self.attempts_made += 1
        response = await self._client.post(
            "/v1/tickets", json=draft.model_dump(), headers={"Idempotency-Key": idempotency_key}
        )
        if response.status_code >= 500 or response.status_code == 429:
            raise _RetryableStatus(response.status_code)
        return response


def _error_text(response: httpx.Response) -> str:
    try:
        detail = response.json().get("detail", "")
    except ValueError:
        detail = ""
    return str(detail)[:300]
