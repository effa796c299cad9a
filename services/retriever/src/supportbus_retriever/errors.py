"""The retriever's errors: one root, ``RetrieverError``, each also of the kind that tells the
delivery policy and ``run_service`` what to do (the whole tree is drawn in
``supportbus_runtime.errors``)."""

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


class StoreExtraMissing(RetrieverError, ConfigurationError):
    """The configured store (``RETRIEVER_STORE``) needs an optional extra of the retriever that
    is not installed (``haystack``: ``supportbus-retriever[haystack]``)."""


class SearchModeUnsupported(RetrieverError, ConfigurationError, ValueError):
    """The configured store cannot search the configured way (``RETRIEVER_SEARCH_MODE``).

    Also a ValueError: ``check_search_mode`` has always promised one to its callers (the CLI's
    evaluation included)."""


class VectorStoreUnavailable(RetrieverError, TransientError):
    """The vector store cannot be reached right now (refused, timed out, 5xx): worth a retry."""


class VectorStoreQueryFailed(RetrieverError, PermanentError):
    """The vector store answered but rejected the query (e.g. its collection was dropped)."""
