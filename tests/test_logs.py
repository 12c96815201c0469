"""Structured logs: JSON lines with their ids, and phone numbers kept out below DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from cluster import logs
from cluster.telephony import OriginateRequest

REQUEST = OriginateRequest(
    idempotency_key="c:1:7:1", campaign_id="camp_1", instance=1, lead=7, token="3",
    attempt=1, phone="+12125550100", caller_id="+12125550199", max_ring_s=30, amd=True,
)  # fmt: skip


@pytest.fixture(autouse=True)
def _restore_loggers() -> Iterator[None]:
    """configure() changes process-wide loggers: put them back for the other tests."""
    saved = {}
    for name in logs.LOGGERS:
        logger = logging.getLogger(name)
        saved[name] = (logger.level, logger.propagate, list(logger.handlers))
    yield
    for name, (level, propagate, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = propagate
        logger.handlers[:] = handlers


def _lines(phone_numbers: bool, level: str = "DEBUG") -> list[dict[str, object]]:
    out = io.StringIO()
    logs.configure(level, phone_numbers, stream=out)
    log = logging.getLogger("actors.test_logs")
    log.debug("call ringing", extra=logs.call_fields(REQUEST, "t1-abc", "ringing"))
    log.info("call to +12125550100 ended", extra=logs.call_fields(REQUEST, "t1-abc", "hung_up"))
    log.info("campaign camp_1: ready -> active", extra={"campaign_id": "camp_1", "instance": 1})
    return [json.loads(line) for line in out.getvalue().splitlines()]


def test_one_json_object_per_line_with_the_call_and_campaign_ids() -> None:
    debug, info, campaign = _lines(phone_numbers=False)
    assert debug["level"] == "debug" and debug["logger"] == "actors.test_logs"
    assert {k: debug[k] for k in ("campaign_id", "instance", "lead", "call_id", "event")} == {
        "campaign_id": "camp_1", "instance": 1, "lead": 7, "call_id": "t1-abc", "event": "ringing",
    }  # fmt: skip
    assert info["event"] == "hung_up" and "ts" in info
    assert campaign == {**campaign, "campaign_id": "camp_1", "instance": 1, "level": "info"}


def test_no_phone_number_at_info_unless_turned_on() -> None:
    debug, info, _ = _lines(phone_numbers=False)
    assert debug["phone"] == "+12125550100"  # DEBUG is the operator's explicit choice
    assert info["phone"] == logs.REDACTED
    assert "+1212" not in json.dumps(info)
    _, shown, _ = _lines(phone_numbers=True)
    assert shown["phone"] == "+12125550100" and "+12125550100" in str(shown["msg"])


def test_level_and_phone_switch_come_from_the_environment() -> None:
    assert logs.settings_from_env({}) == ("INFO", False)
    env = {"DIALER_LOG_LEVEL": "debug", "DIALER_LOG_PHONE_NUMBERS": "1"}
    assert logs.settings_from_env(env) == ("DEBUG", True)


def test_info_drops_debug_lines() -> None:
    assert [line["level"] for line in _lines(False, level="INFO")] == ["info", "info"]
