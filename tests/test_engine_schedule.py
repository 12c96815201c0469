"""Scheduled campaigns through the real engine: the controller starts and ends occurrences by
the (scaled, skipping) clock, re-scrubs before each, and every occurrence dials the list afresh
with no call outside its window."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from cluster.models import CampaignStatus
from tests.engine_helpers import (
    MONDAY_10AM_NY_MS,
    call_records,
    campaign_spec,
    check_run_invariants,
    make_list,
    phones,
    runtime,
    start,
)

pytestmark = pytest.mark.usefixtures("ray_cluster")

MINUTE_MS = 60_000
HOUR_MS = 60 * MINUTE_MS
NEW_YORK = ZoneInfo("America/New_York")
TRUNKS = [{"id": "t1", "channels": 4, "cps": 5}]


def ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)


def test_a_daily_campaign_dials_the_whole_list_afresh_in_each_of_two_occurrences(
    redis_url: str,
) -> None:
    # Monday and Tuesday, 10:30-12:30 New York. The clock starts Monday 10:00 at 600x (the
    # cluster's start-up takes some of the first half hour) and jumps from Monday 12:45 to
    # Tuesday 10:25, over the idle night. One attempt per lead, so each occurrence needs a few
    # virtual minutes of its two hours, and a loaded machine's jitter still fits.
    skip = (MONDAY_10AM_NY_MS + 165 * MINUTE_MS, 22 * HOUR_MS - 20 * MINUTE_MS)
    cfg = runtime(redis_url, schedule_every_s=0.05, clock_skips=(skip,))
    with start(cfg, TRUNKS) as cluster:
        state = cluster.state
        numbers = phones(12)
        dnc = state.dnc.create("dnc")
        schedule = {
            "start": "2026-01-05T00:00:00",
            "end": "2026-01-06T23:00:00",
            "recurrence": {"frequency": "daily", "start_time": "10:30", "end_time": "12:30"},
        }
        campaign = state.campaigns.create(
            campaign_spec(
                [make_list(state, numbers)],
                dnc_list_id=dnc.id,
                schedule=schedule,
                max_attempts=1,
            )
        )
        assert campaign.status is CampaignStatus.SCHEDULED
        # Monday's occurrence: re-scrubbed at 10:15, started by the scheduler, and back to
        # Scheduled once its leads are done.
        cluster.wait_for(
            lambda: state.campaigns.get(campaign.id).run_instance == 1, 60, "first occurrence"
        )
        cluster.wait_status(campaign.id, CampaignStatus.SCHEDULED, timeout_s=60)
        first = state.campaigns.get(campaign.id)
        assert first.occurrence is not None and first.occurrence.index == 0
        assert first.occurrence.start == datetime(2026, 1, 5, 15, 30, tzinfo=UTC)
        # A number added to the DNC list overnight is scrubbed before Tuesday and not dialed.
        late = numbers[3]
        state.dnc.add(dnc.id, [late])
        listed_at = state.clock.now_ms()
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout_s=60)
        second = state.campaigns.get(campaign.id)
        assert second.run_instance == 2
        assert second.occurrence is not None and second.occurrence.index == 1
        assert second.occurrence.start == datetime(2026, 1, 6, 15, 30, tzinfo=UTC)
        # Re-scrubbed for Tuesday's occurrence before it dialed (at 10:15, or on a slow
        # machine just before the late start).
        scrub = state.campaigns.last_scrub(campaign.id)
        assert scrub["occurrence"] == ms(second.occurrence.start) and scrub["blocked"] == 1
        assert scrub["at"] * 1000 <= min(r.start_ms for r in call_records(state, second))

        # Each occurrence dialed every lead of the list, inside its own window.
        phone_of = dict(enumerate(numbers))
        one = check_run_invariants(
            state,
            second.model_copy(update={"run_instance": 1, "occurrence": first.occurrence}),
            phone_of=phone_of,
            dnc_since_ms={late: listed_at},
            trunk_channels={"t1": 4},
            max_in_flight=campaign.pacing,
        )
        two = check_run_invariants(
            state,
            second,
            phone_of=phone_of,
            dnc_since_ms={late: listed_at},
            trunk_channels={"t1": 4},
            max_in_flight=campaign.pacing,
        )
        assert {r.lead for r in one} == set(phone_of)
        assert {r.lead for r in two} == set(phone_of) - {numbers.index(late)}
        progress = state.campaigns.progress(campaign.id)
        assert progress is not None and progress.outcomes.get("dnc_blocked") == 1


def test_an_occurrence_ending_mid_call_lets_the_call_finish_and_starts_no_more(
    redis_url: str,
) -> None:
    # One occurrence of an hour, from two minutes on: far too short for 400 numbers at
    # pacing 4. At 120x the hour is 30 real seconds: at 600x (6 s) a loaded machine's stall
    # in starting the occurrence could outlast it, and the test saw no call at all.
    cfg = runtime(redis_url, schedule_every_s=0.05, time_scale=120.0)
    with start(cfg, TRUNKS) as cluster:
        state = cluster.state
        numbers = phones(400)
        list_id = make_list(state, numbers)
        soon = state.clock.now().astimezone(NEW_YORK).replace(tzinfo=None, second=0, microsecond=0)
        begin = soon + timedelta(minutes=2)
        schedule = {
            "start": begin.isoformat(),
            "end": (begin + timedelta(minutes=60)).isoformat(),
        }
        campaign = state.campaigns.create(campaign_spec([list_id], schedule=schedule))
        cluster.wait_status(campaign.id, CampaignStatus.ACTIVE, timeout_s=60)
        cluster.wait_status(campaign.id, CampaignStatus.COMPLETED, timeout_s=60)
        done = state.campaigns.get(campaign.id)
        assert done.occurrence is not None and done.occurrence.end is not None
        end_ms = ms(done.occurrence.end)
        start_ms = ms(done.occurrence.start)
        run = state.campaigns.run_instance(done)
        assert run is not None
        cluster.wait_for(lambda: run.leads.leased_count() == 0, 60, "calls in flight to end")
        records = call_records(state, done)
        assert records, "the occurrence placed no call"
        assert all(start_ms <= r.start_ms < end_ms for r in records)
        assert all(r.end_ms is not None for r in records)
        # Some call was still up when the occurrence ended, and finished after it.
        assert any(r.end_ms is not None and r.end_ms > end_ms for r in records)
        progress = run.leads.progress()
        assert progress.completed < progress.total  # the rest waits for a next run
