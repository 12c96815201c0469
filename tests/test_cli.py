"""dialerctl against a real gateway over loopback (no engine: lifecycle without dialing)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from cluster.abandon import LedgerEvent
from cluster.lifecycle import Action
from cluster.models import ContactableTimings
from gateway.cli import main
from tests.grpc_helpers import TOKENS, Served, plain_runtime, serve


@pytest.fixture(scope="module")
def served(redis_url: str) -> Iterator[Served]:
    with serve(plain_runtime(redis_url)) as s:
        yield s


def ctl(
    served: Served, capsys: pytest.CaptureFixture[str], *args: str, who: str = "admin"
) -> tuple[int, str]:
    code = main(["--address", served.address, "--token", TOKENS[who], *args])
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def test_dialerctl_manages_lists_dnc_campaigns_and_trunks(
    served: Served, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, out = ctl(served, capsys, "lists", "create", "Spring")
    assert code == 0 and "created" in out
    list_id = out.split()[1]
    csv = tmp_path / "leads.csv"
    csv.write_text("phone,name\n2125550100,Ann\n2125550101,Bob\nbad,Cy\n" * 1)
    code, out = ctl(served, capsys, "lists", "import", list_id, str(csv))
    assert code == 0 and "2 accepted" in out and "1 rejected" in out and "invalid number" in out
    code, out = ctl(served, capsys, "dnc", "create", "Internal")
    dnc_id = out.split()[1]
    code, out = ctl(served, capsys, "dnc", "add", dnc_id, "2125550100", "junk")
    assert code == 0 and "added 1" in out and "rejected junk" in out
    code, out = ctl(served, capsys, "dnc", "check", dnc_id, "+12125550100")
    assert code == 0 and "yes" in out
    spec = {
        "displayName": "CLI campaign",
        "contactLists": [f"contactLists/{list_id}"],
        "dncList": f"dncLists/{dnc_id}",
        "dialingMode": "DIALING_MODE_AGENTLESS",
        "startFlowId": "flow",
        "callerId": "+12125550199",
        "contactableTimings": {
            "timezone": "America/New_York",
            "days": [{"day": "WEEKDAY_MONDAY", "windows": [{"start": "09:00", "end": "17:00"}]}],
        },
    }
    spec_file = tmp_path / "campaign.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    code, out = ctl(served, capsys, "campaigns", "create", "-f", str(spec_file))
    assert code == 0, out
    campaign_id = out.split()[1]
    edit = tmp_path / "edit.yaml"
    edit.write_text("pacing: 7\n")
    code, out = ctl(served, capsys, "campaigns", "edit", campaign_id, "-f", str(edit))
    assert code == 0 and "pacing" in out
    code, out = ctl(served, capsys, "campaigns", "list", "--status", "ready")
    assert code == 0 and "CLI campaign" in out
    code, out = ctl(served, capsys, "campaigns", "run", campaign_id)
    assert code == 0 and "active" in out
    code, out = ctl(served, capsys, "campaigns", "delete", campaign_id)
    assert code == 1 and "FAILED_PRECONDITION" in out
    for action, status in (("pause", "paused"), ("stop", "stopped")):
        code, out = ctl(served, capsys, "campaigns", action, campaign_id)
        assert code == 0 and status in out
    code, out = ctl(served, capsys, "campaigns", "watch", campaign_id)
    assert code == 0 and "stopped" in out
    code, out = ctl(served, capsys, "campaigns", "clone", campaign_id)
    assert code == 0 and "(copy)" in out
    code, out = ctl(served, capsys, "campaigns", "get", f"campaigns/{campaign_id}")
    assert code == 0 and '"pacing": 7' in out
    code, out = ctl(served, capsys, "campaigns", "create", "-f", str(spec_file))
    assert code == 1 and "ALREADY_EXISTS" in out
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump({**spec, "displayName": "other", "pacing": 0, "callerId": "1"}))
    code, out = ctl(served, capsys, "campaigns", "create", "-f", str(bad))
    assert code == 1 and "INVALID_ARGUMENT" in out and "campaign.caller_id" in out
    code, out = ctl(served, capsys, "trunks", "register", "cli-t", "--channels", "5")
    assert code == 0
    code, out = ctl(served, capsys, "trunks", "drain", "cli-t")
    code, out = ctl(served, capsys, "trunks", "list")
    assert code == 0 and "cli-t" in out and "yes" in out
    code, out = ctl(served, capsys, "trunks", "remove", "cli-t")
    assert code == 0
    code, out = ctl(served, capsys, "agents", "list", "sales")
    assert code == 0


def test_dialerctl_reports_auth_refusals(
    served: Served, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out = ctl(served, capsys, "lists", "create", "nope", who="viewer")
    assert code == 1 and "PERMISSION_DENIED" in out
    code = main(["--address", served.address, "--token", "wrong-token-123", "trunks", "list"])
    assert code == 1 and "UNAUTHENTICATED" in capsys.readouterr().err


def test_dialerctl_progress_shows_the_abandon_window(
    served: Served, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COLUMNS", "240")  # one line per table row
    state = served.state
    contacts = state.lists.create("window")
    state.lists.import_csv(contacts.id, ["phone\n+12125550100\n"])
    campaign = state.campaigns.create(
        {
            "name": "Window",
            "contact_list_ids": [contacts.id],
            "dialing_mode": "predictive",
            "queue_id": "sales",
            "safe_harbor_flow_id": "safe-harbor",
            "abandon_target": 0.02,
            "caller_id": "+12125550199",
            "contactable_timings": ContactableTimings.default("UTC").model_dump(mode="json"),
        }
    )
    state.campaigns.act(campaign.id, Action.RUN)  # no engine here: the run is only seeded
    ledger, now = state.abandon_ledger(campaign.id), state.clock.now_ms()
    for i in range(8):
        ledger.record(f"call-{i}", LedgerEvent.LIVE, now, now)
    ledger.record("call-3", LedgerEvent.ABANDONED, now, now)
    code, out = ctl(served, capsys, "campaigns", "progress", campaign.id)
    assert code == 0 and "12.50%: 1 of 8 live (target 2.0%, us)" in out, out
