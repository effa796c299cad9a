"""The classification report's tables, on hand-made predictions."""

from __future__ import annotations

import pytest

from supportbus_cli.classify_eval import most_confused, threshold_table


def test_most_confused_pairs_count_only_errors_and_rank_ties_by_name() -> None:
    truth = ["a", "a", "a", "b", "b", "c"]
    predicted = ["b", "b", "a", "c", "a", "c"]
    assert most_confused(truth, predicted) == [("a", "b", 2), ("b", "a", 1), ("b", "c", 1)]


def test_threshold_rows_split_requests_into_sent_on_and_decided_locally() -> None:
    confidences = [0.2, 0.45, 0.55, 0.95, 0.99]
    correct = [False, True, False, True, True]
    rows = {row.threshold: row for row in threshold_table(confidences, correct)}
    at_half = rows[0.5]
    assert at_half.share_below == pytest.approx(0.4)
    assert at_half.accuracy_above == pytest.approx(2 / 3)
    assert (at_half.errors_caught, at_half.errors) == (1, 2)
    assert rows[0.9].accuracy_above == 1.0
    assert rows[0.9].errors_caught == 2
