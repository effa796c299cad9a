"""Entry point: ``supportbus-helpdesk`` / ``python -m supportbus_helpdesk.main``."""

from __future__ import annotations

import uvicorn
from fastapi import FastAPI
from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
from pydantic import ValidationError

from supportbus_helpdesk.api import build_api
from supportbus_helpdesk.auth import ApiKeyFileError, ApiKeyRing
from supportbus_helpdesk.settings import HelpdeskSettings
from supportbus_runtime.telemetry import install_tracing


def main() -> None:
    try:
        settings = HelpdeskSettings()
        if settings.api_keys_file is not None:
            ApiKeyRing.from_file(settings.api_keys_file)  # a bad file stops us here, plainly
    except (ValidationError, ApiKeyFileError) as error:
        raise SystemExit(f"supportbus-helpdesk: {error}") from None
    provider = install_tracing(
        "helpdesk",
        exporter=settings.telemetry_exporter,
        directory=settings.telemetry_dir,
        otlp_endpoint=settings.otlp_endpoint,
    )
    api = build_api(settings)
    # Server spans continue the ticketer's trace (W3C traceparent on the request).
    FastAPIInstrumentor.instrument_app(api, excluded_urls="healthz")
    try:
        _serve(api, settings)
    finally:
        if provider is not None:
            provider.shutdown()


def _serve(api: FastAPI, settings: HelpdeskSettings) -> None:
    uvicorn.run(
        api,
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        # uvicorn's access log records method, path and status only, never bodies, and nothing
        # in this app logs request bodies: they carry customer PII (message text, email).
        access_log=True,
        # A sandbox does not need to advertise its stack.
        server_header=False,
    )


if __name__ == "__main__":
    main()
