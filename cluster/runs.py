"""Run instances: seeding a campaign's leads, and leasing them with the dial-time DNC check.

A lead is an integer: the contact's seq plus its list's offset, where the campaign's lists are
laid end to end in the order the campaign names them (offsets in the instance's meta). So a lead
maps back to its contact without a per-lead record.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import msgpack
import redis

from cluster.codec import text
from cluster.contacts import ContactListStore
from cluster.dialing import attempt_key, attempt_key_prefix
from cluster.dnc import DncStore
from cluster.keys import TenantKeys
from cluster.leads import LeadState, Lease
from cluster.models import Campaign, Contact, DialingOrder

SEED_BATCH = 2000

DNC_BLOCKED = "dnc_blocked"
"""Final outcome of a lead whose number is on the campaign's DNC list."""
DUPLICATE = "duplicate"


@dataclass(frozen=True)
class Source:
    list_id: str
    offset: int
    bound: int
    """Seqs of this list at seeding time are in [0, bound)."""


@dataclass
class SeedReport:
    total: int = 0
    ready: int = 0
    dnc_blocked: int = 0
    duplicates: int = 0


@dataclass(frozen=True)
class LeasedContact:
    lease: Lease
    contact: Contact
    list_id: str


@dataclass
class ScrubReport:
    checked: int = 0
    blocked: int = 0
    by_list: dict[str, int] = field(default_factory=dict)


def iter_campaign_contacts(
    lists: ContactListStore, campaign: Campaign
) -> Iterator[tuple[str, int, Contact]]:
    for list_id in campaign.contact_list_ids:
        for seq, contact in lists.iter_contacts(list_id):
            yield list_id, seq, contact


def scrub(lists: ContactListStore, dnc: DncStore, campaign: Campaign) -> ScrubReport:
    """Counts the campaign's contacts on its DNC list (the report a user sees on save)."""
    report = ScrubReport()
    if campaign.dnc_list_id is None:
        report.checked = sum(lists.get(i).count for i in campaign.contact_list_ids)
        return report
    batch: list[tuple[str, Contact]] = []

    def flush() -> None:
        flags = dnc.contains_e164(campaign.dnc_list_id or "", [c.phone for _, c in batch])
        for (list_id, _), listed in zip(batch, flags, strict=True):
            report.checked += 1
            if listed:
                report.blocked += 1
                report.by_list[list_id] = report.by_list.get(list_id, 0) + 1
        batch.clear()

    for list_id, _, contact in iter_campaign_contacts(lists, campaign):
        batch.append((list_id, contact))
        if len(batch) >= SEED_BATCH:
            flush()
    if batch:
        flush()
    return report


class RunInstance:
    """One run instance of one campaign: its lead state and the way back to contacts."""

    def __init__(
        self,
        client: redis.Redis,
        keys: TenantKeys,
        lists: ContactListStore,
        dnc: DncStore,
        campaign_id: str,
        instance: int,
        order: DialingOrder,
        sources: list[Source],
        dnc_list_id: str | None,
        mode: str | None = None,
    ) -> None:
        self.r = client
        self.keys = keys.campaign(campaign_id).run(instance)
        self.lists = lists
        self.dnc = dnc
        self.campaign_id = campaign_id
        self.instance = instance
        self.sources = sources
        self.dnc_list_id = dnc_list_id
        self.mode = mode
        """The campaign's dialing mode for this instance (fixed while it runs); None for an
        instance seeded before modes were recorded, whose outcomes are not counted."""
        counters = keys.campaign(campaign_id).counters(mode) if mode else None
        self.leads = LeadState(
            client, self.keys, order, seed=f"{campaign_id}:{instance}", counters=counters
        )

    # Creating ----------------------------------------------------------------------------
    @classmethod
    def seed(
        cls,
        client: redis.Redis,
        keys: TenantKeys,
        lists: ContactListStore,
        dnc: DncStore,
        campaign: Campaign,
        instance: int,
    ) -> tuple[RunInstance, SeedReport]:
        """Writes a new instance's leads: every contact of every list once (a number in two
        lists is dialed once), DNC numbers final as dnc_blocked. Nothing reads the instance
        until the campaign record names it, so a failure here leaves nothing visible."""
        sources: list[Source] = []
        offset = 0
        for list_id in campaign.contact_list_ids:
            bound = lists.seq_bound(list_id)
            sources.append(Source(list_id, offset, bound))
            offset += bound
        run = cls(
            client, keys, lists, dnc, campaign.id, instance,
            campaign.dialing_order, sources, campaign.dnc_list_id, campaign.dialing_mode.value,
        )  # fmt: skip
        client.delete(*run.keys.all())
        client.hset(
            run.keys.meta(),
            mapping={
                "sources": msgpack.packb([[s.list_id, s.offset, s.bound] for s in sources]),
                "order": campaign.dialing_order.value,
                "dnc_list_id": campaign.dnc_list_id or "",
                "mode": campaign.dialing_mode.value,
                "created_at": time.time(),
            },
        )
        client.sadd(keys.campaign(campaign.id).instances(), instance)
        report = SeedReport()
        seen: set[str] = set()
        batch: list[tuple[int, Contact]] = []
        for source in sources:
            for seq, contact in lists.iter_contacts(source.list_id):
                if seq >= source.bound:
                    continue  # imported after the instance was laid out
                if contact.phone in seen:
                    report.duplicates += 1
                    continue
                seen.add(contact.phone)
                batch.append((source.offset + seq, contact))
                if len(batch) >= SEED_BATCH:
                    run._seed_batch(batch, report)
                    batch = []
        if batch:
            run._seed_batch(batch, report)
        return run, report

    def _seed_batch(self, batch: list[tuple[int, Contact]], report: SeedReport) -> None:
        if self.dnc_list_id:
            listed = self.dnc.contains_e164(self.dnc_list_id, [c.phone for _, c in batch])
        else:
            listed = [False] * len(batch)
        ready = [lead for (lead, _), hit in zip(batch, listed, strict=True) if not hit]
        blocked = {lead: DNC_BLOCKED for (lead, _), hit in zip(batch, listed, strict=True) if hit}
        self.leads.seed_leads(ready, blocked)
        report.total += len(batch)
        report.ready += len(ready)
        report.dnc_blocked += len(blocked)

    @classmethod
    def open(
        cls,
        client: redis.Redis,
        keys: TenantKeys,
        lists: ContactListStore,
        dnc: DncStore,
        campaign_id: str,
        instance: int,
    ) -> RunInstance:
        """Re-attaches to an instance from what Redis holds (after an actor restart)."""
        run_keys = keys.campaign(campaign_id).run(instance)
        meta = client.hgetall(run_keys.meta())
        if not meta:
            raise LookupError(f"campaign {campaign_id} has no run instance {instance}")
        sources = [Source(str(a), int(b), int(c)) for a, b, c in msgpack.unpackb(meta[b"sources"])]
        return cls(
            client, keys, lists, dnc, campaign_id, instance,
            DialingOrder(text(meta[b"order"])), sources,
            text(meta.get(b"dnc_list_id", b"")) or None,
            text(meta.get(b"mode", b"")) or None,
        )  # fmt: skip

    # Leads and contacts ------------------------------------------------------------------
    def locate(self, lead: int) -> tuple[str, int]:
        """(list id, seq) of a lead."""
        for source in reversed(self.sources):
            if lead >= source.offset:
                return source.list_id, lead - source.offset
        raise ValueError(f"lead {lead} is outside every source")

    def contacts_for(self, leads: list[int]) -> list[tuple[str, Contact | None]]:
        by_list: dict[str, list[tuple[int, int]]] = {}
        for i, lead in enumerate(leads):
            list_id, seq = self.locate(lead)
            by_list.setdefault(list_id, []).append((i, seq))
        out: list[tuple[str, Contact | None]] = [("", None)] * len(leads)
        for list_id, items in by_list.items():
            found = self.lists.get_contacts(list_id, [seq for _, seq in items])
            for (i, _), contact in zip(items, found, strict=True):
                out[i] = (list_id, contact)
        return out

    def attempt_key(self, lease: Lease) -> str:
        """The originate idempotency key of the attempt `lease` was taken for."""
        return attempt_key(self.campaign_id, self.instance, lease.lead, lease.attempt, lease.token)

    def reap(self, now_ms: int, max_attempts: int, retry_ms: int) -> list[int]:
        """Takes back lapsed leases: an attempt a trunk placed counts (`lease_expired`), one
        never placed (its dialer died first) is taken back. Returns the leads that counted."""
        return self.leads.reap(
            now_ms,
            max_attempts,
            retry_ms,
            attempt_prefix=attempt_key_prefix(self.campaign_id, self.instance),
        )

    def lease_contacts(
        self, now_ms: int, n: int, ttl_ms: int, max_attempts: int, max_leased: int = -1
    ) -> list[LeasedContact]:
        """Leases up to n leads and resolves their contacts. The dial-time DNC check happens
        here: a lead whose number is on the DNC list now is made final as dnc_blocked, its
        attempt taken back, and is not returned. A lead whose contact was deleted is final as
        `contact_missing`."""
        leases = self.leads.lease(now_ms, n, ttl_ms, max_attempts, max_leased=max_leased)
        if not leases:
            return []
        resolved = self.contacts_for([lease.lead for lease in leases])
        phones = [c.phone for _, c in resolved if c is not None]
        listed = iter(self.dnc.contains_e164(self.dnc_list_id, phones) if self.dnc_list_id else [])
        out = []
        for lease, (list_id, contact) in zip(leases, resolved, strict=True):
            if contact is None:
                self.leads.block(lease, "contact_missing")
            elif self.dnc_list_id and next(listed):
                self.leads.block(lease, DNC_BLOCKED)
            else:
                out.append(LeasedContact(lease, contact, list_id))
        return out
