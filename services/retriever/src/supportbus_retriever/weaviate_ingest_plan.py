"""What an ingest into the Weaviate collection must do, decided without touching it.

Ingest is idempotent and incremental: every chunk has a deterministic id (:func:`chunk_uuid`,
from its article id and section number) and a content hash. Given the chunks the knowledge base
has now and what the collection already holds, :func:`plan_ingest` says which chunks to embed
and write (new, or changed since they were stored), which stored chunks to delete (their
article shrank or went away), whether the collection holds vectors of another model (then
nothing may be written), and what the ingest will report. No I/O, no LlamaIndex, no client:
plain data in, plain data out, so the decisions are tested on their own
(``tests/test_weaviate_ingest_plan.py``) and :mod:`supportbus_retriever.weaviate_ingest` only
carries them out.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

# Fixed forever: chunk UUIDs derive from it, so changing it would duplicate every chunk.
_CHUNK_NAMESPACE = uuid.UUID("6f1d7c1e-3b7a-5c53-9d0e-6b2f5a4c8e11")


def chunk_uuid(article_id: str, index: int) -> str:
    """The same chunk of the same article always gets the same object id."""
    return str(uuid.uuid5(_CHUNK_NAMESPACE, f"{article_id}#{index}"))


@dataclass(frozen=True)
class IngestReport:
    """What one ingest did, in chunks (and which articles it touched)."""

    articles: int
    chunks: int
    added: int
    updated: int
    deleted: int
    unchanged: int
    changed_articles: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class WantedChunk:
    """A chunk the collection must hold after the ingest."""

    chunk_id: str
    article_id: str
    content_hash: str


@dataclass(frozen=True)
class StoredChunk:
    """A chunk object the collection holds before the ingest (keyed by its id)."""

    content_hash: str
    embedding_model: str
    article_id: str


@dataclass(frozen=True)
class IngestPlan:
    """The writes and deletes that make the collection hold exactly the wanted chunks."""

    # Ids of the chunks to embed and upsert, in the order of the wanted chunks.
    write: tuple[str, ...]
    # Ids of stored chunks no wanted chunk has any more, sorted.
    delete: tuple[str, ...]
    # Models other than ours that stored vectors were embedded with, sorted. When there are
    # any, the plan must not be carried out: mixing models in one collection makes its cosine
    # scores meaningless, and only a recreate (everything re-embedded) fixes that.
    foreign_models: tuple[str, ...]
    # What the ingest reports once the plan is carried out.
    report: IngestReport


def plan_ingest(
    chunks: Sequence[WantedChunk],
    stored: Mapping[str, StoredChunk],
    *,
    model: str,
    articles: int,
) -> IngestPlan:
    """The plan that turns ``stored`` (chunk id -> stored chunk) into ``chunks``.

    ``model`` is the embedding model the chunks would be written with, ``articles`` how many
    articles they came from (only reported). Chunk ids are assumed distinct, as
    :func:`chunk_uuid` makes them.
    """
    foreign = {s.embedding_model for s in stored.values()} - {model}
    # A stored chunk with the same hash is already right (same text, tags and model): the
    # point of the hash is that re-running an ingest re-embeds nothing that did not change.
    write = [
        c
        for c in chunks
        if c.chunk_id not in stored or stored[c.chunk_id].content_hash != c.content_hash
    ]
    added = sum(1 for c in write if c.chunk_id not in stored)
    wanted = {c.chunk_id for c in chunks}
    stale = sorted(set(stored) - wanted)
    changed = {c.article_id for c in write} | {stored[i].article_id for i in stale}
    report = IngestReport(
        articles=articles,
        chunks=len(chunks),
        added=added,
        updated=len(write) - added,
        deleted=len(stale),
        unchanged=len(chunks) - len(write),
        changed_articles=tuple(sorted(changed)),
    )
    return IngestPlan(
        write=tuple(c.chunk_id for c in write),
        delete=tuple(stale),
        foreign_models=tuple(sorted(foreign)),
        report=report,
    )
