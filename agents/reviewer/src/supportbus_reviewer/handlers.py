"""The adapter from response.ready events to the reviewer, and back to events."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import ResponseReady
from supportbus_reviewer.declaration import READY, REVIEWED, SERVICE
from supportbus_reviewer.knowledge import KnowledgeBase
from supportbus_reviewer.ports import ReplyReviewer
from supportbus_reviewer.review import is_reviewed, review_case, reviewed
from supportbus_runtime.kit import Publication, Route, tracer

__all__ = ["SERVICE", "routes"]

_tracer = tracer(__name__)


def routes(
    reviewer: ReplyReviewer, knowledge: KnowledgeBase, *, min_score: float
) -> list[Route[ResponseReady]]:
    async def on_response_ready(event: ResponseReady) -> Sequence[Publication]:
        if not is_reviewed(event):
            return []
        case, missing = review_case(event, knowledge)
        with _tracer.start_as_current_span("review_reply") as span:
            review = await reviewer.review(case)
            span.set_attribute("supportbus.review.score", review.score)
            span.set_attribute("supportbus.review.findings", len(review.findings))
        out = reviewed(
            event, review, missing_article_ids=missing, min_score=min_score, producer=SERVICE
        )
        return [REVIEWED.publish(out)]

    return [READY.handled_by(on_response_ready)]
