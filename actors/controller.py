"""The controller: a named actor that owns the registry of campaign, pool and trunk actors.

It reconciles toward what Redis says: a dialer for every Active or Paused campaign, a pool for
every queue in use, a trunk actor for every registered trunk; actors of deleted trunks and of
campaigns that are no longer running are stopped. After a restart it rebuilds the registry the
same way, finding live actors by name.

It is also the scheduler: each pass asks `cluster.scheduler.due_step` what every scheduled
campaign needs (a DNC re-scrub 15 minutes before an occurrence, its start, its end, or
completion when the series is over) and applies it through the campaign store. Steps are
compare-and-set transitions, so a pass repeated after a restart, or racing a dialer that ended
its own occurrence, does nothing twice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import ray

from actors.campaign import CampaignActor
from actors.pool import AgentPoolActor
from actors.runtime import (
    ACTOR_OPTIONS,
    NAMESPACE,
    RuntimeConfig,
    campaign_actor_name,
    controller_name,
    find_actor,
    pool_actor_name,
    trunk_actor_name,
)
from actors.trunk import TrunkActor
from cluster.errors import FailedPrecondition, NotFound
from cluster.lifecycle import IllegalTransition, Trigger
from cluster.models import Campaign, CampaignStatus
from cluster.schedule import RESCRUB_LEAD
from cluster.scheduler import ScheduleStep, StepKind, due_step, starts_soon

log = logging.getLogger(__name__)

RUNNING = frozenset({CampaignStatus.ACTIVE, CampaignStatus.PAUSED})
RECONCILE_EVERY_S = 1.0


def trunk_placement(cluster_resources: dict[str, float]) -> dict[str, Any]:
    """Pins trunk actors to nodes offering a `trunk` custom resource, when any node does
    (KubeRay: rayStartParams resources on the trunk worker group)."""
    if cluster_resources.get("trunk", 0) > 0:
        return {"resources": {"trunk": 0.001}}
    return {}


class Registry:
    def __init__(self, cfg: RuntimeConfig) -> None:
        self.cfg = cfg
        self.state = cfg.state()
        self.actors: dict[str, Any] = {}

    def _ensure(self, name: str, actor_class: Any, *args: Any, **extra: Any) -> Any:
        handle = self.actors.get(name) or find_actor(name)
        if handle is None:
            handle = actor_class.options(name=name, **ACTOR_OPTIONS, **extra).remote(
                self.cfg, *args
            )
        self.actors[name] = handle
        return handle

    def ensure_trunk(self, trunk_id: str) -> Any:
        extra = trunk_placement(ray.cluster_resources())
        return self._ensure(trunk_actor_name(self.cfg, trunk_id), TrunkActor, trunk_id, **extra)

    def ensure_pool(self, queue_id: str) -> Any:
        self.state.r.hsetnx(self.state.keys.queues(), queue_id, queue_id)
        return self._ensure(pool_actor_name(self.cfg, queue_id), AgentPoolActor, queue_id)

    def ensure_campaign(self, campaign_id: str, replica: int = 0) -> Any:
        return self._ensure(
            campaign_actor_name(self.cfg, campaign_id, replica), CampaignActor, campaign_id, replica
        )

    def _calls_in_flight(self, campaign: Campaign) -> bool:
        try:
            run = self.state.campaigns.run_instance(campaign)
        except LookupError:
            return False
        return run is not None and run.leads.leased_count() > 0

    def stop(self, name: str) -> None:
        handle = self.actors.pop(name, None) or find_actor(name)
        if handle is not None:
            with contextlib.suppress(Exception):
                ray.kill(handle, no_restart=True)

    def reconcile(self) -> dict[str, list[str]]:
        wanted: set[str] = set()
        for trunk in self.state.trunks.all():
            self.ensure_trunk(trunk.id)
            wanted.add(trunk_actor_name(self.cfg, trunk.id))
        for raw in self.state.r.hkeys(self.state.keys.queues()):
            queue_id = raw.decode() if isinstance(raw, bytes) else raw
            self.ensure_pool(queue_id)
            wanted.add(pool_actor_name(self.cfg, queue_id))
        now = self.state.clock.now()
        for campaign in self.state.campaigns.all():
            if campaign.dialing_mode.uses_agents and campaign.queue_id:
                self.ensure_pool(campaign.queue_id)
                wanted.add(pool_actor_name(self.cfg, campaign.queue_id))
            if (
                campaign.status in RUNNING
                or self._calls_in_flight(campaign)
                or starts_soon(campaign, now, RESCRUB_LEAD)
            ):
                # A stopped or completed run keeps its dialer until its last calls have ended,
                # so their outcomes are recorded. A scheduled one gets its dialer when it is
                # re-scrubbed, so dialing begins on time.
                self.ensure_campaign(campaign.id)
                wanted.add(campaign_actor_name(self.cfg, campaign.id))
        for name in [n for n in self.actors if n not in wanted and ":campaign:" in n]:
            if name.endswith("#0"):
                self.stop(name)
        for name in [n for n in self.actors if n not in wanted and ":trunk:" in n]:
            self.stop(name)
        return {"actors": sorted(self.actors)}

    def run_schedules(self) -> list[tuple[str, StepKind]]:
        """Applies every scheduling step that is due; returns what it applied."""
        campaigns = self.state.campaigns
        now = self.state.clock.now()
        applied = []
        for campaign in campaigns.all():
            if campaign.schedule is None:
                continue
            step = due_step(campaign, now, campaigns.rescrubbed_for(campaign.id))
            if step is None:
                continue
            try:
                self._apply(campaign, step)
            except (IllegalTransition, FailedPrecondition, NotFound):
                continue  # another pass, a dialer or a user got there first
            log.info("campaign %s: schedule %s", campaign.id, step.kind)
            applied.append((campaign.id, step.kind))
        return applied

    def _apply(self, campaign: Campaign, step: ScheduleStep) -> None:
        campaigns = self.state.campaigns
        match step.kind:
            case StepKind.RESCRUB:
                assert step.occurrence is not None
                campaigns.rescrub(campaign.id, step.occurrence)
            case StepKind.START:
                assert step.occurrence is not None
                if campaigns.rescrubbed_for(campaign.id) != step.occurrence.start:
                    campaigns.rescrub(campaign.id, step.occurrence)  # created or edited late
                campaigns.trigger(campaign.id, Trigger.SCHEDULE_START, step.occurrence)
            case StepKind.END:
                campaigns.trigger(campaign.id, Trigger.SCHEDULE_END)
            case StepKind.OVER:
                campaigns.trigger(campaign.id, Trigger.SCHEDULE_OVER)

    def stop_all(self) -> None:
        for name in list(self.actors):
            self.stop(name)


@ray.remote
class Controller:
    def __init__(self, cfg: RuntimeConfig) -> None:
        cfg.configure_logging()
        self.registry = Registry(cfg)
        self._reconciling = asyncio.Lock()
        self._loop = asyncio.get_event_loop().create_task(self._run())

    async def _run(self) -> None:
        """The scheduler's passes and the reconciler's run in worker threads: creating an
        actor or asking the GCS for one can block for seconds on a busy node, and a
        schedule step must not wait behind that (nor must calls to this actor)."""
        loop = asyncio.get_running_loop()
        reconciler = loop.create_task(self._reconcile_loop())
        follow_ups: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    changed = await asyncio.to_thread(self.registry.run_schedules)
                    if changed:
                        # Not awaited: a re-scrub's dialer may take seconds to start, and the
                        # occurrence's start step must not wait for it.
                        task = loop.create_task(self._start_dialers(changed))
                        follow_ups.add(task)
                        task.add_done_callback(follow_ups.discard)
                except Exception:
                    log.exception("scheduling pass failed")
                await asyncio.sleep(self.registry.cfg.schedule_every_s)
        finally:
            reconciler.cancel()
            for task in follow_ups:
                task.cancel()

    async def _start_dialers(self, changed: list[tuple[str, StepKind]]) -> None:
        """After schedule steps: the dialers they need run, and re-read their records."""
        try:
            await self._reconcile()
            for campaign_id, _ in changed:
                await self._poke(campaign_id)
        except Exception:
            log.exception("starting dialers after schedule steps failed")

    async def _reconcile_loop(self) -> None:
        while True:
            try:
                await self._reconcile()
            except Exception:
                log.exception("reconcile failed")
            await asyncio.sleep(RECONCILE_EVERY_S)

    async def _reconcile(self) -> dict[str, list[str]]:
        async with self._reconciling:
            return await asyncio.to_thread(self.registry.reconcile)

    async def _poke(self, campaign_id: str) -> None:
        handle = find_actor(campaign_actor_name(self.registry.cfg, campaign_id))
        if handle is not None:
            await handle.poke.remote()

    async def reconcile(self) -> dict[str, list[str]]:
        return await self._reconcile()

    async def campaign_changed(self, campaign_id: str) -> None:
        """Called after a lifecycle action: make sure a dialer runs and re-reads the record."""
        await self._reconcile()
        await self._poke(campaign_id)

    async def trunk_changed(self, trunk_id: str) -> dict[str, Any] | None:
        await self._reconcile()
        handle = find_actor(trunk_actor_name(self.registry.cfg, trunk_id))
        return await handle.reload.remote() if handle is not None else None

    async def pool(self, queue_id: str) -> Any:
        return self.registry.ensure_pool(queue_id)

    async def shutdown(self) -> None:
        """Stops every actor of this prefix and tenant (tests, and `make up` on exit)."""
        self._loop.cancel()
        self.registry.stop_all()


def start_controller(cfg: RuntimeConfig) -> Any:
    """The controller for cfg's prefix and tenant, created if it is not running."""
    options = {"name": controller_name(cfg), **ACTOR_OPTIONS}
    handle = Controller.options(**options).remote(cfg)  # type: ignore[attr-defined]
    ray.get(handle.reconcile.remote())
    return handle


def stop_controller(cfg: RuntimeConfig) -> None:
    handle = find_actor(controller_name(cfg))
    if handle is None:
        return
    with contextlib.suppress(Exception):
        ray.get(handle.shutdown.remote(), timeout=30)
    ray.kill(handle, no_restart=True)


__all__ = ["NAMESPACE", "Controller", "Registry", "start_controller", "stop_controller"]
