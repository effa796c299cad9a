"""aiokafka's rebalance callbacks, handed to a consumer's dispatcher (FastStream passes them on)."""

from __future__ import annotations

from collections.abc import Callable

from aiokafka import TopicPartition

from supportbus_runtime.dispatcher import KeyOrderedDispatcher


class RebalanceListener:
    """Revocation waits (bounded) for in-flight records and commits; assignment starts epochs.

    The dispatcher is looked up at each callback: it exists once the consumer has started."""

    def __init__(self, dispatcher: Callable[[], KeyOrderedDispatcher | None]) -> None:
        self._dispatcher = dispatcher

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        dispatcher = self._dispatcher()
        if dispatcher is not None:
            await dispatcher.revoked(set(revoked))

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        dispatcher = self._dispatcher()
        if dispatcher is not None:
            dispatcher.assigned(set(assigned))
