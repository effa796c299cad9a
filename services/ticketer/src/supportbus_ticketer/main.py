from __future__ import annotations

from supportbus_runtime.kit import run_service
from supportbus_ticketer.app import build_app
from supportbus_ticketer.handlers import SERVICE
from supportbus_ticketer.settings import TicketerSettings


def main() -> None:
    run_service(SERVICE, TicketerSettings, build_app)


if __name__ == "__main__":
    main()
