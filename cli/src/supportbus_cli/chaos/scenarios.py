"""The chaos scenarios: one fault each, on the stack that fault needs.

Every scenario expects the same outcome: every request answered, no ticket opened twice, no
process dying on its own, and no dead letter, except ``outage-past-budget``, whose outage lasts
longer than the ticketer's retry budget and must dead-letter with a reason that says so.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from supportbus_cli.chaos import faults as f
from supportbus_cli.chaos import llm_faults
from supportbus_cli.chaos.environment import HELPDESK_LINK, LLM_LINK, StackKind
from supportbus_runtime.errors import ConfigurationError

# The ticketer's helpdesk timeout on every chaos stack: short, so "timed out but created" and
# the timeout toxic show up within a run; the slow create answers after longer than this.
TICKETER_TIMEOUT_S = 2.0
SLOW_CREATE_S = 3.0


@dataclass(frozen=True)
class Scenario:
    name: str
    what: str
    fault: f.Fault
    kind: StackKind = "embedded"
    # How long the fault lasts ("fault" = fault_s, "outage" = outage_s, "instant" = a kill).
    lasts: str = "instant"
    needs_own_broker: bool = False
    expect_dead_letters: bool = False
    env: dict[str, str] = field(default_factory=dict)


def _kill(name: str) -> Scenario:
    return Scenario(
        f"kill-{name}", f"SIGKILL the {name}, restart it a few seconds later", f.kill_process(name)
    )


SCENARIOS: tuple[Scenario, ...] = (
    *(_kill(name) for name in ("classifier", "retriever", "ticketer", "responder", "helpdesk")),
    Scenario(
        "broker-kill",
        "SIGKILL the Kafka broker, restart it on the same data dir and port",
        f.broker_restart(hard=True),
        needs_own_broker=True,
    ),
    Scenario(
        "broker-restart",
        "graceful broker restart (SIGTERM, start again)",
        f.broker_restart(hard=False),
        needs_own_broker=True,
    ),
    Scenario(
        "rebalance-storm",
        "classifier and ticketer replicas join and are SIGKILLed, three rounds",
        f.rebalance_storm(),
    ),
    Scenario(
        "helpdesk-latency",
        "2 s added latency between the ticketer and the helpdesk",
        f.toxic(HELPDESK_LINK, "latency", {"latency": 2000, "jitter": 200}, expect="slow"),
        lasts="fault",
    ),
    Scenario(
        "helpdesk-timeout",
        "the helpdesk link swallows data until the ticketer times out",
        f.toxic(HELPDESK_LINK, "timeout", {"timeout": 0}, expect="timeout"),
        lasts="fault",
    ),
    Scenario(
        "helpdesk-reset",
        "connections to the helpdesk reset (TCP RST)",
        f.toxic(HELPDESK_LINK, "reset_peer", {"timeout": 0}, expect="error"),
        lasts="fault",
    ),
    Scenario(
        "helpdesk-5xx",
        "30% of ticket creations answered 503 by the helpdesk",
        f.helpdesk_faults({"rate_5xx": 0.3}, "5xx"),
        lasts="fault",
    ),
    Scenario(
        "helpdesk-timed-out-created",
        "30% of tickets written, the answer arriving after the ticketer gave up",
        f.helpdesk_faults({"slow_create_rate": 0.3, "slow_create_s": SLOW_CREATE_S}, "slow_create"),
        lasts="fault",
    ),
    Scenario(
        "llm-latency",
        "2 s added latency to the LLM endpoint (LLM mode)",
        f.toxic(LLM_LINK, "latency", {"latency": 2000, "jitter": 200}, expect="slow"),
        kind="llm",
        lasts="fault",
    ),
    Scenario(
        "llm-timeout",
        "the LLM link swallows data until the client times out (LLM mode)",
        f.toxic(LLM_LINK, "timeout", {"timeout": 0}, expect="timeout"),
        kind="llm",
        lasts="fault",
    ),
    Scenario(
        "llm-reset",
        "connections to the LLM endpoint reset (LLM mode)",
        f.toxic(LLM_LINK, "reset_peer", {"timeout": 0}, expect="error"),
        kind="llm",
        lasts="fault",
    ),
    Scenario(
        "llm-5xx",
        "30% of LLM calls answered 503 (LLM mode)",
        llm_faults.llm_script(llm_faults.errors_30_percent, "error"),
        kind="llm",
        lasts="fault",
    ),
    Scenario(
        "llm-429-storm",
        "every LLM call answered 429 with Retry-After for a while (LLM mode)",
        llm_faults.llm_script(llm_faults.rate_limit_storm, "rate_limit", breaker=True),
        kind="llm",
        lasts="fault",
    ),
    Scenario(
        "outage-helpdesk",
        "the helpdesk unreachable for the outage length",
        f.HELPDESK_OUTAGE,
        lasts="outage",
    ),
    Scenario(
        "outage-llm",
        "the LLM endpoint unreachable for the outage length (LLM mode)",
        f.LLM_OUTAGE,
        kind="llm",
        lasts="outage",
    ),
    Scenario(
        "outage-weaviate",
        "Weaviate unreachable for the outage length (retriever on Weaviate)",
        f.WEAVIATE_OUTAGE,
        kind="weaviate",
        lasts="outage",
    ),
    Scenario(
        "outage-past-budget",
        "the helpdesk unreachable for longer than the ticketer's retry budget",
        f.HELPDESK_OUTAGE,
        lasts="outage",
        expect_dead_letters=True,
        # The budget is set per run (a third of the outage), see runner.budget_env.
    ),
)

BY_NAME = {s.name: s for s in SCENARIOS}


def select(names: list[str] | None) -> list[Scenario]:
    """The scenarios named (or all); a name may be a prefix: ``kill`` picks every kill."""
    if not names:
        return list(SCENARIOS)
    picked: list[Scenario] = []
    for name in names:
        matches = [s for s in SCENARIOS if s.name == name or s.name.startswith(name + "-")]
        if not matches:
            known = ", ".join(s.name for s in SCENARIOS)
            raise ConfigurationError(f"unknown scenario {name!r}; known: {known}")
        picked += [m for m in matches if m not in picked]
    return picked
