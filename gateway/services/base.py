"""What every servicer shares: the tenant's state, the engine, idempotency, the caller."""

from __future__ import annotations

import contextvars
import threading
from dataclasses import dataclass, field

from cluster.state import DialerState
from gateway.auth import Principal
from gateway.engine import Engine
from gateway.errors import PermissionDenied
from gateway.idempotency import Idempotency

CURRENT_PRINCIPAL: contextvars.ContextVar[Principal | None] = contextvars.ContextVar(
    "dialer_principal", default=None
)
"""Set by the server's guard before a handler runs (in the handler's thread)."""


@dataclass
class Streams:
    """How server streams pace themselves."""

    poll_s: float = 0.5
    """WatchCampaign reads progress this often (it sends only on change)."""
    heartbeat_s: float = 5.0
    """WatchCampaign sends at least this often even when nothing changed."""
    block_ms: int = 1000
    """WatchAssignments blocks on the agent's stream this long per read."""


@dataclass
class Gateway:
    state: DialerState
    engine: Engine
    idem: Idempotency
    streams: Streams = field(default_factory=Streams)
    stopping: threading.Event = field(default_factory=threading.Event)
    """Set at shutdown: server streams end promptly so the grace period is enough."""

    def require_agent(self, agent_id: str) -> None:
        """An agent token acts only as its own agent; supervisors and admins as any."""
        principal = CURRENT_PRINCIPAL.get()
        if principal is None or not principal.may_act_as_agent(agent_id):
            raise PermissionDenied(f"this token may not act as agent {agent_id!r}")
