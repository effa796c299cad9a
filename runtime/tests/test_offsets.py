"""The commit watermark: never past an unfinished record, always up to the finished prefix."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from supportbus_runtime.offsets import PartitionOffsets


@st.composite
def partition_histories(draw: st.DrawFn) -> tuple[list[int], list[int], set[int]]:
    """Increasing offsets with gaps, a completion order, and records that never finish."""
    gaps = draw(st.lists(st.integers(min_value=1, max_value=3), min_size=1, max_size=60))
    start = draw(st.integers(min_value=0, max_value=1000))
    offsets, offset = [], start
    for gap in gaps:
        offsets.append(offset)
        offset += gap
    unfinished = set(draw(st.lists(st.sampled_from(offsets), max_size=len(offsets) // 3)))
    order = draw(st.permutations([o for o in offsets if o not in unfinished]))
    return offsets, list(order), unfinished


@settings(max_examples=300, deadline=None)
@given(partition_histories(), st.data())
def test_watermark_never_passes_an_unfinished_record_and_covers_every_finished_prefix(
    history: tuple[list[int], list[int], set[int]], data: st.DataObject
) -> None:
    offsets, completion_order, unfinished = history
    tracker = PartitionOffsets()
    started: list[int] = []
    pending = list(offsets)
    finished: set[int] = set()
    to_finish = list(completion_order)
    # Interleave fetching and finishing in any order the consumer could produce.
    while pending or to_finish:
        can_finish = [o for o in to_finish if o in started]
        if pending and (not can_finish or data.draw(st.booleans())):
            tracker.started(pending[0])
            started.append(pending.pop(0))
        else:
            done = data.draw(st.sampled_from(can_finish))
            to_finish.remove(done)
            tracker.finished(done)
            finished.add(done)
        mark = tracker.watermark()
        assert mark is not None
        # Safety: everything below the watermark that we started is finished.
        assert all(o in finished for o in started if o < mark)
        # Liveness: the watermark is the first unfinished started record, or past the last one.
        open_ = [o for o in started if o not in finished]
        assert mark == (open_[0] if open_ else started[-1] + 1)
        if data.draw(st.booleans()) and (commit := tracker.to_commit()) is not None:
            tracker.mark_committed(commit)
            assert tracker.to_commit() is None
    if not unfinished:
        assert tracker.watermark() == offsets[-1] + 1
    else:
        assert tracker.watermark() == min(unfinished)


def test_nothing_to_commit_before_any_record() -> None:
    tracker = PartitionOffsets()
    assert tracker.watermark() is None
    assert tracker.to_commit() is None


def test_commit_is_offered_only_when_the_watermark_moved() -> None:
    tracker = PartitionOffsets()
    tracker.started(5)
    tracker.started(6)
    assert tracker.to_commit() == 5  # the position itself: nothing below it is open
    tracker.mark_committed(5)
    tracker.finished(6)
    assert tracker.to_commit() is None  # 5 still open
    tracker.finished(5)
    assert tracker.to_commit() == 7


def test_an_offset_from_an_older_assignment_is_refused() -> None:
    tracker = PartitionOffsets()
    tracker.started(10)
    with pytest.raises(ValueError, match="older assignment"):
        tracker.started(9)
