"""The Weaviate store's asynchronous search, against a fake client (the real server is covered
by tests/integration/test_weaviate_store.py): the synchronous client runs on the store's own
threads and the coroutine waits with a deadline."""

from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any, cast

import pytest
import weaviate

from supportbus_devtools.testing import HashingEmbedder
from supportbus_retriever.errors import VectorStoreUnavailable
from supportbus_retriever.weaviate_store import WeaviateKnowledgeIndex


class FakeQuery:
    """``collection.query``: records each call, answers once ``gate`` is open."""

    def __init__(self, objects: list[Any]) -> None:
        self.objects = objects
        self.calls: list[dict[str, Any]] = []
        self.gate = threading.Event()
        self.gate.set()

    def near_vector(self, **arguments: Any) -> Any:
        self.calls.append(arguments)
        if not self.gate.wait(10):
            raise AssertionError("the test never opened the gate")
        return SimpleNamespace(objects=self.objects)


def _chunk(article_id: str, distance: float) -> Any:
    properties = {"article_id": article_id, "title": article_id, "intents": "x", "text": "t"}
    return SimpleNamespace(properties=properties, metadata=SimpleNamespace(distance=distance))


def _index(query: FakeQuery, embedder: HashingEmbedder, deadline_s: float = 10.0) -> Any:
    collection = SimpleNamespace(query=query)
    client = SimpleNamespace(
        collections=SimpleNamespace(get=lambda name: collection), close=lambda: None
    )
    return WeaviateKnowledgeIndex(
        cast(weaviate.WeaviateClient, client),
        "Articles",
        embedder=embedder,
        mode="vector",
        deadline_s=deadline_s,
    )


async def test_searching_by_vector_sends_that_vector_and_embeds_nothing() -> None:
    embedder = HashingEmbedder()
    query = FakeQuery([_chunk("kb-a", 0.2), _chunk("kb-b", 0.4), _chunk("kb-a", 0.3)])
    with _index(query, embedder) as index:
        hits = await index.search_by_vector("card", [0.6, 0.8], 2)
    assert embedder.calls == 0
    assert query.calls[0]["near_vector"] == [0.6, 0.8]
    assert [(h.article_id, round(h.score, 2)) for h in hits] == [("kb-a", 0.8), ("kb-b", 0.6)]


async def test_a_query_that_misses_its_deadline_is_unavailable_not_a_stall() -> None:
    query = FakeQuery([_chunk("kb-a", 0.2)])
    query.gate.clear()
    with _index(query, HashingEmbedder(), deadline_s=0.05) as index:
        with pytest.raises(VectorStoreUnavailable, match="did not answer within"):
            await index.search_by_vector("card", [0.6, 0.8], 1)
        query.gate.set()
