from __future__ import annotations

from supportbus_reviewer.app import build_app
from supportbus_reviewer.handlers import SERVICE
from supportbus_reviewer.settings import ReviewerSettings
from supportbus_runtime.kit import run_service


def main() -> None:
    run_service(SERVICE, ReviewerSettings, build_app)


if __name__ == "__main__":
    main()
