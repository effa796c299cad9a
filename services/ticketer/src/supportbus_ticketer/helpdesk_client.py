"""HTTP adapter for the helpdesk ticketing API (the sandbox one we ship, or a compatible one).

One attempt per call: timeouts, connection errors, 429 and 5xx become ``HelpdeskUnavailable`` (a
``TransientError``), which the delivery policy retries with backoff within its budget
(``TICKETER_RETRY_*``) — the one owner of retries, so a record costs at most
``TICKETER_RETRY_ATTEMPTS`` POSTs. Other 4xx become ``TicketRejected`` (dead-lettered at once).
Every attempt sends the same Idempotency-Key, so a retry after a lost response cannot create a
second ticket. 401/403 become ``HelpdeskKeyRefused`` (a configuration error: dead-lettered, never
retried), and ``check_key`` finds a bad key before the
first record.

Error answers are reported by status and machine-readable code only, never their detail: a
helpdesk's validation error may echo the ticket's fields (customer text) back.
"""

from __future__ import annotations

import logging
import re

import httpx

from supportbus_contracts import Ticket
from supportbus_ticketer.errors import HelpdeskKeyRefused, HelpdeskUnavailable, TicketRejected
from supportbus_ticketer.ports import TicketDraft

log = logging.getLogger(__name__)

_CREATE_SCOPE = "tickets:create"
_KEY_HINT = "check TICKETER_HELPDESK_API_KEY_FILE"
_ERROR_CODE = re.compile(r"[a-z][a-z0-9_]{0,39}")


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
        if response.status_code in (401, 403):
            raise HelpdeskKeyRefused(_refusal(response))
        if response.status_code >= 400:
            raise TicketRejected(
                f"helpdesk rejected the ticket: HTTP {response.status_code}"
                f" {_error_code(response)}".rstrip()
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


def check_key(http: httpx.Client) -> None:
    """Raise ``HelpdeskKeyRefused`` if the helpdesk refuses our key or it cannot create tickets.

    Run once at start, before any record. A helpdesk that is down (or has no ``/v1/whoami``) is
    only logged: an outage at start delays tickets, it must not stop the service.
    """
    try:
        response = http.get("/v1/whoami")
    except httpx.TransportError as error:
        log.warning("helpdesk unreachable at start (%s): tickets wait for it", type(error).__name__)
        return
    if response.status_code in (401, 403):
        raise HelpdeskKeyRefused(_refusal(response))
    if response.status_code != 200:
        log.warning("helpdesk answered %s to /v1/whoami; key not checked", response.status_code)
        return
    try:
        scopes = list(response.json().get("scopes", []))
    except (ValueError, AttributeError, TypeError):
        log.warning("helpdesk answered /v1/whoami with an unreadable body; key not checked")
        return
    if _CREATE_SCOPE not in scopes:
        raise HelpdeskKeyRefused(
            f"the helpdesk API key may not create tickets (scopes {scopes}): {_KEY_HINT}"
        )


def _refusal(response: httpx.Response) -> str:
    return (
        f"the helpdesk refused the ticketer's API key (HTTP {response.status_code} "
        f"{_error_code(response)}): {_KEY_HINT}"
    )


def _error_code(response: httpx.Response) -> str:
    """The answer's machine-readable ``error`` code, if it has a plausible one; nothing else."""
    try:
        code = response.json().get("error", "")
    except (ValueError, AttributeError):
        return ""
    return code if isinstance(code, str) and _ERROR_CODE.fullmatch(code) else ""
