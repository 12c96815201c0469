"""Preview dialing over the API, against the real engine: an agent sees each contact offered
on WatchAssignments (with the offer's deadline), skips or accepts it, and only an accepted
contact is dialed; progress and a metrics scrape show the abandon rate of the campaign's
compliance window; dialerctl accepts, skips and watches.

Virtual time runs at 60x: an offer open 600 virtual seconds stays open ten real seconds, far
longer than the gRPC round trips that decide it on a loaded machine; wrap-up is given an hour
(a minute of real time) for the same reason.
"""

from __future__ import annotations

import dataclasses
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from cluster.abandon import AbandonCounts, LedgerEvent
from cluster.metrics import CampaignCounters
from gateway.gen.dialer.v1 import agent_service_pb2 as apb
from gateway.gen.dialer.v1 import campaign_service_pb2 as cpb
from tests.engine_helpers import Cluster, call_records, phones, runtime, start
from tests.grpc_helpers import Served, error_reason, rpc_error, serve
from tests.test_cli import ctl
from tests.test_grpc_api import timings
from tests.test_grpc_engine import HUMANS, import_list

pytestmark = pytest.mark.usefixtures("ray_cluster")

Code = grpc.StatusCode
SCALE = 60.0
OFFER_S = 600
TRUNK = {"id": "t1", "channels": 4, "cps": 10}


@pytest.fixture(scope="module")
def engine(redis_url: str) -> Iterator[tuple[Cluster, Served]]:
    cfg = runtime(redis_url, time_scale=SCALE, tick_s=0.01, wrap_up_timeout_s=3600.0)
    cfg = dataclasses.replace(cfg, carrier=HUMANS)
    with start(cfg, [TRUNK]) as cluster, serve(cfg, state=cluster.state) as served:
        yield cluster, served


class Desk:
    """An agent's assignment stream, read in a thread into a queue."""

    def __init__(self, client: Any, agent: str) -> None:
        self.events: queue.Queue[apb.WatchAssignmentsResponse] = queue.Queue()
        self.stream = client.agents.WatchAssignments(
            apb.WatchAssignmentsRequest(name=agent, after_event_id="0")
        )
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        try:
            for event in self.stream:
                self.events.put(event)
        except grpc.RpcError as exc:
            assert exc.code() is Code.CANCELLED

    def next(self, kind: int) -> apb.WatchAssignmentsResponse:
        """The next event of `kind`, skipping none of another kind."""
        event = self.events.get(timeout=60)
        assert event.event == kind, event
        return event

    def close(self) -> None:
        self.stream.cancel()
        self.thread.join(timeout=10)


def preview_campaign(admin: Any, queue_id: str, numbers: list[str]) -> cpb.Campaign:
    spec = cpb.Campaign(
        display_name=f"preview-{uuid.uuid4().hex[:6]}",
        contact_lists=[import_list(admin, numbers)],
        dialing_mode=cpb.DIALING_MODE_PREVIEW,
        queue_id=queue_id,
        caller_id="+12125550199",
        max_attempts=1,
        retry_period_minutes=60,  # a skipped contact is not offered again during the test
        preview_timeout_seconds=OFFER_S,
        contactable_timings=timings(),
    )
    return admin.campaigns.CreateCampaign(cpb.CreateCampaignRequest(campaign=spec)).campaign


def test_an_agent_skips_and_accepts_preview_offers(
    engine: tuple[Cluster, Served], capsys: pytest.CaptureFixture[str]
) -> None:
    cluster, served = engine
    state = cluster.state
    admin, ann, bob = served.client("admin"), served.client("ann"), served.client("bob")
    queue_id = f"q-{uuid.uuid4().hex[:6]}"
    agent = f"queues/{queue_id}/agents/ann"
    numbers = phones(3, 6000)
    ann.agents.LoginAgent(apb.LoginAgentRequest(name=agent))
    # Nothing offered yet: nothing to accept or skip.
    for decide, request_type in (
        (ann.agents.AcceptPreviewOffer, apb.AcceptPreviewOfferRequest),
        (ann.agents.SkipPreviewOffer, apb.SkipPreviewOfferRequest),
    ):
        refused = rpc_error(decide, request_type(name=agent))
        assert refused.code() is Code.FAILED_PRECONDITION
        assert error_reason(refused) == "PRECONDITION"
    desk = Desk(ann, agent)
    created = preview_campaign(admin, queue_id, numbers)
    campaign_id = created.name.split("/")[1]
    admin.campaigns.RunCampaign(cpb.RunCampaignRequest(name=created.name))
    try:
        first = desk.next(apb.ASSIGNMENT_EVENT_OFFERED)
        assert first.campaign == created.name and first.call_id == ""
        assert first.contact.phone_number in numbers
        assert first.contact.display_name == f"Person {numbers.index(first.contact.phone_number)}"
        # The deadline is the offer's timeout after it was made (the event is written just
        # after that instant).
        offer_ms = first.expire_time.ToMilliseconds() - first.event_time.ToMilliseconds()
        assert 0 < offer_ms <= OFFER_S * 1000
        (listed,) = ann.agents.ListAgents(apb.ListAgentsRequest(parent=f"queues/{queue_id}")).agents
        assert (listed.state, listed.call_id, listed.campaign) == (
            apb.AGENT_STATE_RESERVED, "", created.name,
        )  # fmt: skip
        assert listed.offer_expire_time == first.expire_time
        # Another agent's token cannot decide for her.
        denied = rpc_error(bob.agents.AcceptPreviewOffer, apb.AcceptPreviewOfferRequest(name=agent))
        assert denied.code() is Code.PERMISSION_DENIED

        # Skip: the contact goes back undialed, its attempt not counted.
        skipped = ann.agents.SkipPreviewOffer(apb.SkipPreviewOfferRequest(name=agent)).agent
        assert skipped.state == apb.AGENT_STATE_AVAILABLE
        assert not skipped.HasField("offer_expire_time")
        skipped_lead = numbers.index(first.contact.phone_number)
        run = state.campaigns.run_instance(state.campaigns.get(campaign_id))
        assert run is not None
        leads = run.leads.snapshot()
        assert skipped_lead in leads["waiting"] and skipped_lead not in leads["final"]
        assert leads["attempts"].get(skipped_lead, 0) == 0

        # Accept: the call is placed for her, once however often the request is retried.
        second = desk.next(apb.ASSIGNMENT_EVENT_OFFERED)
        assert second.contact.phone_number != first.contact.phone_number
        accept = apb.AcceptPreviewOfferRequest(name=agent, request_id=f"accept-{uuid.uuid4()}")
        accepted = ann.agents.AcceptPreviewOffer(accept)
        assert accepted.agent.call_id and not accepted.agent.HasField("offer_expire_time")
        assert accepted.agent.state in (apb.AGENT_STATE_RESERVED, apb.AGENT_STATE_ON_CALL)
        assert ann.agents.AcceptPreviewOffer(accept) == accepted
        connected = desk.next(apb.ASSIGNMENT_EVENT_CONNECTED)
        assert connected.call_id == accepted.agent.call_id
        assert connected.contact.phone_number == second.contact.phone_number
        desk.next(apb.ASSIGNMENT_EVENT_ENDED)
        ann.agents.SubmitDisposition(apb.SubmitDispositionRequest(name=agent, code="sale"))
        third = desk.next(apb.ASSIGNMENT_EVENT_OFFERED)  # the last contact, left undecided
        assert third.contact.phone_number not in (
            first.contact.phone_number, second.contact.phone_number,
        )  # fmt: skip

        # Exactly the accepted contact was dialed, by her, on its first attempt.
        campaign = state.campaigns.get(campaign_id)
        calls = call_records(state, campaign)
        dialed_lead = numbers.index(second.contact.phone_number)
        assert [(c.call_id, c.lead, c.attempt, c.agent) for c in calls] == [
            (accepted.agent.call_id, dialed_lead, 1, "ann")
        ]
        progress = admin.campaigns.GetCampaignProgress(
            cpb.GetCampaignProgressRequest(name=created.name)
        ).progress
        assert (progress.total, progress.dialed, progress.completed) == (3, 1, 1)

        # The ledger counted her live answer as the trunk's counters did.
        ledger = state.abandon_ledger(campaign_id)
        counters = CampaignCounters.parse(
            state.r.hgetall(state.keys.campaign(campaign_id).counters("preview"))
        )
        assert ledger.totals() == AbandonCounts(live=1) and counters.live_answers == 1
        # The abandon window: that answer, plus abandons counted by an earlier run (the
        # ledger is the campaign's, across runs).
        now = state.clock.now_ms()
        for i in range(3):
            ledger.record(f"earlier-{i}", LedgerEvent.LIVE, now, now)
        ledger.record("earlier-0", LedgerEvent.ABANDONED, now, now)
        budget = state.abandon_budget(campaign_id)
        assert (budget.live_answers, budget.abandoned) == (4, 1)
        window = admin.campaigns.GetCampaignProgress(
            cpb.GetCampaignProgressRequest(name=created.name)
        ).progress.abandon_window
        assert (window.rate, window.live_answers, window.abandoned) == (0.25, 4, 1)
        assert window.rate == pytest.approx(budget.rate) and window.target_rate == 0.03
        scraped = {
            (s.name, s.labels.get("event")): s.value
            for family in text_string_to_metric_families(
                generate_latest(served.server.metrics_registry).decode()
            )
            for s in family.samples
            if s.labels.get("campaign") == campaign_id
        }
        assert scraped[("dialer_campaign_abandon_window_ratio", None)] == pytest.approx(0.25)
        assert scraped[("dialer_campaign_abandon_target_ratio", None)] == 0.03
        assert scraped[("dialer_campaign_abandon_window_calls", "live")] == 4

        # dialerctl: the events so far, then skip the offer she holds; nothing left to accept.
        code, out = ctl(served, capsys, "agents", "watch", queue_id, "ann", "--after", "0",
                        "--count", "5", who="ann")  # fmt: skip
        assert code == 0 and out.count("offered") == 3 and "expires" in out, out
        assert third.contact.phone_number in out and accepted.agent.call_id in out
        code, out = ctl(served, capsys, "agents", "skip", queue_id, "ann", who="ann")
        assert (code, "ann: skipped, available" in out) == (0, True), out
        code, out = ctl(served, capsys, "agents", "accept", queue_id, "ann")
        assert code == 1 and "FAILED_PRECONDITION" in out
    finally:
        desk.close()
        admin.campaigns.StopCampaign(cpb.StopCampaignRequest(name=created.name))
