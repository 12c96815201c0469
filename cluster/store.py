"""Campaigns in Redis: create, read, edit, clone, delete, and lifecycle actions.

The lifecycle rules live in lifecycle.py (pure); this module applies them to stored records.
A record changes only by compare-and-set (WATCH on the record key), so two concurrent actions
on one campaign cannot both win. A new run instance is seeded under fresh keys before the record
names it, so a failed seed leaves the campaign as it was.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

import msgpack
import pydantic
import redis

from cluster.clock import Clock, SystemClock
from cluster.codec import text
from cluster.contacts import ContactListStore
from cluster.dnc import DncStore
from cluster.errors import AlreadyExists, FailedPrecondition, InvalidArgument, NotFound
from cluster.ids import new_id
from cluster.keys import TenantKeys
from cluster.leads import Progress
from cluster.lifecycle import (
    Action,
    IllegalTransition,
    Transition,
    Trigger,
    apply_action,
    apply_trigger,
    check_edit,
    clone_campaign,
    initial_status,
)
from cluster.models import (
    Campaign,
    CampaignStatus,
    DialingMode,
    OccurrenceWindow,
    field_violations,
)
from cluster.runs import RunInstance, ScrubReport, SeedReport, scrub
from cluster.scheduler import has_next_occurrence

log = logging.getLogger(__name__)

FINISHED_RUN_RETENTION_S = 7 * 24 * 3600
"""How long a finished run instance's lead state and call records stay once a newer instance
has started (real seconds)."""

_IDLE = frozenset(
    {
        CampaignStatus.READY,
        CampaignStatus.SCHEDULED,
        CampaignStatus.STOPPED,
        CampaignStatus.COMPLETED,
    }
)


def validate_campaign(data: Mapping[str, Any]) -> Campaign:
    """A Campaign from user input, or InvalidArgument naming every bad field."""
    try:
        return Campaign.model_validate(dict(data))
    except pydantic.ValidationError as exc:
        raise InvalidArgument(field_violations(exc)) from None


class CampaignStore:
    def __init__(
        self,
        client: redis.Redis,
        keys: TenantKeys,
        lists: ContactListStore,
        dnc: DncStore,
        clock: Clock | None = None,
    ) -> None:
        self.r = client
        self.keys = keys
        self.lists = lists
        self.dnc = dnc
        self.clock = clock or SystemClock()

    # Reading -----------------------------------------------------------------------------
    def get(self, campaign_id: str) -> Campaign:
        return self.get_unless_same(campaign_id, None)[1]

    def get_unless_same(
        self, campaign_id: str, last: tuple[bytes, Campaign] | None
    ) -> tuple[bytes, Campaign]:
        """`get`, as (raw record, campaign), without decoding and validating again a record
        byte for byte the same as `last`'s: the dialer reads its campaign for every event batch
        and every dial (always from Redis, so a pause or an edit is seen at once)."""
        raw: bytes | None = self.r.get(self.keys.campaign(campaign_id).record())  # type: ignore[assignment]
        if raw is None:
            raise NotFound("campaign", campaign_id)
        if last is not None and last[0] == raw:
            return last
        return raw, Campaign.from_record(msgpack.unpackb(raw))

    def all(self, status: CampaignStatus | None = None) -> list[Campaign]:
        ids = sorted(text(i) for i in self.r.hkeys(self.keys.campaign_index()))
        out = []
        for campaign_id in ids:
            try:
                campaign = self.get(campaign_id)
            except NotFound:
                continue
            if status is None or campaign.status == status:
                out.append(campaign)
        return sorted(out, key=lambda c: (c.name.lower(), c.id))

    def id_for_name(self, name: str) -> str | None:
        found = self.r.hget(self.keys.campaign_names(), name)
        return text(found) if found else None

    def referencing(self, *, contact_list_id: str = "", dnc_list_id: str = "") -> list[str]:
        """Ids of campaigns that use a list (lists in use cannot be deleted)."""
        return [
            c.id
            for c in self.all()
            if contact_list_id in c.contact_list_ids
            or (dnc_list_id and c.dnc_list_id == dnc_list_id)
        ]

    # Creating and editing ------------------------------------------------------------------
    def create(self, spec: Mapping[str, Any] | Campaign) -> Campaign:
        data = spec.to_record() if isinstance(spec, Campaign) else dict(spec)
        for name in Campaign.OUTPUT_ONLY_FIELDS - {"tenant"}:
            data.pop(name, None)  # output-only fields are ignored on input (AIP-203)
        data["tenant"] = self.keys.tenant
        campaign = validate_campaign(data)
        self._check_references(campaign)
        now = self.clock.now()
        campaign = campaign.model_copy(
            update={
                "id": new_id("camp"),
                "status": initial_status(campaign.is_scheduled),
                "run_instance": 0,
                "created_at": now,
                "updated_at": now,
            }
        )
        if not self.r.hsetnx(self.keys.campaign_names(), campaign.name, campaign.id):
            raise AlreadyExists("campaign", "name", campaign.name)
        try:
            pipe = self.r.pipeline(transaction=True)
            pipe.set(self.keys.campaign(campaign.id).record(), _pack(campaign))
            pipe.hset(self.keys.campaign_index(), campaign.id, campaign.name)
            pipe.execute()
        except BaseException:
            self.r.hdel(self.keys.campaign_names(), campaign.name)
            raise
        self._record_scrub(campaign)
        return campaign

    def update(self, campaign_id: str, changes: Mapping[str, Any]) -> Campaign:
        """Applies a partial update (the fields named in `changes`), if the campaign's status
        allows editing those fields. Unchanged values are not counted as edits."""
        refused = sorted(set(changes) & Campaign.OUTPUT_ONLY_FIELDS)
        if refused:
            raise InvalidArgument([(f, "is output only") for f in refused])

        def edit(old: Campaign) -> Campaign:
            record = old.to_record()
            merged = validate_campaign({**record, **changes})
            apply_action(old.status, Action.EDIT, scheduled=old.is_scheduled)
            changed = {f for f in changes if getattr(merged, f) != getattr(old, f)}
            check_edit(old.status, changed)
            self._check_references(merged)
            update: dict[str, Any] = {"updated_at": self.clock.now()}
            if old.status in _IDLE and merged.schedule != old.schedule:
                update["status"] = _status_after_schedule_edit(old.status, merged.is_scheduled)
            return merged.model_copy(update=update)

        before = self.get(campaign_id)
        candidate = edit(before)
        if candidate.name != before.name and not self.r.hsetnx(
            self.keys.campaign_names(), candidate.name, campaign_id
        ):
            raise AlreadyExists("campaign", "name", candidate.name)
        try:
            updated = self._cas(campaign_id, edit)
        except BaseException:
            if candidate.name != before.name:
                self.r.hdel(self.keys.campaign_names(), candidate.name)
            raise
        if updated.name != before.name:
            self.r.hdel(self.keys.campaign_names(), before.name)
            self.r.hset(self.keys.campaign_index(), campaign_id, updated.name)
        if (updated.contact_list_ids, updated.dnc_list_id) != (
            before.contact_list_ids,
            before.dnc_list_id,
        ):
            self._record_scrub(updated)
        return updated

    def clone(self, campaign_id: str) -> Campaign:
        source = self.get(campaign_id)
        apply_action(source.status, Action.CLONE, scheduled=source.is_scheduled)
        for _ in range(5):
            names = [text(n) for n in self.r.hkeys(self.keys.campaign_names())]
            try:
                return self.create(clone_campaign(source, names))
            except AlreadyExists:
                continue  # another clone took the name between our read and write
        raise FailedPrecondition(f"could not find a free name to clone {source.name!r}")

    def delete(self, campaign_id: str) -> None:
        campaign = self.get(campaign_id)
        apply_action(campaign.status, Action.DELETE, scheduled=campaign.is_scheduled)
        ck = self.keys.campaign(campaign_id)
        # The record goes first: from then on nothing dials it; run data follows.
        pipe = self.r.pipeline(transaction=True)
        pipe.delete(ck.record())
        pipe.hdel(self.keys.campaign_index(), campaign_id)
        pipe.execute()
        if self.id_for_name(campaign.name) == campaign_id:
            self.r.hdel(self.keys.campaign_names(), campaign.name)
        self._drop_instances(campaign_id, keep=None)
        self.r.delete(ck.scrub(), ck.instances(), *(ck.counters(m.value) for m in DialingMode))

    # Lifecycle -----------------------------------------------------------------------------
    def act(self, campaign_id: str, action: Action) -> Campaign:
        """run, pause, resume, stop, rerun. Raises lifecycle errors for refused actions.

        Stopping a scheduled campaign ends its current occurrence's run instance; it waits for
        the next occurrence, or completes if there is none."""
        if action in (Action.EDIT, Action.CLONE, Action.DELETE):
            raise ValueError(f"use update/clone/delete for {action}")
        return self._transition(
            campaign_id,
            lambda c: apply_action(
                c.status,
                action,
                scheduled=c.is_scheduled,
                has_next_occurrence=has_next_occurrence(c, self.clock.now()),
            ),
        )

    def trigger(
        self, campaign_id: str, trigger: Trigger, occurrence: OccurrenceWindow | None = None
    ) -> Campaign:
        """Internal triggers from the scheduler and the engine. SCHEDULE_START names the
        occurrence it starts; it is refused if that occurrence (or a later one) already ran."""

        def decide(c: Campaign) -> Transition:
            if trigger is Trigger.SCHEDULE_START:
                if occurrence is None:
                    raise ValueError("SCHEDULE_START needs the occurrence it starts")
                if c.occurrence is not None and c.occurrence.start >= occurrence.start:
                    raise IllegalTransition(c.status, trigger, "that occurrence already ran")
            return apply_trigger(
                c.status,
                trigger,
                scheduled=c.is_scheduled,
                has_next_occurrence=has_next_occurrence(c, self.clock.now()),
            )

        started = occurrence if trigger is Trigger.SCHEDULE_START else None
        return self._transition(campaign_id, decide, occurrence=started)

    def rescrub(self, campaign_id: str, occurrence: OccurrenceWindow) -> ScrubReport:
        """The DNC re-scrub due before a scheduled occurrence; remembered per occurrence."""
        return self._record_scrub(self.get(campaign_id), occurrence)

    def rescrubbed_for(self, campaign_id: str) -> datetime | None:
        """The start of the occurrence the last re-scrub was made for, if any."""
        raw = self.r.hget(self.keys.campaign(campaign_id).scrub(), "occurrence")
        return datetime.fromtimestamp(int(raw) / 1000, UTC) if raw else None

    def run_instance(self, campaign: Campaign) -> RunInstance | None:
        if campaign.run_instance == 0:
            return None
        return RunInstance.open(
            self.r, self.keys, self.lists, self.dnc, campaign.id, campaign.run_instance
        )

    def progress(self, campaign_id: str) -> Progress | None:
        run = self.run_instance(self.get(campaign_id))
        return run.leads.progress() if run else None

    def last_scrub(self, campaign_id: str) -> dict[str, int]:
        raw = self.r.hgetall(self.keys.campaign(campaign_id).scrub())
        return {text(k): int(float(v)) for k, v in raw.items()}

    # Internals -----------------------------------------------------------------------------
    def _transition(
        self,
        campaign_id: str,
        decide: Callable[[Campaign], Transition],
        occurrence: OccurrenceWindow | None = None,
    ) -> Campaign:
        before = self.get(campaign_id)
        plan = decide(before)
        seeded: SeedReport | None = None
        instance = before.run_instance
        if plan.new_instance:
            instance = before.run_instance + 1
            _, seeded = RunInstance.seed(self.r, self.keys, self.lists, self.dnc, before, instance)

        def apply(current: Campaign) -> Campaign:
            again = decide(current)
            if current.run_instance != before.run_instance or again != plan:
                raise FailedPrecondition(
                    f"campaign {campaign_id} changed during {plan.to_status}: try again"
                )
            update: dict[str, Any] = {
                "status": plan.to_status,
                "run_instance": instance,
                "updated_at": self.clock.now(),
            }
            if occurrence is not None:
                update["occurrence"] = occurrence
            return current.model_copy(update=update)

        try:
            updated = self._cas(campaign_id, apply)
        except BaseException:
            if seeded is not None:
                self.r.delete(*self.keys.campaign(campaign_id).run(instance).all())
            raise
        if plan.new_instance:
            self._retire_instances(campaign_id, current=instance)
        if updated.status != before.status or plan.new_instance:
            log.info(
                "campaign %s: %s -> %s",
                campaign_id,
                before.status.value,
                updated.status.value,
                extra={
                    "campaign_id": campaign_id,
                    "instance": instance,
                    "from_status": before.status.value,
                    "status": updated.status.value,
                },
            )
        return updated

    def _cas(self, campaign_id: str, change: Callable[[Campaign], Campaign]) -> Campaign:
        key = self.keys.campaign(campaign_id).record()
        with self.r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(key)
                    raw = pipe.get(key)
                    if raw is None:
                        raise NotFound("campaign", campaign_id)
                    updated = change(Campaign.from_record(msgpack.unpackb(raw)))
                    pipe.multi()
                    pipe.set(key, _pack(updated))
                    pipe.execute()
                    return updated
                except redis.WatchError:
                    continue

    def _check_references(self, campaign: Campaign) -> None:
        violations = [
            (f"contact_list_ids[{i}]", f"contact list {list_id!r} does not exist")
            for i, list_id in enumerate(campaign.contact_list_ids)
            if not self.lists.exists(list_id)
        ]
        if campaign.dnc_list_id and not self.dnc.exists(campaign.dnc_list_id):
            violations.append(("dnc_list_id", f"DNC list {campaign.dnc_list_id!r} does not exist"))
        if violations:
            raise InvalidArgument(violations)

    def _record_scrub(
        self, campaign: Campaign, occurrence: OccurrenceWindow | None = None
    ) -> ScrubReport:
        report = scrub(self.lists, self.dnc, campaign)
        fields: dict[Any, int] = {
            "checked": report.checked,
            "blocked": report.blocked,
            "at": int(self.clock.now().timestamp()),
        }
        if occurrence is not None:
            fields["occurrence"] = int(occurrence.start.timestamp() * 1000)
        self.r.hset(self.keys.campaign(campaign.id).scrub(), mapping=fields)
        return report

    def _drop_instances(self, campaign_id: str, keep: int | None) -> None:
        """Deletes the run data of every instance but `keep` (all of them with None)."""
        ck = self.keys.campaign(campaign_id)
        for raw in self.r.smembers(ck.instances()):
            instance = int(raw)
            if instance != keep:
                self.r.delete(*ck.run(instance).all())
                self.r.srem(ck.instances(), instance)

    def _retire_instances(self, campaign_id: str, current: int) -> None:
        """A new instance started: earlier ones stay readable for reports (each occurrence of a
        schedule, each rerun) and expire after FINISHED_RUN_RETENTION_S; any later one is a
        failed seed and goes now."""
        ck = self.keys.campaign(campaign_id)
        for raw in self.r.smembers(ck.instances()):
            instance = int(raw)
            if instance > current:
                self.r.delete(*ck.run(instance).all())
                self.r.srem(ck.instances(), instance)
            elif instance < current and self.r.ttl(ck.run(instance).meta()) == -1:
                # Not yet retired (EXPIRE NX needs Redis 7: the meta key's TTL says instead).
                pipe = self.r.pipeline(transaction=False)
                for key in ck.run(instance).all():
                    pipe.expire(key, FINISHED_RUN_RETENTION_S)
                pipe.execute()


def _status_after_schedule_edit(status: CampaignStatus, scheduled: bool) -> CampaignStatus:
    """An idle campaign whose schedule was added, changed or removed. With a schedule it waits
    for its (re-planned) next occurrence, even if it had completed; the scheduler completes it
    again if none is left. Without one, a Scheduled campaign becomes Ready to run by hand; a
    Stopped or Completed one keeps its status (its results stay readable, rerun starts it)."""
    if scheduled:
        return CampaignStatus.SCHEDULED
    return CampaignStatus.READY if status is CampaignStatus.SCHEDULED else status


def _pack(campaign: Campaign) -> bytes:
    return bytes(msgpack.packb(campaign.to_record()))
