"""reviewer: an agent on the bus whose CrewAI crew checks each reply against the articles it cites.

CrewAI reads its telemetry and tracing switches from the environment when it is first imported,
and only ``supportbus_reviewer.crew`` imports it, after this package: so they are set here, before
any submodule can. Telemetry and tracing are off whatever the environment says (the agent runs
offline; CrewAI's collectors are never asked). ``OTEL_SDK_DISABLED`` is deliberately not set: it
would also switch off the agent's own OpenTelemetry tracing.
"""

from __future__ import annotations

import os

CREWAI_OFFLINE_ENVIRONMENT = {
    "CREWAI_DISABLE_TELEMETRY": "true",  # no anonymous usage spans to CrewAI's collector
    "CREWAI_DISABLE_TRACKING": "true",
    "CREWAI_TRACING_ENABLED": "false",  # no execution traces uploaded, no first-run prompt
    "CREWAI_DISABLE_VERSION_CHECK": "true",  # no PyPI lookup for a newer CrewAI
}

os.environ.update(CREWAI_OFFLINE_ENVIRONMENT)
