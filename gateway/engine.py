"""The actors as the gateway sees them: every Ray call the gateway makes is in this module.

The gateway writes state to Redis first and then tells the controller, so a notification
that fails (Ray busy, controller restarting) delays the engine by at most one reconcile
period (a second) and never loses the change.
"""

from __future__ import annotations

import logging
from typing import Any

import ray

from actors.runtime import (
    RuntimeConfig,
    controller_name,
    find_actor,
    trunk_actor_name,
)
from cluster.errors import DialerError
from gateway.errors import Unavailable

log = logging.getLogger(__name__)

CALL_TIMEOUT_S = 30.0


class Engine:
    def __init__(self, cfg: RuntimeConfig, timeout_s: float = CALL_TIMEOUT_S) -> None:
        self.cfg = cfg
        self.timeout_s = timeout_s

    def _find(self, name: str) -> Any | None:
        if not ray.is_initialized():
            return None
        return find_actor(name)

    def _get(self, ref: Any) -> Any:
        """ray.get, with a domain error raised inside an actor re-raised as itself."""
        try:
            return ray.get(ref, timeout=self.timeout_s)
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, DialerError):
                raise exc.cause from None
            raise
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError) as exc:
            raise Unavailable(f"the dialing engine did not answer: {type(exc).__name__}") from exc

    def _notify(self, method: str, *args: Any) -> Any:
        controller = self._find(controller_name(self.cfg))
        if controller is None:
            log.warning("no controller to tell %s%s; it reconciles on start", method, args)
            return None
        try:
            return self._get(getattr(controller, method).remote(*args))
        except Exception:
            log.warning("controller.%s%s failed; the next reconcile applies it", method, args,
                        exc_info=True)  # fmt: skip
            return None

    def campaign_changed(self, campaign_id: str) -> None:
        self._notify("campaign_changed", campaign_id)

    def trunk_changed(self, trunk_id: str) -> None:
        self._notify("trunk_changed", trunk_id)

    def trunk_live_calls(self, trunk_id: str) -> int:
        handle = self._find(trunk_actor_name(self.cfg, trunk_id))
        if handle is None:
            return 0
        try:
            return int(self._get(handle.status.remote())["live"])
        except Exception:
            log.warning("trunk %s did not report its calls", trunk_id, exc_info=True)
            return 0

    def call_pool(self, queue_id: str, method: str, *args: Any) -> Any:
        """Calls a method of the queue's AgentPoolActor (the controller starts it if needed)."""
        controller = self._find(controller_name(self.cfg))
        if controller is None:
            raise Unavailable("the dialing engine is not running: agents cannot be served")
        pool = self._get(controller.pool.remote(queue_id))
        return self._get(getattr(pool, method).remote(*args))
