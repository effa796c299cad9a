"""The reviewer's decisions, its event and its configuration: pure functions, no broker."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from supportbus_contracts import ResponseReady
from supportbus_contracts.schemas import compatibility_problems
from supportbus_reviewer import CREWAI_OFFLINE_ENVIRONMENT
from supportbus_reviewer.declaration import DECLARATION
from supportbus_reviewer.events import ALL_EVENTS, ReviewFinding
from supportbus_reviewer.knowledge import KnowledgeArticle, load_knowledge_base
from supportbus_reviewer.ports import Review
from supportbus_reviewer.review import is_reviewed, review_case, reviewed, verdict
from supportbus_reviewer.settings import ReviewerSettings
from supportbus_runtime.kit import ConfigurationError
from supportbus_runtime.settings import repo_root

SCHEMAS = Path(__file__).resolve().parents[1] / "schemas"
Ready = Callable[..., ResponseReady]  # the conftest's factory


def _finding(kind: str, detail: str = "x") -> ReviewFinding:
    return ReviewFinding.model_validate({"kind": kind, "detail": detail})


def test_a_high_score_without_blocking_findings_is_approved() -> None:
    assert verdict(0.9, [_finding("polite")], 0.7) == "approved"


def test_a_low_score_is_flagged_whatever_the_findings() -> None:
    assert verdict(0.5, [], 0.7) == "flagged"


@pytest.mark.parametrize("kind", ["grounded", "unsupported_promise"])
def test_an_ungrounded_claim_or_unsupported_promise_flags_a_high_score(kind: str) -> None:
    assert verdict(0.95, [_finding(kind)], 0.7) == "flagged"


def test_the_holding_reply_of_a_handed_off_request_is_not_reviewed(ready: Ready) -> None:
    assert is_reviewed(ready())
    assert not is_reviewed(ready(route_human=True))


def test_a_cited_article_the_knowledge_base_lacks_is_a_grounded_finding(
    ready: Ready, articles: dict[str, KnowledgeArticle]
) -> None:
    event = ready(cited=("kb-lost-card", "kb-retired", "kb-lost-card"))
    case, missing = review_case(event, articles)
    assert [a.article_id for a in case.articles] == ["kb-lost-card"]
    assert missing == ["kb-retired"]
    out = reviewed(
        event,
        Review(score=0.9, findings=[], model="m"),
        missing_article_ids=missing,
        min_score=0.7,
        producer="reviewer",
    )
    assert out.verdict == "flagged"
    assert [f.kind for f in out.findings] == ["grounded"]
    assert "kb-retired" in out.findings[0].detail


def test_the_review_event_is_derived_from_the_reply_and_stable_on_redelivery(
    ready: Ready,
) -> None:
    event = ready()
    review = Review(score=0.92, findings=[_finding("polite", "No greeting.")], model="m", tokens=9)
    first = reviewed(event, review, min_score=0.7, producer="reviewer")
    again = reviewed(event, review, min_score=0.7, producer="reviewer")
    assert first.event_id == again.event_id
    assert (first.request_id, first.causation_id) == (event.request_id, event.event_id)
    assert (first.ticket_id, first.composer, first.cited_article_ids) == (
        "TCK-42",
        "template",
        ["kb-lost-card"],
    )
    assert (first.score, first.verdict, first.tokens, first.reviewer_model) == (
        0.92,
        "approved",
        9,
        "m",
    )


def test_findings_quoting_personal_data_are_redacted_and_trimmed(ready: Ready) -> None:
    quoted = _finding("grounded", "It tells ann@example.com to call +44 20 7946 0958.")
    long = _finding("complete", "y" * 300)
    out = reviewed(
        ready(),
        Review(score=0.2, findings=[quoted, long], model="m"),
        min_score=0.7,
        producer="reviewer",
    )
    assert "ann@example.com" not in out.findings[0].detail
    assert "7946" not in out.findings[0].detail
    assert len(out.findings[1].detail) == 300


def test_the_knowledge_base_is_read_from_the_articles_front_matter() -> None:
    knowledge = load_knowledge_base(repo_root() / "data" / "kb")
    assert len(knowledge) == 73
    article = knowledge["kb-activate-card"]
    assert article.title == "How to activate your new card"
    assert "---" not in article.text


def test_an_article_without_an_id_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "kb-x.md").write_text("---\ntitle: X\n---\nbody\n")
    with pytest.raises(ConfigurationError, match="needs an id"):
        load_knowledge_base(tmp_path)
    with pytest.raises(ConfigurationError, match="no articles"):
        load_knowledge_base(tmp_path / "empty")


def test_committed_schemas_are_compatible_with_the_code() -> None:
    assert compatibility_problems(ALL_EVENTS, SCHEMAS) == {}


def test_settings_use_their_own_prefix_port_and_consumer_group(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("REVIEWER_MIN_SCORE", "0.5")
    monkeypatch.setenv("CLASSIFIER_MIN_SCORE", "0.9")
    settings = ReviewerSettings()
    assert (settings.http_port, settings.min_score) == (9106, 0.5)
    assert settings.effective_group_id(DECLARATION.name) == "supportbus-reviewer"


def test_crewai_telemetry_and_tracing_are_off_on_import() -> None:
    for name, value in CREWAI_OFFLINE_ENVIRONMENT.items():
        assert os.environ[name] == value
    assert "OTEL_SDK_DISABLED" not in CREWAI_OFFLINE_ENVIRONMENT
