"""What ticketing needs from a ticketing system."""

from __future__ import annotations

from typing import Protocol

from supportbus_contracts import Ticket, TicketDraft

# TicketDraft is the contracts' one definition of a ticket's fields (the ticketing system reads
# the same model); re-exported here because it is the port's argument type.
__all__ = ["TicketDraft", "TicketingSystem"]


class TicketingSystem(Protocol):
    async def create_ticket(self, draft: TicketDraft, *, idempotency_key: str) -> Ticket:
        """Create the ticket, or return the one already created under ``idempotency_key``."""
        ...
