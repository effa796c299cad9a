from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True)
def _clean_helpdesk_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    # Settings read HELPDESK_* variables; a developer's shell must not change test outcomes.
    for name in list(os.environ):
        if name.startswith("HELPDESK_"):
            monkeypatch.delenv(name)
