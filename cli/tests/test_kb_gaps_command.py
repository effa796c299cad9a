from __future__ import annotations

import uuid

from supportbus_cli.kb_gaps_command import gaps_table, group_gaps
from supportbus_kb_gaps.events import GapReason, KnowledgeGapFound


def _gap(
    intent: str,
    reason: GapReason = "no_article_for_intent",
    score: float | None = 0.4,
    example: str = "where is my card?",
    event_id: uuid.UUID | None = None,
) -> KnowledgeGapFound:
    return KnowledgeGapFound(
        request_id="r",
        event_id=event_id or uuid.uuid4(),
        intent=intent,
        category="cards",
        best_score=score,
        min_score=0.5,
        reason=reason,
        article_ids=["kb-a"],
        example_question=example,
    )


def test_gaps_are_grouped_by_intent_most_frequent_first() -> None:
    groups = group_gaps(
        [
            _gap("card_arrival", score=0.3),
            _gap("exchange_rate"),
            _gap("card_arrival", "low_score", 0.45, "card late"),
            _gap("card_arrival", score=None),
        ]
    )
    assert [(g.intent, g.count) for g in groups] == [("card_arrival", 3), ("exchange_rate", 1)]
    card = groups[0]
    assert card.best_score == 0.45
    assert card.reasons == {"no_article_for_intent": 2, "low_score": 1}
    assert card.examples == ["where is my card?", "card late"]


def test_at_most_three_distinct_examples_are_kept() -> None:
    (group,) = group_gaps([_gap("x", example=f"q{i % 5}") for i in range(10)])
    assert group.examples == ["q0", "q1", "q2"]


def test_a_redelivered_gap_counts_once() -> None:
    same = uuid.uuid4()
    (group,) = group_gaps([_gap("x", event_id=same), _gap("x", event_id=same)])
    assert group.count == 1


def test_the_table_shows_counts_scores_reasons_and_examples() -> None:
    table = gaps_table(group_gaps([_gap("card_arrival", score=None, example="a\nb")]))
    lines = table.splitlines()
    assert lines[0].split()[:3] == ["intent", "gaps", "best"]
    assert lines[1].split() == ["card_arrival", "1", "-", "no_article_for_intent", "1"]
    assert lines[2].strip() == "“a b”"


def test_the_json_form_names_every_field() -> None:
    (group,) = group_gaps([_gap("x", "low_score", 0.2)])
    assert group.as_json() == {
        "intent": "x",
        "category": "cards",
        "count": 1,
        "best_score": 0.2,
        "reasons": {"low_score": 1},
        "examples": ["where is my card?"],
    }
