from __future__ import annotations

from supportbus_runtime.errors import ConfigurationError, SupportbusError


class ClassifierError(SupportbusError):
    """Base of the classifier's errors."""


class ModelUnavailable(ClassifierError, ConfigurationError):
    """The trained model file is missing, unreadable, or does not match the taxonomy."""


class TaxonomyError(ClassifierError, ConfigurationError):
    """The taxonomy file is missing or malformed."""
