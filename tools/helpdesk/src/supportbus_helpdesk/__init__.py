"""supportbus sandbox helpdesk: a small ticketing system with an idempotent HTTP API.

It stands in for a real helpdesk (Zendesk, Freshdesk, ...) so the ticketer can be developed and
tested end to end, including its retry policy (see the fault injection in ``faults``).
"""

from __future__ import annotations

__version__ = "0.1.0"
