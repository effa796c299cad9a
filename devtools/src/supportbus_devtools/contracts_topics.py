"""Topic names as deployed: the contract's names with the environment's prefix."""

from __future__ import annotations

from supportbus_contracts.topics import all_topics


def pipeline_topics(prefix: str = "") -> list[str]:
    """Every topic of the pipeline, dead-letter topics included, under ``prefix``."""
    return [prefix + topic for topic in all_topics()]
