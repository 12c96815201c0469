"""Done-when for issue 6: a campaign runs through the real engine, the gateway's metrics
endpoint is scraped over HTTP, and every counter equals what the per-lead and call records in
Redis say; the scraped text passes `promtool check metrics`."""

from __future__ import annotations

import subprocess
import urllib.request
from collections import Counter
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from cluster.metrics import LIVE_ANSWERS
from cluster.models import CampaignStatus
from gateway.gen.dialer.v1 import campaign_service_pb2 as cpb
from gateway.gen.dialer.v1 import contact_list_service_pb2 as lpb
from gateway.server import ServerConfig
from tests.engine_helpers import Cluster, call_records, campaign_spec, phones, runtime, start
from tests.grpc_helpers import Served, rpc_error, serve

pytestmark = pytest.mark.usefixtures("ray_cluster")

TRUNKS = [{"id": "t1", "channels": 3, "cps": 5}, {"id": "t2", "channels": 2, "cps": 5}]


@pytest.fixture
def served(redis_url: str) -> Iterator[tuple[Cluster, Served]]:
    cfg = runtime(redis_url)
    config = ServerConfig(address="127.0.0.1:0", max_workers=8, metrics_address="127.0.0.1:0")
    with start(cfg, TRUNKS) as cluster, serve(cfg, config) as gw:
        yield cluster, gw


def scrape(gw: Served) -> tuple[str, dict[tuple[str, frozenset[tuple[str, str]]], float]]:
    assert gw.server.metrics is not None
    url = f"http://127.0.0.1:{gw.server.metrics.port}/metrics"
    with urllib.request.urlopen(url, timeout=10) as response:
        text = response.read().decode()
    samples = {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }
    return text, samples


def total(samples: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str):  # type: ignore[no-untyped-def]
    want = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and want <= ls)


def test_scraped_counters_match_the_records_in_redis(
    served: tuple[Cluster, Served], promtool: str
) -> None:
    cluster, gw = served
    state = cluster.state
    admin = gw.client("admin")
    numbers = phones(16)
    created = admin.contact_lists.CreateContactList(
        lpb.CreateContactListRequest(contact_list=lpb.ContactList(display_name="leads"))
    ).contact_list
    csv = "phone\n" + "\n".join(numbers) + f"\nnot-a-number\n{numbers[0]}\n"
    report = admin.contact_lists.ImportContacts(
        iter([lpb.ImportContactsRequest(name=created.name, chunk=csv.encode())])
    )
    assert (report.accepted, len(report.rejected)) == (16, 2)
    dnc = state.dnc.create("dnc")
    state.dnc.add(dnc.id, [numbers[3], numbers[7]])
    campaign = state.campaigns.create(
        campaign_spec([created.name.split("/")[-1]], dnc_list_id=dnc.id, max_attempts=2)
    )
    cluster.run(campaign.id)
    name = f"campaigns/{campaign.id}"
    admin.campaigns.GetCampaign(cpb.GetCampaignRequest(name=name))
    rpc_error(admin.campaigns.GetCampaign, cpb.GetCampaignRequest(name="campaigns/nope"))
    cluster.wait_status(campaign.id, CampaignStatus.COMPLETED)

    text, samples = scrape(gw)
    checked = subprocess.run(
        [promtool, "check", "metrics"], input=text.encode(), capture_output=True
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr

    done = state.campaigns.get(campaign.id)
    run = state.campaigns.run_instance(done)
    assert run is not None
    progress = run.leads.progress()
    snap = run.leads.snapshot()
    records = call_records(state, done)
    c = {"campaign": campaign.id, "mode": "agentless"}
    # Calls originated: one per call record, per trunk.
    per_trunk = Counter(r.trunk for r in records)
    assert total(samples, "dialer_calls_originated_total", **c) == len(records) > 0
    for trunk_id, n in per_trunk.items():
        assert total(samples, "dialer_calls_originated_total", **c, trunk=trunk_id) == n
    # Outcomes: dialed attempts by outcome, plus leads made final undialed, equal progress;
    # dialed attempts equal the attempts recorded per lead.
    outcomes = {
        dict(ls)["outcome"]: v
        for (n, ls), v in samples.items()
        if n == "dialer_call_outcomes_total" and dict(ls)["campaign"] == campaign.id
    }
    assert sum(outcomes.values()) == progress.dialed == sum(snap["attempts"].values())
    blocked = total(samples, "dialer_dnc_blocked_total", **c)
    skipped = total(samples, "dialer_leads_skipped_total", **c)
    assert total(samples, "dialer_dnc_blocked_total", **c, stage="seed") == 2
    recorded = Counter(progress.outcomes)
    assert recorded.pop("dnc_blocked", 0) == blocked
    assert sum(recorded.values()) == sum(outcomes.values()) + skipped
    for outcome, n in outcomes.items():
        assert recorded[outcome] == n, outcome
    assert Counter(snap["final"].values())["dnc_blocked"] == blocked
    # Ring and talk histograms and live answers, from the call records.
    ended = [r for r in records if r.end_ms is not None]
    assert len(ended) == len(records)
    assert total(samples, "dialer_call_ring_duration_seconds_count", **c) == len(ended)
    ring_s = (
        sum(
            ((r.end_ms or 0) if not r.answer else _answer_ms(state, done, r.call_id)) - r.start_ms
            for r in ended
        )
        / 1000
    )
    assert total(samples, "dialer_call_ring_duration_seconds_sum", **c) == pytest.approx(ring_s)
    live = [r for r in ended if r.answer in LIVE_ANSWERS]
    assert total(samples, "dialer_live_answers_total", **c) == len(live) > 0
    assert total(samples, "dialer_call_talk_duration_seconds_count", **c) == len(live)
    assert total(samples, "dialer_abandoned_calls_total", **c) == progress.outcomes.get(
        "abandoned", 0
    )
    # Gauges: the run is over, every lead done, nothing live on the trunks.
    assert total(samples, "dialer_campaign_status", campaign=campaign.id, status="completed") == 1
    assert total(samples, "dialer_campaign_leads", campaign=campaign.id, state="done") == 16
    assert total(samples, "dialer_calls_in_progress", campaign=campaign.id) == 0
    assert total(samples, "dialer_trunk_channels_in_use") == 0
    assert total(samples, "dialer_trunk_channels", trunk="t1") == 3
    # Import rows, and the gateway's own gRPC requests by method and code.
    assert total(samples, "dialer_import_rows_total", result="accepted") == 16
    assert total(samples, "dialer_import_rows_total", result="rejected") == 2
    grpc = "dialer_grpc_requests_total"
    assert total(samples, grpc, method="GetCampaign", code="OK") == 1
    assert total(samples, grpc, method="GetCampaign", code="NOT_FOUND") == 1
    assert total(samples, grpc, method="ImportContacts", code="OK") == 1
    assert total(samples, "dialer_grpc_request_duration_seconds_count", method="GetCampaign") == 2
    assert total(samples, "dialer_redis_up") == 1


def _answer_ms(state, campaign, call_id: str) -> int:  # type: ignore[no-untyped-def]
    import msgpack

    run = state.keys.campaign(campaign.id).run(campaign.run_instance)
    return int(msgpack.unpackb(state.r.hget(run.calls(), call_id))["answer_ms"])
