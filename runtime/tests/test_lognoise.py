from __future__ import annotations

import logging

from supportbus_runtime.lognoise import RepeatedLogFilter


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _record(name: str, msg: str, *args: object, level: int = logging.ERROR) -> logging.LogRecord:
    return logging.LogRecord(name, level, __file__, 1, msg, args, None)


def test_a_flood_of_one_kafka_complaint_becomes_one_line_then_one_with_the_count() -> None:
    clock = _Clock()
    noise = RepeatedLogFilter(30.0, clock=clock)
    template = "Unable connect to node with id %s: %s"
    passed = [noise.filter(_record("aiokafka", template, 1, f"attempt {n}")) for n in range(1000)]
    assert passed.count(True) == 1
    clock.now = 31.0
    later = _record("aiokafka", template, 1, "refused")
    assert noise.filter(later)
    assert later.getMessage() == (
        "Unable connect to node with id 1: refused "
        "(and 999 more like it in the last 30 s, not logged)"
    )


def test_different_complaints_and_other_loggers_are_not_held_back() -> None:
    noise = RepeatedLogFilter(30.0, clock=_Clock())
    assert noise.filter(_record("aiokafka", "Unable connect to node %s", 1))
    assert noise.filter(_record("aiokafka.consumer.fetcher", "Unable connect to node %s", 1))
    assert noise.filter(_record("aiokafka", "Unable to update metadata from %s", [1]))
    for _ in range(5):  # our own lines, and the client's INFO, are never collapsed
        assert noise.filter(_record("supportbus_runtime.delivery", "dead-lettering %s", "x"))
        assert noise.filter(_record("aiokafka", "Unable connect to node %s", 1, level=logging.INFO))
