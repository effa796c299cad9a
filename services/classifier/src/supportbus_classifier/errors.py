"""The classifier's errors: one root, ``ClassifierError``, and each start-up failure also a
``ConfigurationError``, so ``run_service`` refuses to start with one line (the whole tree is
drawn in ``supportbus_runtime.errors``)."""

from __future__ import annotations

from supportbus_runtime.errors import ConfigurationError, SupportbusError


class ClassifierError(SupportbusError):
    """Base of the classifier's errors (alone: bad training data, found by `supportbus train`)."""


class ModelUnavailable(ClassifierError, ConfigurationError):
    """The trained model file is missing, unreadable, or does not match the taxonomy."""


class TaxonomyError(ClassifierError, ConfigurationError):
    """The taxonomy file is missing or malformed."""
