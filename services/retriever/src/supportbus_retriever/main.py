from __future__ import annotations

from supportbus_retriever.app import build_app
from supportbus_retriever.handlers import SERVICE
from supportbus_retriever.settings import RetrieverSettings
from supportbus_runtime.kit import run_service


def main() -> None:
    run_service(SERVICE, RetrieverSettings, build_app)


if __name__ == "__main__":
    main()
