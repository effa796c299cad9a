"""The one error hierarchy every supportbus package roots its own errors in.

The delivery policy decides by type alone: a ``TransientError`` is retried with backoff and then
dead-lettered; anything else raised by a handler is dead-lettered at once with its reason.
``run_service`` refuses to start on any of them raised while building the app, and the CLI turns
them into one line and an exit code (``supportbus_cli.errors``). The whole tree, every package's
errors in it (``+Name``: also derives from Name, its package's root; a test holds this drawing
to the code, so a new error class is drawn here or the test fails)::

    SupportbusError               raised on purpose (anything else is a bug)
    ├── TransientError            may pass: retried with backoff, then dead-lettered
    │   ├── RetryBudgetExhausted  outlasted the retry budget
    │   ├── BatcherClosed         runtime.batching: the micro-batcher shut down under a caller
    │   ├── LlmTransientError     runtime.llm: timeout, refused connection, 429, 5xx
    │   │   ├── LlmRateLimited
    │   │   ├── LlmTimeout
    │   │   └── LlmUnavailable    neither model answered, or the circuit is open
    │   ├── VectorStoreUnavailable +RetrieverError
    │   ├── HelpdeskUnavailable   +TicketerError
    │   └── InjectedFault         +HelpdeskError  HTTP 500 (sandbox fault injection)
    │       └── InjectedUnavailable  HTTP 503
    ├── PermanentError            retrying cannot help: dead-lettered at once
    │   ├── MessageRejected       a record that cannot be decoded or validated
    │   ├── LlmPermanentError     runtime.llm: a 4xx, a prompt over the token budget
    │   ├── VectorStoreQueryFailed +RetrieverError
    │   ├── TicketRejected        +TicketerError  the helpdesk answered 4xx
    │   ├── IdempotencyConflict   +HelpdeskError  HTTP 409
    │   ├── TicketNotFound        +HelpdeskError  HTTP 404
    │   ├── InvalidIdempotencyKey +HelpdeskError  HTTP 400
    │   ├── InvalidFaultDirective +HelpdeskError  HTTP 400
    │   ├── Unauthenticated       +HelpdeskError  HTTP 401: no API key, or an unknown one
    │   └── Forbidden             +HelpdeskError  HTTP 403: the key lacks the scope
    ├── ConfigurationError        cannot start as configured: fix, then start again
    │   ├── ModelUnavailable      +ClassifierError
    │   ├── TaxonomyError         +ClassifierError
    │   ├── KnowledgeBaseError    +RetrieverError
    │   ├── IndexUnavailable      +RetrieverError
    │   ├── SearchModeUnsupported +RetrieverError +ValueError
    │   ├── StoreExtraMissing     +RetrieverError  the store's optional extra is not installed
    │   ├── HelpdeskKeyRefused    +TicketerError +PermanentError  the helpdesk refuses our key
    │   └── ApiKeyFileError       +HelpdeskError  the helpdesk's keys file is unusable
    ├── ClassifierError           the classifier's root; alone: unusable training data
    ├── RetrieverError            the retriever's root
    ├── TicketerError             the ticketer's root
    ├── HelpdeskError             the sandbox helpdesk's root (api maps them to HTTP)
    ├── DevtoolsError             supportbus_devtools: the development environment failed
    │   ├── LocalKafkaError
    │   ├── LocalWeaviateError
    │   ├── ToxiproxyError
    │   ├── StackError
    │   └── NotReadyError
    ├── FaultNotInjected          supportbus_cli.chaos: a chaos fault could not be applied
    ├── TraceNotFound             supportbus_cli.tracing: no span carries the request id
    └── ServerExited              supportbus_cli: a server a `run` command serves died

The kinds (transient, permanent, configuration) say what to do about an error; the package roots
say where it came from, so a caller can catch either.
"""

from __future__ import annotations


class SupportbusError(Exception):
    """Base of every error supportbus raises on purpose."""


class TransientError(SupportbusError):
    """Worth retrying: a timeout, a refused connection, a 5xx, a broker hiccup."""


class PermanentError(SupportbusError):
    """Retrying cannot help: invalid input, a 4xx, a business rule."""


class ConfigurationError(SupportbusError):
    """The service cannot start as configured (missing model file, bad setting)."""


class MessageRejected(PermanentError):
    """An incoming record that cannot be decoded or validated; carries a PII-free reason."""

    def __init__(self, error_type: str, reason: str) -> None:
        super().__init__(reason)
        self.error_type = error_type
        self.reason = reason


class RetryBudgetExhausted(TransientError):
    """A transient failure that outlasted the retry budget; the record is dead-lettered."""

    def __init__(self, last: TransientError, attempts: int, elapsed_s: float) -> None:
        super().__init__(
            f"gave up after {attempts} attempt(s) over {elapsed_s:.1f} s (the retry budget): "
            f"{type(last).__name__}: {last}"
        )
        self.last = last
        self.attempts = attempts
