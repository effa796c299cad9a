"""What the helpdesk itself holds: every ticket, page by page, and how many requests have more
than one (the benchmarks' and the chaos suite's check that nothing was done twice)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import httpx

_PAGE = 200  # the helpdesk's largest page


def fetch_tickets(
    helpdesk_url: str, headers: Mapping[str, str] | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Every ticket in the helpdesk (GET /v1/tickets, page by page) and the total it reports;
    ``headers`` carry a key with the tickets:read scope."""
    items: list[dict[str, Any]] = []
    with httpx.Client(base_url=helpdesk_url, headers=headers, timeout=10) as client:
        first = client.get("/v1/tickets", params={"limit": 1})
        first.raise_for_status()
        total = int(first.json()["total"])
        # Bounded: a listing that keeps growing under us cannot loop forever.
        for offset in range(0, total + _PAGE, _PAGE):
            page = client.get("/v1/tickets", params={"limit": _PAGE, "offset": offset})
            page.raise_for_status()
            batch = page.json()["items"]
            items.extend(batch)
            if len(batch) < _PAGE:
                break
    return items, total


@dataclass(frozen=True)
class TicketCheck:
    for_run: int  # tickets whose request_id is one of the run's
    duplicates: int  # of those, how many repeat a request_id
    total: int  # what the helpdesk says it holds
    distinct: int  # distinct request ids over the whole helpdesk

    @property
    def helpdesk_duplicates(self) -> int:
        return self.total - self.distinct


def check_tickets(
    helpdesk_url: str, request_ids: Collection[str], headers: Mapping[str, str] | None = None
) -> TicketCheck:
    items, total = fetch_tickets(helpdesk_url, headers)
    return tally_tickets(items, total, request_ids)


def tally_tickets(
    items: list[dict[str, Any]], total: int, request_ids: Collection[str]
) -> TicketCheck:
    wanted = set(request_ids)
    per_request = Counter(str(t["request_id"]) for t in items)
    mine = {r: c for r, c in per_request.items() if r in wanted}
    return TicketCheck(
        for_run=sum(mine.values()),
        duplicates=sum(c - 1 for c in mine.values()),
        total=total,
        distinct=len(per_request),
    )
