"""The stores of one tenant over one Redis connection, with the rules that span them."""

from __future__ import annotations

import redis

from cluster.abandon import AbandonBudget, AbandonLedger
from cluster.clock import Clock, SystemClock
from cluster.config import Settings
from cluster.contacts import ContactListStore
from cluster.dnc import DncStore
from cluster.errors import FailedPrecondition
from cluster.keys import TenantKeys
from cluster.store import CampaignStore
from cluster.trunks import TrunkRegistry

MIN_REDIS_VERSION = (6, 2)


def connect(url: str) -> redis.Redis:
    """A client for `url`, refusing servers older than Redis 6.2 (the Lua we rely on)."""
    client = redis.Redis.from_url(url, health_check_interval=30)
    version = str(client.info("server")["redis_version"])
    major, minor = (int(x) for x in version.split(".")[:2])
    if (major, minor) < MIN_REDIS_VERSION:
        raise RuntimeError(f"Redis {version} at {url} is too old: 6.2 or newer is required")
    return client


class DialerState:
    def __init__(
        self,
        client: redis.Redis,
        *,
        prefix: str = "dialer",
        tenant: str = "default",
        default_region: str = "US",
        clock: Clock | None = None,
    ) -> None:
        self.r = client
        self.keys = TenantKeys(prefix, tenant)
        self.clock = clock or SystemClock()
        self.lists = ContactListStore(client, self.keys, default_region)
        self.dnc = DncStore(client, self.keys, default_region)
        self.campaigns = CampaignStore(client, self.keys, self.lists, self.dnc, self.clock)
        self.trunks = TrunkRegistry(client, self.keys)

    @classmethod
    def from_settings(
        cls, client: redis.Redis, settings: Settings, tenant: str = "default"
    ) -> DialerState:
        return cls(
            client,
            prefix=settings.key_prefix,
            tenant=tenant,
            default_region=settings.default_region,
        )

    def abandon_ledger(self, campaign_id: str) -> AbandonLedger:
        """The campaign's abandon ledger (cluster/abandon.py), in its time zone."""
        campaign = self.campaigns.get(campaign_id)
        return AbandonLedger.for_campaign(
            self.r, self.keys.campaign(campaign_id), campaign, self.keys.abandoned_numbers()
        )

    def abandon_budget(self, campaign_id: str) -> AbandonBudget:
        """The campaign's current abandon window: `.rate` is its abandon rate for progress and
        metrics, and the whole record is what predictive pacing reads."""
        campaign = self.campaigns.get(campaign_id)
        ledger = AbandonLedger.for_campaign(self.r, self.keys.campaign(campaign_id), campaign)
        return ledger.budget(campaign, self.clock.now_ms())

    def delete_contact_list(self, list_id: str) -> None:
        """Deletes a list no campaign uses; a list in use is refused."""
        users = self.campaigns.referencing(contact_list_id=list_id)
        if users:
            raise FailedPrecondition(f"contact list {list_id} is used by campaigns {users}")
        self.lists.delete(list_id)

    def delete_dnc_list(self, list_id: str) -> None:
        users = self.campaigns.referencing(dnc_list_id=list_id)
        if users:
            raise FailedPrecondition(f"DNC list {list_id} is used by campaigns {users}")
        self.dnc.delete(list_id)
