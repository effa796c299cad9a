"""Checks on every run: nothing lost (an answer or a dead letter for each request) and no
ticket opened twice (the helpdesk's own listing, not the pipeline's word for it)."""

from __future__ import annotations

import math

from supportbus_cli.helpdesk_audit import TicketCheck, check_tickets, fetch_tickets, tally_tickets

__all__ = ["TicketCheck", "check_tickets", "fetch_tickets", "percentile", "tally_tickets"]


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0-100), nearest rank; None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]
