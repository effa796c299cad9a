"""A service that lacks what it needs refuses to start, saying what to do, instead of failing
later on the first request."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest


def _start(module: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", module],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_classifier_without_a_model_exits_with_the_command_to_fix_it(tmp_path: Path) -> None:
    result = _start(
        "supportbus_classifier.main",
        {
            "CLASSIFIER_MODEL_PATH": str(tmp_path / "missing.npz"),
            "CLASSIFIER_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        },
    )
    assert result.returncode == 2
    assert "cannot start" in result.stderr
    assert "supportbus train" in result.stderr


def test_retriever_without_an_index_exits_with_the_command_to_fix_it(tmp_path: Path) -> None:
    result = _start(
        "supportbus_retriever.main",
        {
            "RETRIEVER_INDEX_DIR": str(tmp_path / "no-index"),
            "RETRIEVER_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        },
    )
    assert result.returncode == 2
    assert "supportbus index build" in result.stderr


@pytest.mark.parametrize("variable", ["CLASSIFIER_TOPIC_PARTITIONS", "CLASSIFIER_RETRY_ATTEMPTS"])
def test_invalid_setting_is_reported_not_a_traceback(variable: str) -> None:
    result = _start("supportbus_classifier.main", {variable: "not-a-number"})
    assert result.returncode == 2
    assert variable.removeprefix("CLASSIFIER_").lower() in result.stderr
    assert "Traceback" not in result.stderr
