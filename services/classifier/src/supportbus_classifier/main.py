from __future__ import annotations

from supportbus_classifier.app import build_app
from supportbus_classifier.handlers import SERVICE
from supportbus_classifier.settings import ClassifierSettings
from supportbus_runtime.kit import run_service


def main() -> None:
    run_service(SERVICE, ClassifierSettings, build_app)


if __name__ == "__main__":
    main()
