"""CampaignActor: dials one campaign's current run instance.

The actor holds nothing that Redis does not: after a restart it re-reads the campaign and its
run instance and carries on. Several replicas may work one campaign (one per dialer node); the
lease script keeps them from taking the same lead and caps their combined calls at the pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgpack
import ray

from actors.runtime import (
    RuntimeConfig,
    call_reliably,
    campaign_actor_name,
    find_actor,
    pool_actor_name,
    trunk_actor_name,
)
from actors.trunk import CallReport
from cluster.agents import CallContext
from cluster.dialing import (
    Outcome,
    agentless_slots,
    attempt_key,
    is_live_answer,
    resolve_unanswered,
)
from cluster.errors import FailedPrecondition, NotFound
from cluster.leads import Completion, Lease
from cluster.lifecycle import IllegalTransition, Trigger
from cluster.models import Campaign, CampaignStatus, DialingMode
from cluster.runs import LeasedContact, RunInstance
from cluster.scheduler import (
    dial_deadline,
    may_dial,
    may_dial_any,
    next_dial_time,
    occurrence_over,
)
from cluster.telephony import CallEventKind, OriginateRequest

log = logging.getLogger(__name__)

MAX_LEASE_BATCH = 200
RESERVATION_CANCELLED = b"cancelled"
"""Tombstone the pool writes for a reservation it gave up on (see dial_for_agent)."""
REFUSED_RETRY_MS = 1_000
"""A lead a trunk could not take (capacity, CPS) waits this long (virtual) before another try."""


@dataclass
class TrunkSlot:
    trunk_id: str
    handle: Any
    free: int


class CampaignDialer:
    """The dialing loop of one campaign replica; Ray-free apart from the handles it is given."""

    def __init__(self, cfg: RuntimeConfig, campaign_id: str, replica: int = 0) -> None:
        self.cfg = cfg
        self.campaign_id = campaign_id
        self.replica = replica
        self.name = campaign_actor_name(cfg, campaign_id, replica)
        self.state = cfg.state()
        self.clock = self.state.clock
        self.campaign: Campaign | None = None
        self.run: RunInstance | None = None
        self._runs: dict[int, RunInstance] = {}
        self.deleted = False
        self.counters = {"placed": 0, "refused": 0, "deferred_window": 0, "events": 0}
        self._trunk_snapshot: tuple[float, list[TrunkSlot]] | None = None

    # State ------------------------------------------------------------------------------------
    def refresh(self) -> Campaign | None:
        try:
            campaign = self.state.campaigns.get(self.campaign_id)
        except NotFound:
            self.deleted = True
            self.campaign = self.run = None
            return None
        self.campaign = campaign
        if campaign.run_instance and (
            self.run is None or self.run.instance != campaign.run_instance
        ):
            self.run = self._open(campaign.run_instance)
        return campaign

    def _open(self, instance: int) -> RunInstance | None:
        run = self._runs.get(instance)
        if run is None:
            try:
                run = RunInstance.open(
                    self.state.r, self.state.keys, self.state.lists, self.state.dnc,
                    self.campaign_id, instance,
                )  # fmt: skip
            except LookupError:
                return None
            self._runs[instance] = run
        return run

    @property
    def retry_ms(self) -> int:
        assert self.campaign is not None
        return self.campaign.retry_period_minutes * 60_000

    # The loop ---------------------------------------------------------------------------------
    async def tick(self) -> None:
        campaign = self.refresh()
        if campaign is None or self.run is None:
            return
        if campaign.status not in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED):
            return
        now = self.clock.now_ms()
        self.run.leads.reap(now, campaign.max_attempts, self.retry_ms)
        if occurrence_over(campaign, self.clock.now()):
            self._end_occurrence(campaign)
            return
        if campaign.status is not CampaignStatus.ACTIVE:
            return
        if self.run.leads.exhausted():
            self._complete_run(campaign)
            return
        if campaign.dialing_mode is DialingMode.AGENTLESS:
            await self._dial_agentless(campaign, now)
        else:
            await self._announce_demand(campaign, now)

    def _complete_run(self, campaign: Campaign) -> None:
        # IllegalTransition: another replica completed it, or the user paused it meanwhile.
        with contextlib.suppress(IllegalTransition):
            self.state.campaigns.trigger(campaign.id, Trigger.RUN_EXHAUSTED)

    def _end_occurrence(self, campaign: Campaign) -> None:
        """The scheduler ends it too; the dialer sees it first, to the tick, so no lead is
        leased past the end. Calls already ringing finish."""
        with contextlib.suppress(IllegalTransition):
            self.state.campaigns.trigger(campaign.id, Trigger.SCHEDULE_END)

    async def _trunks(self) -> list[TrunkSlot]:
        """The trunks' free channels (and CPS tokens), asked of every trunk at most once per
        tick interval: a burst of progressive dials shares one snapshot, its free counts
        taken down as calls are placed. A trunk fuller than its snapshot refuses the call,
        and the next one is tried."""
        now = time.monotonic()
        if self._trunk_snapshot is not None and now - self._trunk_snapshot[0] < self.cfg.tick_s:
            return self._trunk_snapshot[1]
        slots = await self._ask_trunks()
        self._trunk_snapshot = (now, slots)
        return slots

    async def _ask_trunks(self) -> list[TrunkSlot]:
        configs = [t for t in self.state.trunks.all() if not t.draining and t.channels > 0]
        handles = [(t.id, find_actor(trunk_actor_name(self.cfg, t.id))) for t in configs]
        live = [(tid, h) for tid, h in handles if h is not None]
        statuses = await asyncio.gather(
            *(h.status.remote() for _, h in live), return_exceptions=True
        )
        slots = []
        for (tid, handle), status in zip(live, statuses, strict=True):
            if isinstance(status, BaseException):
                continue
            slots.append(TrunkSlot(tid, handle, min(status["free"], status["cps_tokens"])))
        return slots

    async def _dial_agentless(self, campaign: Campaign, now: int) -> None:
        assert self.run is not None
        if not may_dial_any(campaign, self.clock.now()):
            return  # the whole campaign is outside its window: lease nothing
        slots = agentless_slots(campaign.pacing, self.run.leads.leased_count())
        if slots <= 0:
            return
        trunks = await self._trunks()
        n = min(slots, sum(t.free for t in trunks), MAX_LEASE_BATCH)
        if n <= 0:
            return
        leased = self.run.lease_contacts(
            now, n, self._ttl_ms, campaign.max_attempts, max_leased=campaign.pacing
        )
        await self._place_many(campaign, leased, trunks)

    async def _place_many(
        self, campaign: Campaign, leased: list[LeasedContact], trunks: list[TrunkSlot]
    ) -> None:
        """Originates agentless leads in one batch per trunk, the trunks in parallel: one Ray
        call per trunk and tick instead of one per lead. A lead no trunk takes waits a moment."""
        assert self.run is not None
        now_dt = self.clock.now()
        batches: dict[str, tuple[TrunkSlot, list[tuple[LeasedContact, OriginateRequest]]]] = {}
        order = sorted(trunks, key=lambda t: -t.free)
        for lc in leased:
            if not may_dial(campaign, lc.contact, now_dt):
                self._defer_to_window(campaign, lc)
                continue
            trunk = next((t for t in order if t.free > 0), None)
            if trunk is None:
                self._refused(lc)
                continue
            trunk.free -= 1
            request = self._request(campaign, lc, now_dt, agent_id=None, reservation="")
            batches.setdefault(trunk.trunk_id, (trunk, []))[1].append((lc, request))
        results = await asyncio.gather(
            *(
                call_reliably(trunk.handle.originate_many, [r for _, r in batch], self.name)
                for trunk, batch in batches.values()
            ),
            return_exceptions=True,
        )
        for (_, batch), answers in zip(batches.values(), results, strict=True):
            if isinstance(answers, BaseException):
                # The trunk is gone (its calls, if any, died with it): the leases lapse and the
                # reaper settles them, attempt counted, as for any lost call.
                log.warning("originate batch failed: %s", answers)
                continue
            for (lc, _), answer in zip(batch, answers, strict=True):
                self._settle_originate(campaign, lc, answer)

    def _settle_originate(
        self, campaign: Campaign, lc: LeasedContact, answer: dict[str, str]
    ) -> None:
        """What a trunk's answer to one originate means for the lead."""
        result = answer["result"]
        if result in ("placed", "duplicate"):
            self.counters["placed"] += 1
        elif result == "too_late":
            self._defer_to_window(campaign, lc)
        elif result != "lease_lost":  # lease_lost: the lead is no longer ours
            self._refused(lc)

    def _refused(self, lc: LeasedContact) -> None:
        assert self.run is not None
        self.counters["refused"] += 1
        self.run.leads.defer(lc.lease, self.clock.now_ms() + REFUSED_RETRY_MS)

    def _request(
        self,
        campaign: Campaign,
        lc: LeasedContact,
        now_dt: datetime,
        agent_id: str | None,
        reservation: str,
    ) -> OriginateRequest:
        assert self.run is not None
        # The trunk refuses the call from this instant on; a resend outside the window may
        # only be answered as a duplicate.
        deadline = dial_deadline(campaign, lc.contact, now_dt)
        return OriginateRequest(
            idempotency_key=attempt_key(
                self.campaign_id, self.run.instance, lc.lease.lead, lc.lease.attempt
            ),
            campaign_id=self.campaign_id,
            instance=self.run.instance,
            lead=lc.lease.lead,
            token=lc.lease.token,
            attempt=lc.lease.attempt,
            phone=lc.contact.phone,
            caller_id=campaign.caller_id,
            max_ring_s=campaign.max_ring_time_seconds,
            amd=campaign.amd_enabled,
            agent_id=agent_id,
            reservation=reservation,
            tenant=self.cfg.tenant,
            dial_by_ms=int(deadline.timestamp() * 1000) if deadline else self.clock.now_ms(),
        )

    @property
    def _ttl_ms(self) -> int:
        return int(self.cfg.lease_ttl_s * 1000)

    async def _place(
        self,
        campaign: Campaign,
        lc: LeasedContact,
        trunks: list[TrunkSlot],
        agent_id: str | None,
        resend: bool = False,
        reservation: str = "",
    ) -> str | None:
        """Originates one leased lead; returns the call id, or None if the lead was given back.
        `resend` repeats an originate that may already have happened: no window check then,
        the trunk's idempotency answer decides."""
        assert self.run is not None
        now_dt = self.clock.now()
        if not resend and not may_dial(campaign, lc.contact, now_dt):
            self._defer_to_window(campaign, lc)
            return None
        request = self._request(campaign, lc, now_dt, agent_id, reservation)
        for trunk in sorted(trunks, key=lambda t: -t.free):
            if trunk.free <= 0:
                break
            answer = await call_reliably(trunk.handle.originate, request, self.name)
            if answer["result"] in ("placed", "duplicate"):
                trunk.free -= 1
                self.counters["placed"] += 1
                return str(answer.get("call_id", ""))
            if answer["result"] in ("lease_lost", "too_late"):
                self._settle_originate(campaign, lc, answer)
                return None
            trunk.free = 0
        self._refused(lc)
        return None

    def _defer_to_window(self, campaign: Campaign, lc: LeasedContact) -> None:
        """Gives a lead back, attempt not counted, until its window opens again."""
        assert self.run is not None
        opens = next_dial_time(campaign, lc.contact, self.clock.now())
        # None: not within this occurrence; the lead waits for the instance to end.
        until = int(opens.timestamp() * 1000) if opens else self.clock.now_ms() + 3_600_000
        self.run.leads.defer(lc.lease, until)
        self.counters["deferred_window"] += 1

    # Progressive ------------------------------------------------------------------------------
    def _pool(self, campaign: Campaign) -> Any | None:
        return find_actor(pool_actor_name(self.cfg, campaign.queue_id or ""))

    async def _announce_demand(self, campaign: Campaign, now: int) -> None:
        assert self.run is not None
        pool = self._pool(campaign)
        if pool is None:
            return
        wanting = self.run.leads.has_dialable(now)
        await call_reliably(pool.want, self.name, campaign.priority, wanting)

    async def dial_for_agent(self, agent_id: str, reservation: str) -> CallContext | None:
        """Called by the pool with a reserved agent: place one call for it, or say no.

        Idempotent per reservation: the lease taken for it is recorded before dialing, so a
        retried request (this actor died mid-call) re-sends the same originate, which the
        trunk answers as a duplicate instead of placing a second call for one agent."""
        campaign = self.refresh()
        if campaign is None or self.run is None or campaign.status is not CampaignStatus.ACTIVE:
            return None
        run = self.run
        trunks = await self._trunks()
        if not any(t.free > 0 for t in trunks):
            return None
        recorded = self.state.r.hget(run.keys.reservations(), reservation)
        if recorded == RESERVATION_CANCELLED:
            return None  # the pool gave up on this reservation and freed the agent
        if recorded is not None:
            lead, token, attempt = msgpack.unpackb(recorded)
            ((_, contact),) = run.contacts_for([lead])
            if contact is None:
                return None
            lc = LeasedContact(Lease(lead, token, attempt), contact, "")
            return await self._call_for_agent(
                campaign, lc, trunks, agent_id, reservation, resend=True
            )
        for _ in range(5):  # a lead outside its window is deferred; try the next
            leased = run.lease_contacts(self.clock.now_ms(), 1, self._ttl_ms, campaign.max_attempts)
            if not leased:
                return None
            lc = leased[0]
            # Claim the reservation for this lead; the pool claims it with a tombstone when it
            # gives up on it, so exactly one of the two wins (HSETNX on one field).
            if not self.state.r.hsetnx(
                run.keys.reservations(),
                reservation,
                msgpack.packb([lc.lease.lead, lc.lease.token, lc.lease.attempt]),
            ):
                run.leads.defer(lc.lease, self.clock.now_ms())
                return None
            placed = await self._call_for_agent(campaign, lc, trunks, agent_id, reservation)
            if placed is not None:
                return placed
            self.state.r.hdel(run.keys.reservations(), reservation)
        return None

    async def _call_for_agent(
        self,
        campaign: Campaign,
        lc: LeasedContact,
        trunks: list[TrunkSlot],
        agent_id: str,
        reservation: str,
        resend: bool = False,
    ) -> CallContext | None:
        assert self.run is not None
        call_id = await self._place(campaign, lc, trunks, agent_id, resend, reservation)
        if call_id is None:
            return None
        return CallContext(
            campaign_id=self.campaign_id,
            instance=self.run.instance,
            lead=lc.lease.lead,
            token=lc.lease.token,
            attempt=lc.lease.attempt,
            call_id=call_id,
            phone=lc.contact.phone,
            contact=lc.contact.to_record(),
            reservation=reservation,
        )

    # Events -----------------------------------------------------------------------------------
    async def on_call_events(self, reports: list[CallReport]) -> None:
        """Call events in the order a trunk saw them; the campaign is read once per batch."""
        campaign = self.refresh()
        settled: list[tuple[RunInstance, Completion]] = []
        try:
            for report in reports:
                await self._on_call_event(campaign, report, settled)
        finally:
            self._settle(settled)

    def _settle(self, settled: list[tuple[RunInstance, Completion]]) -> None:
        """Records a batch's agentless outcomes in one round trip per run."""
        by_run: dict[int, tuple[RunInstance, list[Completion]]] = {}
        for run, completion in settled:
            by_run.setdefault(run.instance, (run, []))[1].append(completion)
        for run, completions in by_run.values():
            run.leads.complete_many(completions)

    async def _on_call_event(
        self,
        campaign: Campaign | None,
        report: CallReport,
        settled: list[tuple[RunInstance, Completion]],
    ) -> None:
        """`settled` collects agentless outcomes, recorded together after the batch; an
        agent's call is recorded at once (the pool acts on it next)."""
        self.counters["events"] += 1
        req = report.request
        run = self._open(req.instance)
        if campaign is None or run is None or report.kind is CallEventKind.RINGING:
            return
        lease = Lease(req.lead, req.token, req.attempt)
        call = CallContext(
            req.campaign_id,
            req.instance,
            req.lead,
            req.token,
            req.attempt,
            report.call_id,
            req.phone,
            reservation=req.reservation,
        )
        pool = self._pool(campaign) if req.agent_id else None
        now = self.clock.now_ms()
        if is_live_answer(report.kind):
            if pool is None or await self._connect_agent(pool, req.agent_id or "", call):
                return
            # No agent could take the answered call: abandon it (hang up, retry the lead).
            await self._hangup(report)
            run.leads.complete(
                self.clock.now_ms(), lease, Outcome.ABANDONED, retry=True,
                max_attempts=campaign.max_attempts, min_retry_ms=self.retry_ms,
            )  # fmt: skip
            return
        machine = report.kind is CallEventKind.ANSWERED_MACHINE or (
            report.kind is CallEventKind.HUNG_UP and report.answer == CallEventKind.ANSWERED_MACHINE
        )
        if report.kind is CallEventKind.HUNG_UP and report.answered and not machine:
            # An agent's call waits for the agent's disposition before the lead is settled.
            connected = Completion(
                now, lease, Outcome.CONNECTED, retry=False, hold=pool is not None,
                max_attempts=campaign.max_attempts, min_retry_ms=self.retry_ms,
            )  # fmt: skip
            if pool is None:
                settled.append((run, connected))
                return
            run.leads.complete_many([connected])
            await call_reliably(pool.end_call, req.agent_id, call)
            return
        if report.kind is CallEventKind.ANSWERED_MACHINE:
            # Hang up first: the retry period counts from the end of the call.
            await self._hangup(report)
            now = self.clock.now_ms()
        kind = CallEventKind.ANSWERED_MACHINE if machine else report.kind
        resolution = resolve_unanswered(kind, report.cause)
        unanswered = Completion(
            now, lease, resolution.outcome, retry=resolution.retry,
            max_attempts=campaign.max_attempts, min_retry_ms=self.retry_ms,
        )  # fmt: skip
        if pool is None:
            settled.append((run, unanswered))
            return
        run.leads.complete_many([unanswered])
        await call_reliably(pool.unreserve, req.agent_id, call)

    async def _connect_agent(self, pool: Any, agent_id: str, call: CallContext) -> bool:
        try:
            await call_reliably(pool.connect, agent_id, call)
            return True
        except FailedPrecondition:
            return False
        except ray.exceptions.RayTaskError as exc:
            if isinstance(exc.cause, FailedPrecondition):
                return False
            raise

    async def _hangup(self, report: CallReport) -> None:
        trunk = find_actor(trunk_actor_name(self.cfg, report.trunk_id))
        if trunk is not None:
            await call_reliably(trunk.hangup, report.call_id)


@ray.remote
class CampaignActor:
    def __init__(self, cfg: RuntimeConfig, campaign_id: str, replica: int = 0) -> None:
        cfg.configure_logging()
        self.dialer = CampaignDialer(cfg, campaign_id, replica)
        self._wake = asyncio.Event()
        self._loop = asyncio.get_event_loop().create_task(self._run())

    async def _run(self) -> None:
        tick_s = self.dialer.cfg.tick_s
        while not self.dialer.deleted:
            try:
                await self.dialer.tick()
            except Exception:
                log.exception("campaign %s tick failed", self.dialer.campaign_id)
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), tick_s)

    async def poke(self) -> None:
        """Re-read the campaign now (after run, pause, resume, stop, edit)."""
        self._wake.set()

    async def on_call_events(self, reports: list[CallReport]) -> None:
        try:
            await self.dialer.on_call_events(reports)
        except Exception:
            log.exception("call events %s failed", [(r.call_id, r.kind) for r in reports])
            raise
        self._wake.set()

    async def dial_for_agent(self, agent_id: str, reservation: str) -> CallContext | None:
        return await self.dialer.dial_for_agent(agent_id, reservation)

    async def stats(self) -> dict[str, Any]:
        return {"replica": self.dialer.replica, **self.dialer.counters}

    async def pid(self) -> int:
        return os.getpid()
