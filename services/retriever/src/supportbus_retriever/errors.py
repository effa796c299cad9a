from __future__ import annotations

from supportbus_runtime.errors import ConfigurationError, SupportbusError


class RetrieverError(SupportbusError):
    """Base of the retriever's errors."""


class KnowledgeBaseError(RetrieverError, ConfigurationError):
    """The knowledge base folder or an article in it is invalid."""


class IndexUnavailable(RetrieverError, ConfigurationError):
    """The vector index is missing, unreadable, or older than the knowledge base."""
