"""FastStream's per-record access log ("Received"/"Processed") is off unless asked for; a
running service's log proves it in tests/e2e (no such line in any service's log)."""

from __future__ import annotations

import logging

from supportbus_runtime.broker import build_broker
from supportbus_runtime.settings import ServiceSettings


def _access_log_level(settings: ServiceSettings) -> int:
    # FastStream logs "Received"/"Processed" at the broker's log_level; errors stay at ERROR.
    level: int = build_broker(settings, client_id="svc").config.logger.log_level
    return level


def test_access_lines_are_debug_by_default_so_an_info_logger_drops_them() -> None:
    assert _access_log_level(ServiceSettings()) == logging.DEBUG


def test_access_log_setting_brings_the_lines_back_at_info() -> None:
    assert _access_log_level(ServiceSettings(access_log=True)) == logging.INFO
