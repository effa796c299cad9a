"""The throughput benchmark's own checks (benchmarks/busbench): what counts as lost, as a
duplicate ticket, as a failed run, and how rows compare with their baseline."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

from busbench.checks import percentile, tally_tickets
from busbench.kafka_io import Outcomes
from busbench.report import markdown_table
from busbench.results import Row


def test_duplicate_tickets_are_counted_per_run_and_over_the_helpdesk() -> None:
    items = [{"request_id": r} for r in ("a", "b", "b", "other", "other")]
    check = tally_tickets(items, total=5, request_ids=["a", "b", "c"])
    assert (check.for_run, check.duplicates) == (3, 1)
    assert check.helpdesk_duplicates == 2  # 5 tickets, 3 distinct request ids
    clean = tally_tickets([{"request_id": "a"}], total=1, request_ids=["a"])
    assert (clean.duplicates, clean.helpdesk_duplicates) == (0, 0)


def test_an_answer_or_a_dead_letter_accounts_for_a_request_and_repeats_are_noted() -> None:
    outcomes = Outcomes()
    ready = b'{"request_id": "r1", "composer": "llm", "classification": {}}'
    outcomes.note_response(ready, seen=1.0)
    outcomes.note_response(ready, seen=2.0)  # a redelivered duplicate
    outcomes.dead["r2"] = "x.dlq"
    outcomes.note_response(b"not json", seen=3.0)
    assert outcomes.answered_at == {"r1": 1.0}  # latency from the first sighting
    assert outcomes.responses["r1"] == 2
    assert [outcomes.accounted(r) for r in ("r1", "r2", "r3")] == [True, True, False]
    assert outcomes.unreadable == 1
    fallback = (
        b'{"request_id": "r4", "composer": "template", "fallback_reason": "reply_rejected:x",'
        b' "classification": {"fallback_reason": "llm_unavailable:timeout"}}'
    )
    outcomes.note_response(fallback, seen=4.0)
    assert outcomes.details["r4"] == (
        "template",
        ("classifier:llm_unavailable", "responder:reply_rejected"),
    )


def test_a_run_fails_on_any_loss_duplicate_or_error() -> None:
    assert not Row("bus", "ok", lost=0, dup_tickets=0).failed
    assert Row("bus", "lost", lost=1, dup_tickets=0).failed
    assert Row("bus", "dup", lost=0, dup_tickets=1).failed
    assert Row("bus", "timeout", lost=0, dup_tickets=0, failure="TIMEOUT").failed


def test_rows_compare_with_their_baseline_and_offered_loads_only_on_latency() -> None:
    rows = [
        Row("baseline", "seq", n=10, per_s=10.0, p50_ms=100.0, key="b", base="b"),
        Row("bus", "burst", n=10, per_s=25.0, p50_ms=300.0, base="b", lost=0, dup_tickets=0),
        Row("bus", "offered", n=10, per_s=5.0, p50_ms=200.0, base="b", compare_throughput=False),
    ]
    lines = markdown_table(rows).splitlines()
    assert "| 2.50 | 3.00 |" in lines[3]
    assert "| – | 2.00 |" in lines[4]


def test_percentiles_are_nearest_rank() -> None:
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 50), percentile(values, 99), percentile(values, 100)) == (
        50.0,
        99.0,
        100.0,
    )
    assert percentile([], 50) is None
    assert percentile([7.0], 99) == 7.0
