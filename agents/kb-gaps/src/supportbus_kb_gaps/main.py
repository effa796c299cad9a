from __future__ import annotations

from supportbus_kb_gaps.app import build_app
from supportbus_kb_gaps.handlers import SERVICE
from supportbus_kb_gaps.settings import KbGapsSettings
from supportbus_runtime.kit import run_service


def main() -> None:
    run_service(SERVICE, KbGapsSettings, build_app)


if __name__ == "__main__":
    main()
