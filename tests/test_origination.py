"""The trunk's origination script in a real Redis: a duplicate is answered before anything
else, refusals and lost leases write nothing, a placed call is recorded, counted and renewed."""

from __future__ import annotations

import msgpack

from cluster.lifecycle import Action
from cluster.models import ContactableTimings
from cluster.origination import OriginationRequest, Originations
from cluster.state import DialerState


def leased_run(state: DialerState):  # type: ignore[no-untyped-def]
    lst = state.lists.create("l")
    state.lists.import_csv(lst.id, ["phone\n2125550100\n"])
    campaign = state.campaigns.create(
        {
            "name": "c",
            "contact_list_ids": [lst.id],
            "dialing_mode": "agentless",
            "start_flow_id": "flow",
            "caller_id": "+12125550199",
            "contactable_timings": ContactableTimings.default().model_dump(mode="json"),
        }
    )
    campaign = state.campaigns.act(campaign.id, Action.RUN)
    run = state.campaigns.run_instance(campaign)
    assert run is not None
    (leased,) = run.lease_contacts(state.clock.now_ms(), 1, 60_000, 3)
    return campaign, run, leased


def test_origination_answers_in_order_duplicate_refusal_lease_then_places(
    state: DialerState,
) -> None:
    campaign, run, leased = leased_run(state)
    keys = state.keys.campaign(campaign.id)
    counters = keys.counters("agentless")
    originations = Originations(state.r)

    def record(refusal: str = "", token: str = leased.lease.token, call_id: str = "t-1"):  # type: ignore[no-untyped-def]
        request = OriginationRequest(
            run.keys, counters, idempotency_key="k1", refusal=refusal, lead=leased.lease.lead,
            token=token, lease_until_ms=9_999_999_999_999, call_id=call_id,
            record={"lead": leased.lease.lead, "start_ms": 5}, originated_field="originated:t",
            now_ms=5,
        )  # fmt: skip
        (answer,) = originations.record_many([request])
        return answer

    assert record(refusal="no_capacity").result == "no_capacity"
    assert record(token="someone-else").result == "lease_lost"
    assert not state.r.exists(run.keys.calls(), run.keys.idempotency())
    placed = record()
    assert (placed.result, placed.call_id) == ("placed", "t-1")
    assert msgpack.unpackb(state.r.hget(run.keys.calls(), "t-1")) == {
        "lead": leased.lease.lead,
        "start_ms": 5,
    }
    assert state.r.zscore(run.keys.lease_expiry(), leased.lease.lead) == 9_999_999_999_999
    assert state.r.hget(counters, "originated:t") == b"1"
    # A retried request is a duplicate even when the trunk would now refuse it.
    again = record(refusal="cps", call_id="t-2")
    assert (again.result, again.call_id) == ("duplicate", "t-1")
    assert state.r.hlen(run.keys.calls()) == 1 and state.r.hget(counters, "originated:t") == b"1"
