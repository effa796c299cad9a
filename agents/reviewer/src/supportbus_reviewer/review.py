"""The agent's decisions, pure functions: what a reply is reviewed against, the verdict, and
the event that records it."""

from __future__ import annotations

from collections.abc import Sequence

from supportbus_contracts import ResponseReady
from supportbus_reviewer.events import (
    MAX_DETAIL_CHARS,
    MAX_FINDINGS,
    ReplyReviewed,
    ReviewFinding,
    Verdict,
)
from supportbus_reviewer.knowledge import KnowledgeBase
from supportbus_reviewer.ports import Review, ReviewCase
from supportbus_runtime.pii import redact

# A reply with one of these findings is flagged whatever its score: it tells the customer
# something the knowledge base does not say.
BLOCKING = frozenset({"grounded", "unsupported_promise"})


def is_reviewed(event: ResponseReady) -> bool:
    """Every automated reply; not the holding reply of a request routed to a person, which
    cites nothing and promises only that a person will answer."""
    return event.classification.route != "human"


def review_case(event: ResponseReady, knowledge: KnowledgeBase) -> tuple[ReviewCase, list[str]]:
    """The case to review, and the cited article ids the knowledge base does not have."""
    cited = list(dict.fromkeys(event.cited_article_ids))
    found = [knowledge[a] for a in cited if a in knowledge]
    missing = [a for a in cited if a not in knowledge]
    return ReviewCase(reply=event.reply, articles=found), missing


def verdict(score: float, findings: Sequence[ReviewFinding], min_score: float) -> Verdict:
    if score < min_score or any(f.kind in BLOCKING for f in findings):
        return "flagged"
    return "approved"


def _finding(finding: ReviewFinding) -> ReviewFinding:
    """The model's words may quote the reply: personal data redacted, trimmed to fit."""
    detail = redact(finding.detail.strip())
    if len(detail) > MAX_DETAIL_CHARS:
        detail = detail[: MAX_DETAIL_CHARS - 1] + "…"
    return ReviewFinding(kind=finding.kind, detail=detail)


def reviewed(
    event: ResponseReady,
    review: Review,
    *,
    missing_article_ids: Sequence[str] = (),
    min_score: float,
    producer: str,
) -> ReplyReviewed:
    """The review event, derived from the reply's event (a redelivery keeps its event_id).
    A cited article the knowledge base does not have is a ``grounded`` finding of its own."""
    findings = [
        ReviewFinding(
            kind="grounded", detail=f"cites {article_id}, which the knowledge base does not have"
        )
        for article_id in missing_article_ids
    ]
    findings += [_finding(f) for f in review.findings]
    findings = findings[:MAX_FINDINGS]
    score = min(max(review.score, 0.0), 1.0)
    return ReplyReviewed.derived_from(
        event,
        producer=producer,
        ticket_id=event.ticket.ticket_id,
        composer=event.composer,
        cited_article_ids=list(event.cited_article_ids),
        score=score,
        verdict=verdict(score, findings, min_score),
        min_score=min_score,
        findings=findings,
        reviewer_model=review.model,
        tokens=review.tokens,
        fallback_reason=review.fallback_reason[:300] if review.fallback_reason else None,
    )
