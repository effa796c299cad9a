from __future__ import annotations

from supportbus_responder.app import build_app
from supportbus_responder.handlers import SERVICE
from supportbus_responder.settings import ResponderSettings
from supportbus_runtime.kit import run_service


def main() -> None:
    run_service(SERVICE, ResponderSettings, build_app)


if __name__ == "__main__":
    main()
