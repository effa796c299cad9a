from __future__ import annotations

from supportbus_runtime.errors import (
    ConfigurationError,
    PermanentError,
    SupportbusError,
    TransientError,
)


class RetrieverError(SupportbusError):
    """Base of the retriever's errors."""


class KnowledgeBaseError(RetrieverError, ConfigurationError):
    """The knowledge base folder or an article in it is invalid."""


class IndexUnavailable(RetrieverError, ConfigurationError):
    """The vector index is missing, unreadable, or older than the knowledge base."""


class VectorStoreUnavailable(RetrieverError, TransientError):
    """The vector store cannot be reached right now (refused, timed out, 5xx): worth a retry."""


class VectorStoreQueryFailed(RetrieverError, PermanentError):
    """The vector store answered but rejected the query (e.g. its collection was dropped)."""
