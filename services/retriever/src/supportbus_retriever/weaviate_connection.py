"""Reaching a Weaviate server, the chunk collection's definition, and what the library's errors
mean for the retriever.

Every other Weaviate module goes through here for these three things, so "how do we connect",
"what does a chunk object look like" and "is this error worth a retry" each have one answer.
The library raises its own exceptions (over httpx and grpc); callers map them with
:func:`query_error` and raise ours ``from`` theirs, so the cause stays on the traceback.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

import weaviate
from weaviate.classes.config import Configure, DataType, Property, Tokenization, VectorDistances
from weaviate.classes.init import AdditionalConfig, Timeout
from weaviate.exceptions import (
    UnexpectedStatusCodeError,
    WeaviateBaseError,
    WeaviateClosedClientError,
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateQueryError,
    WeaviateRetryError,
    WeaviateStartUpError,
    WeaviateTimeoutError,
)

from supportbus_retriever.errors import (
    IndexUnavailable,
    RetrieverError,
    VectorStoreQueryFailed,
    VectorStoreUnavailable,
)

INGEST_HINT = "run `supportbus kb ingest --store weaviate`"
# A gRPC status in an error message that says "the server was not there", not "it said no".
_TRANSIENT_GRPC = ("UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "connection refused")
# The library's own "could not reach / did not answer" errors: a retry may succeed.
_UNREACHABLE = (
    WeaviateConnectionError,
    WeaviateGRPCUnavailableError,
    WeaviateTimeoutError,
    WeaviateRetryError,
    WeaviateClosedClientError,
    WeaviateStartUpError,
)


# -- connecting --------------------------------------------------------------------------------


def _endpoint(url: str) -> tuple[str, int, bool]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise IndexUnavailable(f"Weaviate URL must be http(s)://host[:port], not {url!r}")
    secure = parts.scheme == "https"
    return parts.hostname, parts.port or (443 if secure else 80), secure


def connect(
    url: str, grpc_port: int, *, api_key: str | None = None, timeout_s: float = 10.0
) -> weaviate.WeaviateClient:
    """A connected client (REST at ``url``, gRPC on the same host), or IndexUnavailable saying
    which server could not be reached."""
    host, port, secure = _endpoint(url)
    try:
        client = weaviate.connect_to_custom(
            http_host=host,
            http_port=port,
            http_secure=secure,
            grpc_host=host,
            grpc_port=grpc_port,
            grpc_secure=secure,
            auth_credentials=api_key or None,
            additional_config=AdditionalConfig(
                timeout=Timeout(init=timeout_s, query=timeout_s, insert=max(timeout_s, 60))
            ),
            # The client's own init checks include a version lookup on pypi.org: a service must
            # not call out to the internet. It still reads /v1/meta; we probe gRPC ourselves.
            skip_init_checks=True,
        )
    except WeaviateBaseError as error:
        raise IndexUnavailable(
            f"cannot connect to Weaviate at {url} (gRPC port {grpc_port}): {first_line(error)}"
        ) from error
    try:
        socket.create_connection((host, grpc_port), timeout=timeout_s).close()
    except OSError as error:
        client.close()
        raise IndexUnavailable(
            f"Weaviate at {url} answers, but not its gRPC port {host}:{grpc_port} "
            f"(RETRIEVER_WEAVIATE_GRPC_PORT): {error}"
        ) from error
    return client


# -- the collection ----------------------------------------------------------------------------


def _text(name: str, *, searchable: bool = False, field_tokens: bool = True) -> Property:
    return Property(
        name=name,
        data_type=DataType.TEXT,
        index_searchable=searchable,
        index_filterable=not searchable,
        tokenization=Tokenization.FIELD if field_tokens else Tokenization.WORD,
        skip_vectorization=True,
    )


def chunk_schema() -> list[Property]:
    """Every property a chunk object has, declared, so the collection works with auto-schema
    off and BM25 only sees prose (title and section text), never ids or LlamaIndex's JSON."""
    return [
        _text("text", searchable=True, field_tokens=False),
        _text("title", searchable=True, field_tokens=False),
        _text("article_id"),
        _text("intents"),
        _text("header_path"),
        Property(name="chunk_index", data_type=DataType.INT, skip_vectorization=True),
        _text("content_hash"),
        _text("embedding_model"),
        # LlamaIndex's node serialisation (llama_index.vector_stores.weaviate get_data_object).
        Property(
            name="_node_content",
            data_type=DataType.TEXT,
            index_filterable=False,
            index_searchable=False,
            skip_vectorization=True,
        ),
        _text("_node_type"),
        _text("document_id"),
        _text("doc_id"),
        _text("ref_doc_id"),
    ]


def ensure_collection(client: weaviate.WeaviateClient, name: str) -> None:
    """Create the collection (no vectorizer, cosine HNSW, declared properties) if missing."""
    if client.collections.exists(name):
        return
    client.collections.create(
        name,
        description="supportbus knowledge-base chunks (one object per article section)",
        vector_config=Configure.Vectors.self_provided(
            vector_index_config=Configure.VectorIndex.hnsw(distance_metric=VectorDistances.COSINE)
        ),
        properties=chunk_schema(),
    )


# -- errors ------------------------------------------------------------------------------------


def first_line(error: BaseException) -> str:
    """An error's message without the library's multi-line details (or its type, if empty)."""
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


def query_error(error: WeaviateBaseError, collection: str) -> RetrieverError:
    """Unreachable (retry later) or rejected (retrying cannot help)."""
    if isinstance(error, _UNREACHABLE):
        return VectorStoreUnavailable(f"Weaviate unavailable: {first_line(error)}")
    if isinstance(error, UnexpectedStatusCodeError) and (
        error.status_code >= 500 or error.status_code == 429
    ):
        return VectorStoreUnavailable(f"Weaviate answered {error.status_code}")
    if isinstance(error, WeaviateQueryError) and any(t in str(error) for t in _TRANSIENT_GRPC):
        return VectorStoreUnavailable(f"Weaviate unavailable: {first_line(error)}")
    return VectorStoreQueryFailed(
        f"Weaviate rejected the query on {collection}: {first_line(error)}"
    )
