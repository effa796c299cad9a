"""The chaos suite's own logic, without servers: scenario selection, the schedule, recovery
from a timeline, and what makes a row fail."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbus_cli.chaos.faults import FaultRecord
from supportbus_cli.chaos.ledger import Audit
from supportbus_cli.chaos.runner import ChaosOptions, Row, schedule
from supportbus_cli.chaos.scenarios import BY_NAME, SCENARIOS, select
from supportbus_cli.chaos.timeline import recovery, throughput_back
from supportbus_cli.helpdesk_audit import TicketCheck
from supportbus_runtime.errors import ConfigurationError


def test_a_prefix_selects_every_scenario_of_its_family() -> None:
    names = [s.name for s in select(["kill"])]
    assert names == [
        f"kill-{n}" for n in ("classifier", "retriever", "ticketer", "responder", "helpdesk")
    ]
    assert [s.name for s in select(["broker-kill", "broker"])] == ["broker-kill", "broker-restart"]


def test_an_unknown_scenario_is_refused_with_the_known_names() -> None:
    with pytest.raises(ConfigurationError, match="kill-classifier"):
        select(["kill-everything"])


def test_every_family_the_issue_names_is_in_the_catalogue() -> None:
    names = {s.name for s in SCENARIOS}
    assert {
        "broker-kill",
        "broker-restart",
        "rebalance-storm",
        "helpdesk-timed-out-created",
    } <= names
    assert {"llm-429-storm", "outage-helpdesk", "outage-llm", "outage-weaviate"} <= names
    assert [s.name for s in SCENARIOS if s.expect_dead_letters] == ["outage-past-budget"]


def test_an_outage_run_lasts_long_enough_for_requests_after_the_outage() -> None:
    options = ChaosOptions(work_dir=Path("."), texts=["x"], requests=1000, rate=20, outage_s=60)
    rate, lead = schedule(BY_NAME["outage-helpdesk"], options)
    duration = 1000 / rate
    assert lead + 60 < duration  # requests keep coming after the dependency is back
    rate, lead = schedule(BY_NAME["kill-ticketer"], options)
    assert rate == pytest.approx(20)
    assert 3 <= lead <= 15


def test_recovery_is_the_last_disrupted_outcome_after_the_fault() -> None:
    sent = {f"r{i}": float(i) for i in range(20)}
    done = {r: t + 0.1 for r, t in sent.items()}
    done["r10"], done["r11"], done["r12"] = 16.0, 16.2, 16.4  # the fault at 10 held them
    healed = recovery(sent, done, fault_start=10.0, rate=1.0)
    assert healed.seconds == pytest.approx(6.4)
    assert healed.disrupted == 3
    assert healed.threshold_s == 1.0  # 3 x a 0.1 s p99, but at least a second


def test_recovery_is_zero_when_nothing_was_disrupted_and_none_when_something_never_came() -> None:
    sent = {f"r{i}": float(i) for i in range(10)}
    done = {r: t + 0.2 for r, t in sent.items()}
    assert recovery(sent, done, fault_start=5.0, rate=1.0).seconds == 0.0
    del done["r7"]
    assert recovery(sent, done, fault_start=5.0, rate=1.0).seconds is None


def _row(**changes: object) -> Row:
    audit = Audit(
        answered=10,
        dead_by_reason={},
        lost=[],
        tickets=TicketCheck(for_run=10, duplicates=0, total=10, distinct=10),
        duplicate_events=0,
        duplicates_identical=True,
        differing_fields=(),
    )
    base: dict[str, object] = {
        "scenario": "kill-ticketer",
        "requests": 10,
        "published": 10,
        "audit": audit,
        "fault": FaultRecord(1.0, 1.0, True, "killed"),
        "died": (),
        "recovery": None,
        "expect_dead_letters": False,
    }
    base.update(changes)
    return Row(**base)  # type: ignore[arg-type]


def test_a_clean_row_passes() -> None:
    assert _row().problems == []


def test_a_fault_that_did_not_happen_fails_the_row() -> None:
    assert _row(fault=FaultRecord(1.0, 1.0, False, "nothing")).problems == [
        "the fault did not happen"
    ]


def test_loss_duplicates_deaths_and_unexpected_dead_letters_fail_the_row() -> None:
    audit = Audit(
        answered=7,
        dead_by_reason={"HelpdeskUnavailable": 1},
        lost=["r1", "r2"],
        tickets=TicketCheck(for_run=9, duplicates=1, total=9, distinct=8),
        duplicate_events=0,
        duplicates_identical=True,
        differing_fields=(),
    )
    problems = _row(audit=audit, died=("retriever",)).problems
    assert problems == [
        "died on their own: retriever",
        "2 lost (e.g. r1, r2)",
        "1 duplicate tickets",
        "1 dead-lettered",
    ]


def test_past_the_budget_dead_letters_must_say_the_budget_ran_out() -> None:
    audit = Audit(
        answered=8,
        dead_by_reason={"HelpdeskUnavailable": 2},
        lost=[],
        tickets=TicketCheck(for_run=8, duplicates=0, total=8, distinct=8),
        duplicate_events=0,
        duplicates_identical=True,
        differing_fields=(),
    )
    assert _row(audit=audit, expect_dead_letters=True).problems == [
        "no dead letter says the retry budget ran out"
    ]
    said = {"HelpdeskUnavailable (retry budget spent)": 2}
    ok = Audit(**{**audit.__dict__, "dead_by_reason": said})
    assert _row(audit=ok, expect_dead_letters=True).problems == []


def test_fallback_tags_keep_why_the_llm_was_unavailable() -> None:
    from supportbus_cli.chaos.ledger import _fallback_tags

    answer = {
        "classification": {"fallback_reason": "llm_unavailable:circuit_open"},
        "fallback_reason": "llm_unavailable:primary_failed:LlmRateLimited",
    }
    assert _fallback_tags(answer) == [
        "classifier:llm_unavailable:circuit_open",
        "responder:llm_unavailable:primary_failed",
    ]


def test_throughput_is_back_when_outcomes_flow_at_the_offered_rate_after_the_dip() -> None:
    steady = [n / 10 for n in range(100)]  # 10/s until the fault at 10 s
    burst = [16.0 + n / 60 for n in range(30)]  # the backlog, once the service is back
    after = [16.5 + n / 10 for n in range(40)]
    back = throughput_back(steady + burst + after, fault_start=10.0, rate=10.0)
    assert back == pytest.approx(6.5, abs=0.25)
    assert throughput_back(steady + [10 + n / 10 for n in range(50)], 10.0, 10.0) == 0.0
    trickle = [10.0 + n for n in range(10)]  # one a second: it never came back
    assert throughput_back(steady + trickle, 10.0, 10.0) is None
