"""A service with a no-op handler, run as its own process: the runtime's consumer (delivery,
commits, telemetry middleware) with no work in the handler, for the per-hop rows.

    python -m busbench.noop_service    # settings from NOOP_* variables
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic_settings import SettingsConfigDict

from supportbus_contracts import RequestReceived
from supportbus_runtime.app import ServiceApp, build_service_app, run_service
from supportbus_runtime.declaration import Input, Output, Publication, ServiceDeclaration
from supportbus_runtime.settings import ServiceSettings

SERVICE = "noop"


class NoopSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOOP_", extra="ignore", frozen=True)

    input_topic: str = "bench.hop.in.v1"
    output_topic: str = "bench.hop.out.noop.v1"


def build_app(settings: NoopSettings) -> ServiceApp:
    # Declared here rather than at module level: the topics come from the settings.
    republished = Output(settings.output_topic, RequestReceived)
    received = Input(settings.input_topic, RequestReceived, outputs=(republished,))

    async def republish(event: RequestReceived) -> Sequence[Publication]:
        return [republished.publish(event)]  # the event unchanged

    return build_service_app(
        ServiceDeclaration(SERVICE, (received,)), settings, [received.handled_by(republish)]
    )


def main() -> None:
    run_service(SERVICE, NoopSettings, build_app)


if __name__ == "__main__":
    main()
