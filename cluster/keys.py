"""The Redis key schema: every key the system writes is built here and nowhere else.

Keys start with a prefix (default "dialer") and the tenant. Everything one Lua script touches
shares a hash tag, so the schema works on Redis Cluster:

    {c:<campaign>}  the campaign record and all of its run instances' lead state
    {l:<list>}      one contact list
    {d:<list>}      one DNC list

Tenant-wide indexes (names, listings) are plain keys outside any tag; they are only touched by
single-key commands.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TenantKeys:
    prefix: str
    tenant: str = "default"

    @property
    def root(self) -> str:
        return f"{self.prefix}:{self.tenant}"

    # Tenant-wide indexes.
    def campaign_index(self) -> str:
        """HASH campaign id -> name."""
        return f"{self.root}:campaigns"

    def campaign_names(self) -> str:
        """HASH campaign name -> id; the unique-name constraint."""
        return f"{self.root}:campaign_names"

    def contact_list_index(self) -> str:
        """HASH contact list id -> name."""
        return f"{self.root}:lists"

    def dnc_list_index(self) -> str:
        """HASH DNC list id -> name."""
        return f"{self.root}:dnc_lists"

    def trunks(self) -> str:
        """HASH trunk id -> msgpack TrunkConfig (the registry the controller reconciles)."""
        return f"{self.root}:trunks"

    def abandoned_numbers(self) -> str:
        """ZSET E.164 -> epoch ms of its latest abandoned call by any campaign of the tenant
        (kept 72 h: the UK redial hold holds a number for every campaign, not only the one
        that abandoned it)."""
        return f"{self.root}:abandoned_numbers"

    def queues(self) -> str:
        """HASH queue id -> name (agent pools)."""
        return f"{self.root}:queues"

    def queue_agents(self, queue_id: str) -> str:
        """HASH agent id -> msgpack Agent record of one queue."""
        return f"{self.root}:{{q:{queue_id}}}:agents"

    def agent_assignments(self, queue_id: str, agent_id: str) -> str:
        """STREAM of one agent's assignments (call connected / ended, with the contact), capped
        by MAXLEN; the gateway's WatchAssignments reads it."""
        return f"{self.root}:{{q:{queue_id}}}:assignments:{agent_id}"

    def trunk_calls(self, trunk_id: str) -> str:
        """HASH call id -> campaign id of the calls live on one trunk (channels in use), kept
        by its TrunkActor and emptied when that actor starts (its calls died with it)."""
        return f"{self.root}:{{t:{trunk_id}}}:calls"

    def counters(self) -> str:
        """HASH tenant-wide monotonic counters for metrics (import rows accepted/rejected)."""
        return f"{self.root}:counters"

    def request(self, method: str, request_id: str) -> str:
        """STRING msgpack [request fingerprint, serialized response or nil while in progress]:
        makes a mutating API call idempotent on its request_id (AIP-155); expires."""
        return f"{self.root}:requests:{method}:{request_id}"

    def campaign(self, campaign_id: str) -> CampaignKeys:
        return CampaignKeys(f"{self.root}:{{c:{campaign_id}}}")

    def contact_list(self, list_id: str) -> ContactListKeys:
        return ContactListKeys(f"{self.root}:{{l:{list_id}}}")

    def dnc_list(self, list_id: str) -> DncListKeys:
        return DncListKeys(f"{self.root}:{{d:{list_id}}}")


@dataclass(frozen=True)
class CampaignKeys:
    base: str

    def record(self) -> str:
        """STRING msgpack of the Campaign model."""
        return f"{self.base}:campaign"

    def scrub(self) -> str:
        """HASH: the last scrub of the lists against the DNC list (checked, blocked, at)."""
        return f"{self.base}:scrub"

    def instances(self) -> str:
        """SET of run instance numbers that have lead state (for cleanup)."""
        return f"{self.base}:instances"

    def counters(self, mode: str) -> str:
        """HASH of the campaign's monotonic counters for metrics, one hash per dialing mode
        (a run's mode is fixed, so each hash only grows): call outcomes, DNC blocks, calls
        originated per trunk, live answers, ring and talk histogram buckets. Incremented in
        the same atomic step as the state change they count; kept across run instances."""
        return f"{self.base}:counters:{mode}"

    def run(self, instance: int) -> RunKeys:
        return RunKeys(f"{self.base}:r:{instance}")

    # The abandon ledger (cluster/abandon.py): per campaign, across its run instances.
    def abandon_seen(self) -> str:
        """ZSET "<call id>:<event>" -> epoch ms: events already counted (kept 48 h)."""
        return f"{self.base}:ab:seen"

    def abandon_hours(self, utc_day: str) -> str:
        """HASH "<HH>:<event>" -> count for one UTC day (YYYYMMDD); the US rolling window."""
        return f"{self.base}:ab:h:{utc_day}"

    def abandon_day(self, local_day: str) -> str:
        """HASH event -> count for one calendar day (YYYY-MM-DD) in the campaign's time zone;
        the UK window."""
        return f"{self.base}:ab:d:{local_day}"

    def abandon_recent(self) -> str:
        """ZSET E.164 -> epoch ms of its latest abandoned call (kept 72 h: the UK redial hold)."""
        return f"{self.base}:ab:recent"

    def abandon_totals(self) -> str:
        """HASH event -> count over the campaign's life."""
        return f"{self.base}:ab:totals"


@dataclass(frozen=True)
class RunKeys:
    """Lead state of one run instance. A lead is in exactly one of ready, waiting, leases, final."""

    base: str

    def meta(self) -> str:
        """HASH: sources (msgpack list of [list_id, offset]), order, seed, created_at."""
        return f"{self.base}:meta"

    def ready(self) -> str:
        """ZSET lead -> rank in dialing order; eligible to dial now."""
        return f"{self.base}:ready"

    def waiting(self) -> str:
        """ZSET lead -> epoch ms when the lead may be dialed again (retry, callback, window)."""
        return f"{self.base}:waiting"

    def leases(self) -> str:
        """HASH lead -> lease token of the dialer that holds it."""
        return f"{self.base}:leases"

    def lease_expiry(self) -> str:
        """ZSET lead -> epoch ms when its lease lapses unless renewed; the reaper reads it."""
        return f"{self.base}:lease_exp"

    def attempts(self) -> str:
        """HASH lead -> attempts made (a leased lead's attempt counts)."""
        return f"{self.base}:attempts"

    def last_outcome(self) -> str:
        """HASH lead -> outcome of its latest attempt."""
        return f"{self.base}:last"

    def final(self) -> str:
        """HASH lead -> final outcome; the lead is never dialed again in this instance."""
        return f"{self.base}:final"

    def progress(self) -> str:
        """HASH counter -> value (total, dialed, per-outcome counts, completed, lease_seq)."""
        return f"{self.base}:progress"

    def idempotency(self) -> str:
        """HASH idempotency key -> result; makes a retried dial call place no second call."""
        return f"{self.base}:idem"

    def pending_dispositions(self) -> str:
        """HASH lead -> redial time (-1 final) of a disposition filed before the campaign had
        recorded the call's end; applied when it does."""
        return f"{self.base}:pending_dispo"

    def reservations(self) -> str:
        """HASH agent reservation id -> msgpack lease (lead, token, attempt): makes dialing for
        a reserved agent idempotent when the pool's request is retried."""
        return f"{self.base}:reservations"

    def connects(self) -> str:
        """HASH call id -> agent id: which agent took a paced call's live answer (predictive,
        power). A live answer not in it when its call ends was abandoned."""
        return f"{self.base}:connects"

    def calls(self) -> str:
        """HASH call id -> msgpack call record (lead, attempt, trunk, times, outcome): the CDRs."""
        return f"{self.base}:calls"

    def all(self) -> list[str]:
        return [
            self.pending_dispositions(),
            self.reservations(),
            self.connects(),
            self.calls(),
            self.meta(),
            self.ready(),
            self.waiting(),
            self.leases(),
            self.lease_expiry(),
            self.attempts(),
            self.last_outcome(),
            self.final(),
            self.progress(),
            self.idempotency(),
        ]


@dataclass(frozen=True)
class ContactListKeys:
    base: str

    def meta(self) -> str:
        """HASH: name, description, count, next_seq, created_at."""
        return f"{self.base}:meta"

    def contacts(self) -> str:
        """HASH seq -> msgpack contact record. seq orders the list (list order)."""
        return f"{self.base}:contacts"

    def phones(self) -> str:
        """HASH E.164 phone -> seq; rejects duplicates within the list."""
        return f"{self.base}:phones"

    def staging(self, import_id: str) -> ContactListKeys:
        """Where an import writes until it commits; same hash tag as the list."""
        return ContactListKeys(f"{self.base}:stage:{import_id}")


@dataclass(frozen=True)
class DncListKeys:
    base: str

    def meta(self) -> str:
        """HASH: name, description, count, created_at."""
        return f"{self.base}:meta"

    def bucket(self, prefix: str) -> str:
        """SET of integer line numbers (last 4 digits) under one number prefix (an intset)."""
        return f"{self.base}:b:{prefix}"

    def bucket_index(self) -> str:
        """SET of bucket prefixes in use (for delete and export)."""
        return f"{self.base}:buckets"
