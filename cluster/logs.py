"""Structured logs: one JSON object per line, with the ids that say what a line is about.

Context goes in `extra` (`log.info("campaign status", extra={"campaign_id": ..., ...})`) and
comes out as top-level keys: campaign_id, instance, lead, call_id, trunk_id, queue_id, ...
Levels: one line per call state change at DEBUG (trunk), one per campaign status change at
INFO (campaign store).

Phone numbers are personal data: below DEBUG they never reach a log line unless the operator
sets DIALER_LOG_PHONE_NUMBERS=1. A `phone` field is replaced by "[redacted]", and anything
that looks like an E.164 number in the message text is too.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from cluster.telephony import OriginateRequest

LOGGERS = ("cluster", "actors", "gateway")
"""Our packages' loggers; configure() leaves every other logger (Ray's, grpc's) alone."""
REDACTED = "[redacted]"
PHONE_FIELDS = frozenset({"phone"})
E164_IN_TEXT = re.compile(r"\+[1-9]\d{6,14}\b")

# Attributes every LogRecord has; anything else on a record came from `extra`.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "taskName"}


class JsonFormatter(logging.Formatter):
    def __init__(self, phone_numbers: bool = False) -> None:
        super().__init__()
        self.phone_numbers = phone_numbers
        """Whether phone numbers may appear at INFO and above."""

    def format(self, record: logging.LogRecord) -> str:
        redact = record.levelno >= logging.INFO and not self.phone_numbers
        message = record.getMessage()
        if redact:
            message = E164_IN_TEXT.sub(REDACTED, message)
        out: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": message,
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key.startswith("_"):
                continue
            if redact and key in PHONE_FIELDS:
                value = REDACTED
            out[key] = value if isinstance(value, int | float | bool | None) else str(value)
        if record.exc_info:
            text = self.formatException(record.exc_info)
            out["exc"] = E164_IN_TEXT.sub(REDACTED, text) if redact else text
        return json.dumps(out, ensure_ascii=False)


def call_fields(request: OriginateRequest, call_id: str, event: str) -> dict[str, Any]:
    """The context of one call's log line (the formatter redacts the phone at INFO)."""
    return {
        "campaign_id": request.campaign_id,
        "instance": request.instance,
        "lead": request.lead,
        "attempt": request.attempt,
        "call_id": call_id,
        "event": str(event),
        "agent_id": request.agent_id or "",
        "phone": request.phone,
    }


def settings_from_env(env: Mapping[str, str] | None = None) -> tuple[str, bool]:
    """(DIALER_LOG_LEVEL, default INFO; DIALER_LOG_PHONE_NUMBERS=1 to log numbers at INFO)."""
    env = os.environ if env is None else env
    level = (env.get("DIALER_LOG_LEVEL") or "INFO").upper()
    return level, env.get("DIALER_LOG_PHONE_NUMBERS", "") in ("1", "true", "yes")


def configure(level: str = "INFO", phone_numbers: bool = False, stream: Any = None) -> None:
    """JSON lines on stderr for our packages' loggers; safe to call again (actors call it in
    their constructor: Ray runs them in worker processes of their own)."""
    formatter = JsonFormatter(phone_numbers)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        for handler in list(logger.handlers):
            if getattr(handler, "_dialer_json", False):
                logger.removeHandler(handler)
        handler = logging.StreamHandler(stream or sys.stderr)
        handler.setFormatter(formatter)
        handler._dialer_json = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
