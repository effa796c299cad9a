"""The adapter from retrieved events to the decision, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import KnowledgeRetrieved
from supportbus_kb_gaps.catalog import IntentCatalog
from supportbus_kb_gaps.decision import find_gap, gap_found
from supportbus_kb_gaps.declaration import GAP_FOUND, RETRIEVED, SERVICE
from supportbus_runtime.kit import Publication, Route

__all__ = ["SERVICE", "routes"]


def routes(catalog: IntentCatalog, *, min_score: float) -> list[Route[KnowledgeRetrieved]]:
    async def on_retrieved(event: KnowledgeRetrieved) -> Sequence[Publication]:
        gap = find_gap(event, catalog, min_score)
        if gap is None:
            return []
        return [GAP_FOUND.publish(gap_found(event, gap, min_score=min_score, producer=SERVICE))]

    return [RETRIEVED.handled_by(on_retrieved)]
