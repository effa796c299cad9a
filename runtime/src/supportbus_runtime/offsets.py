"""Which offset of a partition may be committed while many of its records are in flight.

Kafka's committed offset means "every record below this one is done". With records finishing in
any order, the only safe value is the lowest offset still unfinished (or, when nothing is in
flight, one past the highest offset seen): committing anything higher would skip an unfinished
record on a crash, committing less only means more redelivery. Offsets need not be contiguous
(compaction, transaction markers): the tracker only reasons about the offsets it was given.

One tracker per partition *assignment*: when a partition is revoked and assigned again, a new
tracker starts from what was committed, and the old one is dropped with every late completion.
"""

from __future__ import annotations


class PartitionOffsets:
    """The commit watermark of one partition of one assignment (an epoch)."""

    __slots__ = ("_in_flight", "_next_after_seen", "committed", "epoch")

    def __init__(self, epoch: int = 0) -> None:
        self.epoch = epoch
        # Insertion-ordered and offsets arrive in increasing order, so the first key is the
        # lowest unfinished offset; deleting a finished one from the middle is O(1).
        self._in_flight: dict[int, None] = {}
        self._next_after_seen: int | None = None
        # The offset last committed successfully (None: nothing committed in this epoch).
        self.committed: int | None = None

    def started(self, offset: int) -> None:
        """A record was fetched and is now in flight. Offsets must increase."""
        if self._next_after_seen is not None and offset < self._next_after_seen:
            raise ValueError(
                f"offset {offset} arrived after {self._next_after_seen - 1}: a partition's "
                "records are fetched in order, so this one belongs to an older assignment"
            )
        self._in_flight[offset] = None
        self._next_after_seen = offset + 1

    def finished(self, offset: int) -> None:
        """The record's outcome (output or dead letter) is acknowledged by the broker."""
        self._in_flight.pop(offset, None)

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    def is_in_flight(self, offset: int) -> bool:
        return offset in self._in_flight

    def watermark(self) -> int | None:
        """The offset to commit: every record below it is finished. None before any record."""
        if self._in_flight:
            return next(iter(self._in_flight))
        return self._next_after_seen

    def to_commit(self) -> int | None:
        """The watermark if it moved past the last commit, else None (nothing new to commit)."""
        mark = self.watermark()
        if mark is None or (self.committed is not None and mark <= self.committed):
            return None
        return mark

    def mark_committed(self, offset: int) -> None:
        if self.committed is None or offset > self.committed:
            self.committed = offset
