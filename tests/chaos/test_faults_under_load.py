"""The chaos suite at CI size: every scenario of `supportbus chaos` on the real stack (its own
broker, Toxiproxy, the LLM stub, Weaviate), 200 requests each, shorter faults than the
command's default. Outcomes only, never timing: every request answered (or, past the retry
budget, dead-lettered with that reason), no ticket twice, no process dying on its own, and
proof that each fault really happened."""

from __future__ import annotations

from pathlib import Path

import pytest

from supportbus_classifier.training import LabelledTexts
from supportbus_cli.chaos.report import markdown
from supportbus_cli.chaos.runner import ChaosOptions, Row
from supportbus_cli.chaos.scenarios import SCENARIOS
from supportbus_cli.chaos.suite import run_suite
from supportbus_cli.settings import CliSettings

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(2400)]

REQUESTS = 200


@pytest.fixture(scope="module")
def chaos_rows(
    tmp_path_factory: pytest.TempPathFactory,
    service_env: dict[str, str],
    banking77: LabelledTexts,
) -> dict[str, Row]:
    work_dir: Path = tmp_path_factory.mktemp("chaos")
    options = ChaosOptions(
        work_dir=work_dir,
        texts=banking77.texts,
        artifact_env=service_env,
        requests=REQUESTS,
        rate=25.0,
        fault_s=6.0,
        outage_s=12.0,
        restart_after_s=3.0,
        stall_s=60.0,
    )
    rows = run_suite(list(SCENARIOS), options, cache_dir=CliSettings().cache_dir)
    print("\n" + markdown(rows, "tests/chaos (CI size)"))
    return {row.scenario: row for row in rows}


@pytest.mark.parametrize("name", [s.name for s in SCENARIOS])
def test_scenario_loses_nothing_and_duplicates_no_ticket(
    chaos_rows: dict[str, Row], name: str
) -> None:
    row = chaos_rows[name]
    assert not row.skipped, row.skipped
    assert row.error == ""
    assert row.fault is not None
    assert row.fault.happened, row.fault
    assert row.published == REQUESTS
    assert row.audit is not None
    assert row.audit.lost == []
    assert row.audit.tickets.duplicates == 0
    assert row.died == ()
    if row.expect_dead_letters:
        # The outage outlasted the budget: some requests were dead-lettered saying so, the
        # rest answered, and each request got a ticket at most once.
        assert row.audit.dead > 0
        assert all("retry budget" in reason for reason in row.audit.dead_by_reason)
        assert row.audit.answered + row.audit.dead == REQUESTS
    else:
        assert row.audit.dead_by_reason == {}
        assert row.audit.answered == REQUESTS
        assert row.audit.tickets.for_run == REQUESTS
    assert row.problems == []


def test_redelivered_events_are_byte_identical_with_the_embedded_models(
    chaos_rows: dict[str, Row],
) -> None:
    """A crash redelivers records; what is produced again must be the very same bytes (the
    README's promise). The LLM's text may differ, so only embedded-model scenarios count."""
    embedded = [s.name for s in SCENARIOS if s.kind == "embedded"]
    redelivered = [chaos_rows[n] for n in embedded if chaos_rows[n].audit is not None]
    assert any(r.audit is not None and r.audit.duplicate_events > 0 for r in redelivered)
    for row in redelivered:
        assert row.audit is not None
        assert row.audit.duplicates_identical, (row.scenario, row.audit.differing_fields)
