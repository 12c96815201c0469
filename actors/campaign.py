"""CampaignActor: dials one campaign's current run instance.

The actor holds nothing that Redis does not: after a restart it re-reads the campaign and its
run instance and carries on. Several replicas may work one campaign (one per dialer node); the
lease script keeps them from taking the same lead and caps their combined calls at the pacing.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgpack
import ray

from actors.runtime import (
    HandleCache,
    RuntimeConfig,
    call_reliably,
    campaign_actor_name,
    find_actor,
    pool_actor_name,
    trunk_actor_name,
)
from actors.trunk import CallReport
from cluster.abandon import AbandonLedger, LedgerEvent, redial_allowed_from
from cluster.agents import CallContext, PoolView
from cluster.answers import ABANDONED, AnswerClaims
from cluster.dialing import (
    Outcome,
    agentless_slots,
    is_live_answer,
    resolve_unanswered,
)
from cluster.errors import FailedPrecondition, NotFound
from cluster.leads import Completion, Lease
from cluster.lifecycle import IllegalTransition, Trigger
from cluster.models import Campaign, CampaignStatus, ComplianceRegime, DialingMode
from cluster.pacing import (
    CallStatsTracker,
    PacingDecision,
    PacingInputs,
    PacingSettings,
    decide,
)
from cluster.runs import DNC_BLOCKED, LeasedContact, RunInstance
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
LOST_CALL_SLACK_S = 120
"""Virtual seconds past max ring time (AMD and event delivery included) after which a paced
call with no answer and no end is taken for lost."""
LOST_TALK_MS = 4 * 3_600_000
"""A paced call answered this long ago with no end is taken for lost with its trunk."""
STALE_TRUNKS_S = 1.0
"""Real seconds a trunk snapshot may serve dials while a fresh one is asked for."""
LIVE_ANSWERS = frozenset({CallEventKind.ANSWERED_HUMAN.value, CallEventKind.ANSWERED.value})
PACED_MODES = frozenset({DialingMode.PREDICTIVE, DialingMode.POWER})
"""Modes whose calls are placed for no agent in particular and paced by cluster/pacing.py."""
TICK_ON_EVENTS = PACED_MODES | {DialingMode.AGENTLESS}
"""Modes whose tick places calls, so a call's end (a channel, a lead, an agent freed) wakes it
at once. A progressive or preview campaign dials when its pool asks: its tick (demand, reaping,
the end of the run) keeps its interval instead of running again after every event batch."""


@dataclass
class PacedCall:
    """A call of a paced campaign this dialer placed, until it ends (memory only: after a
    restart the dialer counts the run's other leases as calls ringing, and asks the pool)."""

    placed_ms: int
    contact: dict[str, Any]
    answered_ms: int = 0
    abandoned: bool = False


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
        self._campaign_raw: tuple[bytes, Campaign] | None = None
        self.run: RunInstance | None = None
        self._runs: dict[int, RunInstance] = {}
        self.deleted = False
        self.counters = {
            "placed": 0,
            "refused": 0,
            "deferred_window": 0,
            "events": 0,
            "held_72h": 0,
            "abandoned": 0,
        }
        self._trunk_snapshot: tuple[float, list[TrunkSlot]] | None = None
        self.handles = HandleCache()
        self._trunk_asking: asyncio.Task[list[TrunkSlot]] | None = None
        self.tracker = CallStatsTracker()
        self.paced_calls: dict[str, PacedCall] = {}
        self.last_decision: PacingDecision | None = None
        self._chains: dict[str, asyncio.Task[None]] = {}
        self._ledger: AbandonLedger | None = None
        self.claims = AnswerClaims(self.state.r)
        self._pool_released = False
        self._placing: set[str] | None = None
        """While a paced batch is being originated: calls whose events came first."""

    # State ------------------------------------------------------------------------------------
    def refresh(self) -> Campaign | None:
        try:
            self._campaign_raw = self.state.campaigns.get_unless_same(
                self.campaign_id, self._campaign_raw
            )
        except NotFound:
            self.deleted = True
            self.campaign = self.run = None
            return None
        campaign = self.campaign = self._campaign_raw[1]
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
            await self._release_pool(campaign)
            return
        self._pool_released = False
        now = self.clock.now_ms()
        self.run.reap(now, campaign.max_attempts, self.retry_ms)
        if occurrence_over(campaign, self.clock.now()):
            self._end_occurrence(campaign)
            return
        if campaign.status is not CampaignStatus.ACTIVE:
            if campaign.dialing_mode in PACED_MODES and self.replica == 0:
                # Paused: its calls (this life's or an earlier one's) still need agents.
                await self._pace(campaign, wanting=self._calls_up())
            return
        if self.run.leads.exhausted():
            self._complete_run(campaign)
            return
        if campaign.dialing_mode is DialingMode.AGENTLESS:
            await self._dial_agentless(campaign, now)
        elif campaign.dialing_mode in PACED_MODES:
            await self._dial_paced(campaign, now)
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
        and the next one is tried. A snapshot past its interval but under STALE_TRUNKS_S is
        still used while a new one is asked for (its free counts only went down since), so a
        dial seldom waits for the trunks' answer."""
        now = time.monotonic()
        snapshot = self._trunk_snapshot
        if snapshot is not None and now - snapshot[0] < self.cfg.tick_s:
            return snapshot[1]
        if self._trunk_asking is None or self._trunk_asking.done():
            self._trunk_asking = asyncio.get_running_loop().create_task(self._new_snapshot(now))
            self._trunk_asking.add_done_callback(_retrieved)
        if snapshot is not None and now - snapshot[0] < STALE_TRUNKS_S:
            return snapshot[1]  # served while the trunks are asked again: no Ray round trip
        return await asyncio.shield(self._trunk_asking)

    async def _new_snapshot(self, now: float) -> list[TrunkSlot]:
        """One question to the trunks at a time, whoever needs the answer."""
        slots = await self._ask_trunks()
        self._trunk_snapshot = (now, slots)
        return slots

    async def _ask_trunks(self) -> list[TrunkSlot]:
        configs = [t for t in self.state.trunks.all() if not t.draining and t.channels > 0]
        handles = [(t.id, self.handles.get(trunk_actor_name(self.cfg, t.id))) for t in configs]
        live = [(tid, h) for tid, h in handles if h is not None]
        statuses = await asyncio.gather(
            *(h.status.remote() for _, h in live), return_exceptions=True
        )
        slots = []
        for (tid, handle), status in zip(live, statuses, strict=True):
            if isinstance(status, BaseException):
                self.handles.forget(trunk_actor_name(self.cfg, tid))
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
        self,
        campaign: Campaign,
        leased: list[LeasedContact],
        trunks: list[TrunkSlot],
        paced: bool = False,
    ) -> list[tuple[str, LeasedContact]]:
        """Originates leads for no agent (agentless, or `paced`) in one batch per trunk, the
        trunks in parallel: one Ray call per trunk and tick instead of one per lead. A lead no
        trunk takes waits a moment. Returns the calls placed."""
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
            if paced:
                request = dataclasses.replace(
                    request, paced=True, safe_harbor_flow_id=campaign.safe_harbor_flow_id or ""
                )
            batches.setdefault(trunk.trunk_id, (trunk, []))[1].append((lc, request))
        results = await asyncio.gather(
            *(
                call_reliably(trunk.handle.originate_many, [r for _, r in batch], self.name)
                for trunk, batch in batches.values()
            ),
            return_exceptions=True,
        )
        placed: list[tuple[str, LeasedContact]] = []
        for (_, batch), answers in zip(batches.values(), results, strict=True):
            if isinstance(answers, BaseException):
                # The trunk is gone (its calls, if any, died with it): the leases lapse and the
                # reaper settles them, attempt counted, as for any lost call.
                log.warning("originate batch failed: %s", answers)
                continue
            for (lc, _), answer in zip(batch, answers, strict=True):
                if self._settle_originate(campaign, lc, answer):
                    placed.append((str(answer.get("call_id", "")), lc))
        return placed

    def _settle_originate(
        self, campaign: Campaign, lc: LeasedContact, answer: dict[str, str]
    ) -> bool:
        """What a trunk's answer to one originate means for the lead; True if it is dialing."""
        result = answer["result"]
        if result in ("placed", "duplicate"):
            self.counters["placed"] += 1
            return True
        if result == "too_late":
            self._defer_to_window(campaign, lc)
        elif result != "lease_lost":  # lease_lost: the lead is no longer ours
            self._refused(lc)
        return False

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
            idempotency_key=self.run.attempt_key(lc.lease),
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
        return self.handles.get(pool_actor_name(self.cfg, campaign.queue_id or ""))

    async def _announce_demand(self, campaign: Campaign, now: int) -> None:
        assert self.run is not None
        pool = self._pool(campaign)
        if pool is None:
            return
        wanting = self.run.leads.has_dialable(now)
        offer_timeout_ms = (
            campaign.preview_timeout_seconds * 1000
            if campaign.dialing_mode is DialingMode.PREVIEW
            else 0
        )
        await call_reliably(pool.want, self.name, campaign.priority, wanting, offer_timeout_ms)

    async def dial_for_agent(self, agent_id: str, reservation: str) -> CallContext | None:
        """Called by the pool with a reserved agent: place one call for it, or say no.

        Idempotent per reservation: the lease taken for it is recorded before dialing, so a
        retried request (this actor died mid-call) re-sends the same originate, which the
        trunk answers as a duplicate instead of placing a second call for one agent."""
        serving = self._serving(DialingMode.PROGRESSIVE)
        if serving is None:
            return None
        campaign, run = serving
        trunks = await self._trunks()
        if not any(t.free > 0 for t in trunks):
            return None
        recorded, lc = self._reserved_lead(run, reservation)
        if recorded:
            if lc is None:
                return None
            return await self._call_for_agent(
                campaign, lc, trunks, agent_id, reservation, resend=True
            )
        for _ in range(5):  # a lead outside its window is deferred; try the next
            lc = self._lease_for(run, campaign, reservation, self._ttl_ms)
            if lc is None:
                return None
            placed = await self._call_for_agent(campaign, lc, trunks, agent_id, reservation)
            if placed is not None:
                return placed
            self.state.r.hdel(run.keys.reservations(), reservation)
        return None

    def _serving(self, mode: DialingMode) -> tuple[Campaign, RunInstance] | None:
        """The campaign and its run if it is Active in `mode`: a pool may still ask in the
        mode the campaign had before an edit."""
        campaign = self.refresh()
        if campaign is None or self.run is None or campaign.status is not CampaignStatus.ACTIVE:
            return None
        if campaign.dialing_mode is not mode:
            return None
        return campaign, self.run

    def _reserved_lead(
        self, run: RunInstance, reservation: str
    ) -> tuple[bool, LeasedContact | None]:
        """(whether the reservation was recorded, its lead). A cancelled reservation is
        recorded, with no lead: the pool gave up on it and freed the agent."""
        recorded = self.state.r.hget(run.keys.reservations(), reservation)
        if recorded is None:
            return False, None
        if recorded == RESERVATION_CANCELLED:
            return True, None
        lead, token, attempt = msgpack.unpackb(recorded)
        ((_, contact),) = run.contacts_for([lead])
        if contact is None:
            return True, None
        return True, LeasedContact(Lease(lead, token, attempt), contact, "")

    def _lease_for(
        self, run: RunInstance, campaign: Campaign, reservation: str, ttl_ms: int
    ) -> LeasedContact | None:
        """Leases the next lead for a reservation and records it under the reservation's id.
        The pool claims the id with a tombstone when it gives up on it, so exactly one of the
        two wins (HSETNX on one field)."""
        leased = run.lease_contacts(self.clock.now_ms(), 1, ttl_ms, campaign.max_attempts)
        if not leased:
            return None
        lc = leased[0]
        if not self.state.r.hsetnx(
            run.keys.reservations(),
            reservation,
            msgpack.packb([lc.lease.lead, lc.lease.token, lc.lease.attempt]),
        ):
            run.leads.defer(lc.lease, self.clock.now_ms())
            return None
        return lc

    # Preview ------------------------------------------------------------------------------
    async def offer_for_agent(self, agent_id: str, reservation: str) -> CallContext | None:
        """Called by the pool with a reserved agent of a preview campaign: picks the lead to
        show her (leased for the offer's timeout) without dialing. Idempotent per reservation,
        like dial_for_agent."""
        serving = self._serving(DialingMode.PREVIEW)
        if serving is None:
            return None
        campaign, run = serving
        recorded, lc = self._reserved_lead(run, reservation)
        if recorded:
            return self._context(lc, reservation, "") if lc is not None else None
        ttl_ms = campaign.preview_timeout_seconds * 1000 + self._ttl_ms
        for _ in range(5):  # a lead outside its window is deferred; try the next
            lc = self._lease_for(run, campaign, reservation, ttl_ms)
            if lc is None:
                return None
            if may_dial(campaign, lc.contact, self.clock.now()):
                return self._context(lc, reservation, "")
            self._defer_to_window(campaign, lc)
            self.state.r.hdel(run.keys.reservations(), reservation)
        return None

    async def dial_offer(self, agent_id: str, reservation: str) -> CallContext | None:
        """The agent accepted the offer made under `reservation`: place its call now (or say
        no: campaign no longer active, number listed DNC since the offer, contact out of its
        window, trunks full; the lead then goes back). Idempotent: once the call was placed, a
        retried request re-sends the same originate (the trunk answers it as a duplicate) and
        never gives back the lease of a live call."""
        campaign = self.refresh()
        run = self._runs.get(self.run.instance) if self.run is not None else None
        if campaign is None or run is None:
            return None
        _, lc = self._reserved_lead(run, reservation)
        if lc is None:
            return None
        trunks = await self._trunks()
        key = run.attempt_key(lc.lease)
        if self.state.r.hexists(run.keys.idempotency(), key):
            return await self._call_for_agent(
                campaign, lc, trunks, agent_id, reservation, resend=True
            )
        if campaign.status is not CampaignStatus.ACTIVE:
            run.leads.defer(lc.lease, self.clock.now_ms())
            return None
        # The offer may have waited minutes: the number is checked against the DNC list again.
        if (
            campaign.dnc_list_id
            and self.state.dnc.contains_e164(campaign.dnc_list_id, [lc.contact.phone])[0]
        ):
            run.leads.block(lc.lease, DNC_BLOCKED)
            return None
        return await self._call_for_agent(campaign, lc, trunks, agent_id, reservation)

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
        return self._context(lc, reservation, call_id)

    def _context(self, lc: LeasedContact, reservation: str, call_id: str) -> CallContext:
        assert self.run is not None
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

    # Predictive and power ----------------------------------------------------------------
    def ledger(self, campaign: Campaign) -> AbandonLedger:
        """The campaign's abandon ledger (kept while its time zone stays the same)."""
        zone = campaign.contactable_timings.timezone
        if self._ledger is None or self._ledger.timezone != zone:
            self._ledger = AbandonLedger.for_campaign(
                self.state.r,
                self.state.keys.campaign(self.campaign_id),
                campaign,
                self.state.keys.abandoned_numbers(),
            )
        return self._ledger

    def _ringing_elapsed_s(self, now: int) -> tuple[float, ...]:
        """Seconds since each call still ringing was placed. The run's other leases (calls of
        an earlier life of this actor, or of another replica) count as just placed: the
        cautious reading, as they may all still answer."""
        assert self.run is not None
        self._forget_lost_calls(now)
        ours = [(now - c.placed_ms) / 1000 for c in self.paced_calls.values() if not c.answered_ms]
        unknown = self.run.leads.leased_count() - len(self.paced_calls)
        return (*ours, *([0.0] * max(0, unknown)))

    def _forget_lost_calls(self, now: int) -> None:
        """Calls still ringing long after any ring could last, or talking for hours: their
        events were lost with their trunk (the reaper settles their leads). Kept, they would
        hold pacing down and keep the campaign's claim on agents."""
        assert self.campaign is not None
        ring_limit_ms = (self.campaign.max_ring_time_seconds + LOST_CALL_SLACK_S) * 1000
        for call_id in [
            call_id
            for call_id, call in self.paced_calls.items()
            if (not call.answered_ms and now - call.placed_ms > ring_limit_ms)
            or (call.answered_ms and now - call.answered_ms > LOST_TALK_MS)
        ]:
            del self.paced_calls[call_id]

    async def _pace(self, campaign: Campaign, wanting: bool) -> PoolView | None:
        pool = self._pool(campaign)
        if pool is None:
            return None
        view: PoolView = await call_reliably(
            pool.pace, self.name, self.campaign_id, campaign.priority, wanting
        )
        for seconds in view.wrap_ups_s:
            self.tracker.wrapped(seconds)
        return view

    def _calls_up(self) -> bool:
        """Whether the run has calls up (leases: this life's calls or an earlier one's)."""
        return self.run is not None and self.run.leads.leased_count() > 0

    async def _release_pool(self, campaign: Campaign) -> None:
        """A paced campaign no longer running keeps its claim on agents while its calls last,
        then gives it up, so the queue's other campaigns get the agents."""
        if campaign.dialing_mode not in PACED_MODES or self._pool_released or self.replica:
            return
        in_flight = self._calls_up()
        await self._pace(campaign, wanting=in_flight)
        self._pool_released = not in_flight

    async def _dial_paced(self, campaign: Campaign, now: int) -> None:
        """Places the calls the pacing policy asks for (cluster/pacing.py), for no agent in
        particular. Only replica 0 paces: two dialers reading one pool would each place the
        calls its free agents allow. Other replicas still take their calls' events."""
        assert self.run is not None
        if self.replica != 0:
            return
        has_leads = self.run.leads.has_dialable(now)
        view = await self._pace(campaign, wanting=has_leads or self._calls_up())
        if view is None or not has_leads:
            return
        if not may_dial_any(campaign, self.clock.now()):
            return
        inputs = PacingInputs(
            stats=self.tracker.snapshot(now / 1000),
            agents=view.agents,
            ringing_elapsed_s=self._ringing_elapsed_s(now),
            waiting_live=view.waiting_live,
            budget=self.ledger(campaign).budget(campaign, now),
        )
        settings = PacingSettings(
            campaign.dialing_mode,
            campaign.abandon_target,
            campaign.power_ratio,
            self.cfg.predictive,
        )
        decision = self.last_decision = decide(inputs, settings)
        if decision.calls <= 0:
            return
        trunks = await self._trunks()
        n = min(decision.calls, sum(t.free for t in trunks), MAX_LEASE_BATCH)
        if n <= 0:
            return
        leased = self.run.lease_contacts(now, n, self._ttl_ms, campaign.max_attempts)
        leased = self._hold_recent_abandons(campaign, leased, now)
        self._placing = set()
        try:
            placed = await self._place_many(campaign, leased, trunks, paced=True)
            self.tracker.placed(len(placed))
            for call_id, lc in placed:
                if call_id not in self._placing:
                    self.paced_calls[call_id] = PacedCall(now, lc.contact.to_record())
        finally:
            self._placing = None

    def _hold_recent_abandons(
        self, campaign: Campaign, leased: list[LeasedContact], now: int
    ) -> list[LeasedContact]:
        """UK: a number abandoned in the last 72 h is not called again by a dialer that
        cannot guarantee an agent; its lead waits (attempt not counted) until the hold ends."""
        if campaign.compliance_regime is not ComplianceRegime.UK or not leased:
            return leased
        assert self.run is not None
        recent = self.ledger(campaign).recently_abandoned([lc.contact.phone for lc in leased], now)
        kept = []
        for lc in leased:
            abandoned_at = recent.get(lc.contact.phone)
            if abandoned_at is None:
                kept.append(lc)
                continue
            self.run.leads.defer(lc.lease, redial_allowed_from(abandoned_at))
            self.counters["held_72h"] += 1
        return kept

    def _chain(self, call_id: str, step: Any) -> asyncio.Task[None]:
        """Runs `step` (a coroutine) after the earlier steps of the same call, without holding
        up the events of other calls: a live answer may wait for an agent for 2 s."""
        before = self._chains.get(call_id)

        async def run() -> None:
            if before is not None:
                with contextlib.suppress(Exception):
                    await before
            try:
                await step
            except Exception:
                log.exception("call %s: event failed", call_id)

        def forget(done: asyncio.Task[None]) -> None:
            if self._chains.get(call_id) is done:
                del self._chains[call_id]

        task = asyncio.get_running_loop().create_task(run())
        self._chains[call_id] = task
        task.add_done_callback(forget)
        return task

    def _paced_event_chained(
        self, campaign: Campaign, report: CallReport
    ) -> asyncio.Task[None] | None:
        """Takes a paced call's event. A live answer (and what follows it on the same call) is
        handled in a task of its own, returned. Other outcomes are noted for the pacing
        statistics and the ledger and left to the common path: None."""
        run = self._open(report.request.instance)
        if run is None or report.kind is CallEventKind.RINGING:
            return None
        if self._placing is not None and report.call_id not in self.paced_calls:
            # An event before its originate has returned: the call is not registered then
            # (it would count as ringing after its answer or end).
            self._placing.add(report.call_id)
        talked = report.kind is CallEventKind.HUNG_UP and report.answer in LIVE_ANSWERS
        if is_live_answer(report.kind) or talked or report.call_id in self._chains:
            return self._chain(report.call_id, self._on_paced_answer_event(campaign, run, report))
        call = self.paced_calls.pop(report.call_id, None)
        if call is not None and report.kind is not CallEventKind.HUNG_UP:
            # Resolved without a live answer: a machine, busy, no answer or a failure.
            self.tracker.resolved(False, (report.at_ms - call.placed_ms) / 1000)
        if report.kind is CallEventKind.ANSWERED_MACHINE:
            self.ledger(campaign).record(
                report.call_id, LedgerEvent.MACHINE, report.at_ms, self.clock.now_ms()
            )
        return None

    async def _on_paced_answer_event(
        self, campaign: Campaign, run: RunInstance, report: CallReport
    ) -> None:
        req = report.request
        lease = Lease(req.lead, req.token, req.attempt)
        call = self.paced_calls.get(report.call_id)
        pool = self._pool(campaign)
        ledger = self.ledger(campaign)
        contact = call.contact if call else {}
        if not contact and is_live_answer(report.kind):  # its agent is shown who it is
            ((_, found),) = run.contacts_for([req.lead])
            contact = found.to_record() if found is not None else {}
        context = CallContext(
            req.campaign_id, req.instance, req.lead, req.token, req.attempt, report.call_id,
            req.phone, contact=contact,
        )  # fmt: skip
        if is_live_answer(report.kind):
            ledger.record(report.call_id, LedgerEvent.LIVE, report.at_ms, self.clock.now_ms())
            if call is not None:
                call.answered_ms = report.at_ms
                self.tracker.resolved(True, (report.at_ms - call.placed_ms) / 1000)
            agent = ""
            if pool is not None:
                agent = await call_reliably(pool.connect_any, context, report.at_ms)
            if not agent:  # claimed for nobody, unless an agent got it at the last instant
                agent = self.claims.claim(run.keys, report.call_id, ABANDONED)
                agent = "" if agent == ABANDONED else agent
            if agent:
                self.tracker.connected()
                return
            self.tracker.abandoned()
            if call is not None:
                call.abandoned = True
            await self._abandon(campaign, report)
            return
        # The answered call ended (HUNG_UP): wrap-up for its agent, or it was abandoned.
        self.paced_calls.pop(report.call_id, None)
        agent = ""
        if call is None or not call.abandoned:
            agent = await call_reliably(pool.end_paced_call, context) if pool is not None else ""
        now = self.clock.now_ms()
        if agent:
            if call is not None and call.answered_ms:
                self.tracker.talked((report.at_ms - call.answered_ms) / 1000)
        else:
            # No agent took it: abandoned. Recorded again here (each call's events count once)
            # for a dialer that restarted since the answer, or whose first record failed.
            ledger.record_abandoned_answer(report.call_id, report.at_ms, now, req.phone)
        run.leads.complete_many([self._answered_end(campaign, lease, now, talked=bool(agent))])

    def _answered_end(self, campaign: Campaign, lease: Lease, now: int, talked: bool) -> Completion:
        """An agent campaign's answered call has ended: talked to an agent, the lead waits
        for her disposition (held); abandoned, it is retried."""
        if talked:
            return Completion(
                now, lease, Outcome.CONNECTED, retry=False, hold=True,
                max_attempts=campaign.max_attempts, min_retry_ms=self.retry_ms,
            )  # fmt: skip
        return Completion(
            now, lease, Outcome.ABANDONED, retry=True,
            max_attempts=campaign.max_attempts, min_retry_ms=self.retry_ms,
        )  # fmt: skip

    async def _abandon(self, campaign: Campaign, report: CallReport) -> None:
        """A live answer no agent took in time: counted, and given the safe-harbor message
        (which ends the call; the lead is settled when it has)."""
        self.counters["abandoned"] += 1
        now = self.clock.now_ms()
        self.ledger(campaign).record(
            report.call_id, LedgerEvent.ABANDONED, report.at_ms, now, report.request.phone
        )
        trunk = find_actor(trunk_actor_name(self.cfg, report.trunk_id))
        if trunk is None:
            return
        if campaign.safe_harbor_flow_id:
            await call_reliably(trunk.play_message, report.call_id, campaign.safe_harbor_flow_id)
        else:
            await call_reliably(trunk.hangup, report.call_id)

    # Events -----------------------------------------------------------------------------------
    async def on_call_events(self, reports: list[CallReport]) -> None:
        """Call events in the order a trunk saw them; the campaign is read once per batch."""
        campaign = self.refresh()
        settled: list[tuple[RunInstance, Completion]] = []
        chained: list[asyncio.Task[None]] = []
        try:
            for report in reports:
                if report.request.paced and campaign is not None:
                    task = self._paced_event_chained(campaign, report)
                    if task is not None:
                        if not is_live_answer(report.kind):
                            chained.append(task)
                        continue
                await self._on_call_event(campaign, report, settled)
        finally:
            self._settle(settled)
        # A call's end is handled before the trunk hears it was delivered (so a dialer dying
        # now gets it again); only the wait of a live answer for an agent runs on its own,
        # covered by the trunk's grace guard and by the call's end.
        await asyncio.gather(*chained)

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
            if pool is None:
                return
            self.ledger(campaign).record(report.call_id, LedgerEvent.LIVE, report.at_ms, now)
            if await self._connect_agent(pool, req.agent_id or "", call):
                return
            # No agent could take the answered call (rare: its agent's state moved on): abandon
            # it. The lead is settled when the call has ended (after the safe-harbor message,
            # if the campaign has one), below.
            await self._abandon(campaign, report)
            return
        machine = report.kind is CallEventKind.ANSWERED_MACHINE or (
            report.kind is CallEventKind.HUNG_UP and report.answer == CallEventKind.ANSWERED_MACHINE
        )
        if report.kind is CallEventKind.HUNG_UP and report.answered and not machine:
            if pool is None:  # agentless: the flow talked to the person
                connected = Completion(
                    now, lease, Outcome.CONNECTED, retry=False,
                    max_attempts=campaign.max_attempts, min_retry_ms=self.retry_ms,
                )  # fmt: skip
                settled.append((run, connected))
                return
            # A disposition filed before this completion is kept and applied with it; an
            # agent who never took the call means it was abandoned.
            agent = await call_reliably(pool.end_call, req.agent_id, call)
            talked = _holds(agent, call)
            run.leads.complete_many([self._answered_end(campaign, lease, now, talked)])
            return
        if report.kind is CallEventKind.ANSWERED_MACHINE:
            if pool is not None:
                self.ledger(campaign).record(report.call_id, LedgerEvent.MACHINE, report.at_ms, now)
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


def _retrieved(task: asyncio.Task[Any]) -> None:
    """Done callback of a task nobody may await: its failure is logged, not left unretrieved."""
    if not task.cancelled() and task.exception() is not None:
        log.warning("trunk snapshot failed: %s", task.exception())


def _holds(agent: dict[str, Any], call: CallContext) -> bool:
    """Whether an agent's record (as the pool returns it) is on or past `call`."""
    held = agent.get("call") or {}
    return agent.get("state") == "wrap_up" and held.get("reservation") == call.reservation


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
            self._wake.clear()  # first: events or a poke during this tick wake the next one
            try:
                await self.dialer.tick()
            except Exception:
                log.exception("campaign %s tick failed", self.dialer.campaign_id)
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
        campaign = self.dialer.campaign
        if campaign is None or campaign.dialing_mode in TICK_ON_EVENTS:
            self._wake.set()

    async def dial_for_agent(self, agent_id: str, reservation: str) -> CallContext | None:
        return await self.dialer.dial_for_agent(agent_id, reservation)

    async def offer_for_agent(self, agent_id: str, reservation: str) -> CallContext | None:
        return await self.dialer.offer_for_agent(agent_id, reservation)

    async def dial_offer(self, agent_id: str, reservation: str) -> CallContext | None:
        return await self.dialer.dial_offer(agent_id, reservation)

    async def pacing(self) -> dict[str, Any]:
        """The last pacing decision and what it was made from (tests, operators)."""
        decision = self.dialer.last_decision
        return {
            "decision": dataclasses.asdict(decision) if decision else None,
            "paced_calls": len(self.dialer.paced_calls),
        }

    async def stats(self) -> dict[str, Any]:
        return {"replica": self.dialer.replica, **self.dialer.counters}

    async def pid(self) -> int:
        return os.getpid()
