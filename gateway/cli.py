"""`dialerctl`: the dialer.v1 API from a terminal.

    dialerctl campaigns list [--status active]
    dialerctl campaigns create -f campaign.yaml      # the Campaign message as YAML or JSON
    dialerctl campaigns edit ID -f changes.yaml      # the fields in the file are the mask
    dialerctl campaigns run|pause|resume|stop|rerun|clone|delete|get ID
    dialerctl campaigns watch ID                     # live status and progress
    dialerctl campaigns progress ID                  # progress now, with the abandon rate
    dialerctl lists create NAME | list | import LIST FILE.csv
    dialerctl dnc create NAME | add LIST NUMBER... | check LIST NUMBER...
    dialerctl agents list QUEUE
    dialerctl agents login|ready|not-ready|logout QUEUE AGENT
    dialerctl agents dispose QUEUE AGENT CODE [--callback-at 2026-03-02T15:00:00Z]
    dialerctl agents accept|skip QUEUE AGENT          # a preview offer
    dialerctl agents watch QUEUE AGENT [--after ID] [--count N]   # calls and offers
    dialerctl trunks list | register ID --channels N [--cps R] | scale ID N | drain ID | remove ID

Connection: --address (DIALER_ADDRESS, default 127.0.0.1:50051), --token (DIALER_TOKEN, else
the admin token `make up` wrote under DIALER_DATA_DIR), --ca-cert (DIALER_TLS_CA) for TLS.
Ids may be given bare ("cmp_1") or as resource names ("campaigns/cmp_1").
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import yaml
from google.protobuf import field_mask_pb2, json_format
from google.rpc import error_details_pb2
from grpc_status import rpc_status
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from gateway.client import DialerClient, connect
from gateway.gen.dialer.v1 import agent_service_pb2 as apb
from gateway.gen.dialer.v1 import campaign_service_pb2 as cpb
from gateway.gen.dialer.v1 import contact_list_service_pb2 as lpb
from gateway.gen.dialer.v1 import dnc_list_service_pb2 as dpb
from gateway.gen.dialer.v1 import trunk_service_pb2 as tpb

CHUNK_BYTES = 64 * 1024
_ACTIONS = ("run", "pause", "resume", "stop", "rerun")


def _name(collection: str, value: str) -> str:
    return value if "/" in value else f"{collection}/{value}"


def _short(name: str) -> str:
    return name.rsplit("/", 1)[-1]


def _enum_label(enum: Any, value: int, prefix: str) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower()


def _status(value: int) -> str:
    return _enum_label(cpb.CampaignStatus, value, "CAMPAIGN_STATUS_")


def _request_id() -> str:
    return str(uuid.uuid4())


class Ctl:
    def __init__(self, client: DialerClient, console: Console) -> None:
        self.c = client
        self.out = console

    # Campaigns ------------------------------------------------------------------------------
    def campaign_table(self, campaigns: list[cpb.Campaign]) -> Table:
        table = Table("id", "name", "status", "mode", "pacing", "run", "lists")
        for c in campaigns:
            table.add_row(
                _short(c.name),
                c.display_name,
                _status(c.status),
                _enum_label(cpb.DialingMode, c.dialing_mode, "DIALING_MODE_"),
                str(c.pacing),
                str(c.run_instance),
                ", ".join(_short(n) for n in c.contact_lists),
            )
        return table

    def campaigns_list(self, args: argparse.Namespace) -> None:
        status = f"CAMPAIGN_STATUS_{args.status.upper()}" if args.status else None
        campaigns: list[cpb.Campaign] = []
        token = ""
        while True:
            page = self.c.campaigns.ListCampaigns(
                cpb.ListCampaignsRequest(page_size=200, page_token=token, status=status)
            )
            campaigns += page.campaigns
            token = page.next_page_token
            if not token:
                break
        self.out.print(self.campaign_table(campaigns))

    def campaigns_get(self, args: argparse.Namespace) -> None:
        name = _name("campaigns", args.id)
        campaign = self.c.campaigns.GetCampaign(cpb.GetCampaignRequest(name=name)).campaign
        self.out.print_json(json_format.MessageToJson(campaign))

    def campaigns_create(self, args: argparse.Namespace) -> None:
        spec = json_format.ParseDict(_load(args.file), cpb.Campaign())
        request = cpb.CreateCampaignRequest(campaign=spec, request_id=_request_id())
        created = self.c.campaigns.CreateCampaign(request).campaign
        self.out.print(f"created [bold]{_short(created.name)}[/] ({created.display_name})")

    def campaigns_edit(self, args: argparse.Namespace) -> None:
        data = _load(args.file)
        spec = json_format.ParseDict(data, cpb.Campaign())
        spec.name = _name("campaigns", args.id)
        mask = [_snake(k) for k in data]
        request = cpb.UpdateCampaignRequest(
            campaign=spec,
            update_mask=field_mask_pb2.FieldMask(paths=mask),
            request_id=_request_id(),
        )
        updated = self.c.campaigns.UpdateCampaign(request).campaign
        self.out.print(f"updated {_short(updated.name)}: {', '.join(mask)}")

    def campaigns_clone(self, args: argparse.Namespace) -> None:
        request = cpb.CloneCampaignRequest(
            name=_name("campaigns", args.id), request_id=_request_id()
        )
        clone = self.c.campaigns.CloneCampaign(request).campaign
        self.out.print(f"cloned as [bold]{_short(clone.name)}[/] ({clone.display_name})")

    def campaigns_delete(self, args: argparse.Namespace) -> None:
        request = cpb.DeleteCampaignRequest(
            name=_name("campaigns", args.id), request_id=_request_id()
        )
        self.c.campaigns.DeleteCampaign(request)
        self.out.print(f"deleted {args.id}")

    def campaigns_action(self, args: argparse.Namespace) -> None:
        action = args.action.capitalize()
        request_type = getattr(cpb, f"{action}CampaignRequest")
        method = getattr(self.c.campaigns, f"{action}Campaign")
        request = request_type(name=_name("campaigns", args.id), request_id=_request_id())
        campaign = method(request).campaign
        self.out.print(f"{_short(campaign.name)} is now [bold]{_status(campaign.status)}[/]")

    def campaigns_progress(self, args: argparse.Namespace) -> None:
        name = _name("campaigns", args.id)
        campaign = self.c.campaigns.GetCampaign(cpb.GetCampaignRequest(name=name)).campaign
        progress = self.c.campaigns.GetCampaignProgress(cpb.GetCampaignProgressRequest(name=name))
        update = cpb.WatchCampaignResponse(campaign=campaign)
        if progress.HasField("progress"):
            update.progress.CopyFrom(progress.progress)
        self.out.print(_progress_view(update))

    def campaigns_watch(self, args: argparse.Namespace) -> None:
        stream = self.c.campaigns.WatchCampaign(
            cpb.WatchCampaignRequest(name=_name("campaigns", args.id))
        )
        last: cpb.WatchCampaignResponse | None = None
        with Live(console=self.out, auto_refresh=False) as live:
            for update in stream:
                last = update
                live.update(_progress_view(update), refresh=True)
        if last is not None:
            self.out.print(f"{last.campaign.display_name}: {_status(last.campaign.status)}")

    # Lists ----------------------------------------------------------------------------------
    def lists_create(self, args: argparse.Namespace) -> None:
        request = lpb.CreateContactListRequest(
            contact_list=lpb.ContactList(display_name=args.name), request_id=_request_id()
        )
        created = self.c.contact_lists.CreateContactList(request).contact_list
        self.out.print(f"created [bold]{_short(created.name)}[/]")

    def lists_list(self, args: argparse.Namespace) -> None:
        lists = self.c.contact_lists.ListContactLists(
            lpb.ListContactListsRequest(page_size=1000)
        ).contact_lists
        table = Table("id", "name", "contacts")
        for item in lists:
            table.add_row(_short(item.name), item.display_name, str(item.contact_count))
        self.out.print(table)

    def lists_import(self, args: argparse.Namespace) -> None:
        path = Path(args.file)
        size = path.stat().st_size
        name = _name("contactLists", args.list)
        with Progress(
            TextColumn("importing"), BarColumn(), DownloadColumn(), TimeRemainingColumn(),
            console=self.out, transient=True,
        ) as bar:  # fmt: skip
            task = bar.add_task("import", total=size)

            def messages() -> Iterator[lpb.ImportContactsRequest]:
                yield lpb.ImportContactsRequest(
                    name=name, default_region=args.region or "", request_id=_request_id()
                )
                with path.open("rb") as f:
                    while chunk := f.read(CHUNK_BYTES):
                        yield lpb.ImportContactsRequest(chunk=chunk)
                        bar.advance(task, len(chunk))

            report = self.c.contact_lists.ImportContacts(messages())
        self.out.print(
            f"{report.rows} rows: [green]{report.accepted} accepted[/],"
            f" [red]{len(report.rejected)} rejected[/]"
        )
        if report.rejected:
            table = Table("row", "field", "reason")
            for row in report.rejected[:50]:
                table.add_row(str(row.row), row.field, row.reason)
            self.out.print(table)

    # DNC ------------------------------------------------------------------------------------
    def dnc_create(self, args: argparse.Namespace) -> None:
        request = dpb.CreateDncListRequest(
            dnc_list=dpb.DncList(display_name=args.name), request_id=_request_id()
        )
        created = self.c.dnc_lists.CreateDncList(request).dnc_list
        self.out.print(f"created [bold]{_short(created.name)}[/]")

    def dnc_add(self, args: argparse.Namespace) -> None:
        result = self.c.dnc_lists.AddDncNumbers(
            dpb.AddDncNumbersRequest(
                name=_name("dncLists", args.list),
                phone_numbers=args.numbers,
                request_id=_request_id(),
            )
        )
        self.out.print(f"added {result.added}, already listed {result.already_listed}")
        for rejected in result.rejected:
            self.out.print(f"[red]rejected[/] {rejected.phone_number}: {rejected.reason}")

    def dnc_check(self, args: argparse.Namespace) -> None:
        checks = self.c.dnc_lists.CheckDncNumbers(
            dpb.CheckDncNumbersRequest(
                name=_name("dncLists", args.list), phone_numbers=args.numbers
            )
        )
        table = Table("number", "e164", "listed")
        for r in checks.results:
            table.add_row(r.phone_number, r.e164 or "invalid", "yes" if r.listed else "no")
        self.out.print(table)

    # Agents and trunks ----------------------------------------------------------------------
    def agents_list(self, args: argparse.Namespace) -> None:
        agents = self.c.agents.ListAgents(
            apb.ListAgentsRequest(parent=_name("queues", args.queue))
        ).agents
        table = Table("agent", "state", "call", "campaign", "offer expires")
        for a in agents:
            state = _enum_label(apb.AgentState, a.state, "AGENT_STATE_")
            expires = a.offer_expire_time.ToJsonString() if a.HasField("offer_expire_time") else ""
            table.add_row(_short(a.name), state, a.call_id, _short(a.campaign), expires)
        self.out.print(table)

    def agents_act(self, args: argparse.Namespace) -> None:
        """Log an agent in or out, or set her ready or not ready (a supervisor's console)."""
        name = f"queues/{_short(args.queue)}/agents/{_short(args.agent)}"
        rid = _request_id()
        match args.command:
            case "login":
                agent = self.c.agents.LoginAgent(apb.LoginAgentRequest(name=name, request_id=rid))
            case "logout":
                agent = self.c.agents.LogoutAgent(apb.LogoutAgentRequest(name=name, request_id=rid))
            case _:
                state = (
                    apb.AGENT_STATE_AVAILABLE
                    if args.command == "ready"
                    else apb.AGENT_STATE_NOT_READY
                )
                agent = self.c.agents.SetAgentState(
                    apb.SetAgentStateRequest(name=name, state=state, request_id=rid)
                )
        label = _enum_label(apb.AgentState, agent.agent.state, "AGENT_STATE_")
        self.out.print(f"{_short(args.agent)}: {label}")

    def agents_dispose(self, args: argparse.Namespace) -> None:
        request = apb.SubmitDispositionRequest(
            name=f"queues/{_short(args.queue)}/agents/{_short(args.agent)}",
            code=args.code,
            request_id=_request_id(),
        )
        if args.callback_at:
            request.callback_time.FromJsonString(args.callback_at)
        agent = self.c.agents.SubmitDisposition(request).agent
        label = _enum_label(apb.AgentState, agent.state, "AGENT_STATE_")
        self.out.print(f"{_short(args.agent)}: {args.code} filed, {label}")

    def agents_offer(self, args: argparse.Namespace) -> None:
        """Accept or skip the preview offer an agent is deciding on."""
        name = f"queues/{_short(args.queue)}/agents/{_short(args.agent)}"
        if args.command == "accept":
            agent = self.c.agents.AcceptPreviewOffer(
                apb.AcceptPreviewOfferRequest(name=name, request_id=_request_id())
            ).agent
            label = _enum_label(apb.AgentState, agent.state, "AGENT_STATE_")
            placed = f"calling ({agent.call_id})" if agent.call_id else "no call could be placed"
            self.out.print(f"{_short(args.agent)}: accepted, {placed}, {label}")
            return
        agent = self.c.agents.SkipPreviewOffer(
            apb.SkipPreviewOfferRequest(name=name, request_id=_request_id())
        ).agent
        label = _enum_label(apb.AgentState, agent.state, "AGENT_STATE_")
        self.out.print(f"{_short(args.agent)}: skipped, {label}")

    def agents_watch(self, args: argparse.Namespace) -> None:
        """Prints an agent's assignment events (calls connected and ended, preview offers and
        what became of them) as they come; --count ends after that many."""
        request = apb.WatchAssignmentsRequest(
            name=f"queues/{_short(args.queue)}/agents/{_short(args.agent)}",
            after_event_id=args.after or "",
        )
        stream = self.c.agents.WatchAssignments(request)
        for seen, event in enumerate(stream, start=1):
            self.out.print(_assignment_line(event), highlight=False)
            if seen == args.count:
                stream.cancel()
                return

    def trunks_list(self, args: argparse.Namespace) -> None:
        trunks = self.c.trunks.ListTrunks(tpb.ListTrunksRequest()).trunks
        table = Table("trunk", "channels", "cps", "live", "draining", "driver")
        for t in trunks:
            table.add_row(
                _short(t.name), str(t.channels), f"{t.cps:g}", str(t.live_calls),
                "yes" if t.draining else "no", t.driver,
            )  # fmt: skip
        self.out.print(table)

    def trunks_register(self, args: argparse.Namespace) -> None:
        trunk = tpb.Trunk(name=_name("trunks", args.id), channels=args.channels, cps=args.cps)
        self.c.trunks.RegisterTrunk(tpb.RegisterTrunkRequest(trunk=trunk, request_id=_request_id()))
        self.out.print(f"registered {args.id}")

    def trunks_scale(self, args: argparse.Namespace) -> None:
        self.c.trunks.ScaleTrunk(
            tpb.ScaleTrunkRequest(
                name=_name("trunks", args.id), channels=args.channels, request_id=_request_id()
            )
        )
        self.out.print(f"{args.id}: {args.channels} channels")

    def trunks_drain(self, args: argparse.Namespace) -> None:
        self.c.trunks.DrainTrunk(
            tpb.DrainTrunkRequest(name=_name("trunks", args.id), request_id=_request_id())
        )
        self.out.print(f"{args.id} is draining")

    def trunks_remove(self, args: argparse.Namespace) -> None:
        self.c.trunks.RemoveTrunk(
            tpb.RemoveTrunkRequest(
                name=_name("trunks", args.id), force=args.force, request_id=_request_id()
            )
        )
        self.out.print(f"removed {args.id}")


def _progress_view(update: cpb.WatchCampaignResponse) -> Table:
    c, p = update.campaign, update.progress
    table = Table(title=f"{c.display_name} — {_status(c.status)} (run {c.run_instance})")
    table.add_column("total")
    table.add_column("dialed")
    table.add_column("in progress")
    table.add_column("completed")
    table.add_column("remaining")
    table.add_column("outcomes")
    table.add_column("abandon rate (window)")
    if update.HasField("progress"):
        outcomes = ", ".join(f"{k} {v}" for k, v in sorted(p.outcomes.items()))
        table.add_row(
            str(p.total), str(p.dialed), str(p.in_progress), str(p.completed),
            str(p.remaining), outcomes, _abandon_cell(p),
        )  # fmt: skip
    return table


def _abandon_cell(p: cpb.CampaignProgress) -> str:
    """The compliance window's abandon rate, e.g. "1.20%: 3 of 250 live (target 3.0%, us)"."""
    if not p.HasField("abandon_window"):
        return "-"
    w = p.abandon_window
    regime = _enum_label(cpb.ComplianceRegime, w.compliance_regime, "COMPLIANCE_REGIME_")
    return (
        f"{w.rate:.2%}: {w.abandoned:g} of {w.live_answers:g} live"
        f" (target {w.target_rate:.1%}, {regime})"
    )


def _assignment_line(e: apb.WatchAssignmentsResponse) -> str:
    event = _enum_label(apb.AssignmentEvent, e.event, "ASSIGNMENT_EVENT_")
    contact = " ".join(x for x in (e.contact.display_name, e.contact.phone_number) if x)
    parts = [e.event_time.ToJsonString(), f"{event:<13}", _short(e.campaign), contact]
    if e.call_id:
        parts.append(f"call {e.call_id}")
    if e.HasField("expire_time"):
        parts.append(f"expires {e.expire_time.ToJsonString()}")
    parts.append(f"(event {e.event_id})")
    return "  ".join(p for p in parts if p)


def _snake(key: str) -> str:
    return "".join(f"_{ch.lower()}" if ch.isupper() else ch for ch in key)


def _load(path: str) -> dict[str, Any]:
    text = sys.stdin.read() if path == "-" else Path(path).read_text()
    data = json.loads(text) if path.endswith(".json") else yaml.safe_load(text)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping of Campaign fields")
    return data


def _default_token() -> str:
    if os.environ.get("DIALER_TOKEN"):
        return os.environ["DIALER_TOKEN"]
    path = Path(os.environ.get("DIALER_DATA_DIR") or ".data") / "admin.token"
    return path.read_text().strip() if path.exists() else ""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="dialerctl", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--address", default=os.environ.get("DIALER_ADDRESS", "127.0.0.1:50051"))
    parser.add_argument("--token", default=None, help="bearer token (default: DIALER_TOKEN)")
    parser.add_argument("--ca-cert", default=os.environ.get("DIALER_TLS_CA") or None)
    groups = parser.add_subparsers(dest="group", required=True)

    campaigns = groups.add_parser("campaigns").add_subparsers(dest="command", required=True)
    listing = campaigns.add_parser("list")
    statuses = ["ready", "scheduled", "active", "paused", "completed", "stopped"]
    listing.add_argument("--status", choices=statuses)
    listing.set_defaults(run=Ctl.campaigns_list)
    for command, handler in (
        ("get", Ctl.campaigns_get),
        ("clone", Ctl.campaigns_clone),
        ("delete", Ctl.campaigns_delete),
        ("watch", Ctl.campaigns_watch),
        ("progress", Ctl.campaigns_progress),
    ):
        sub = campaigns.add_parser(command)
        sub.add_argument("id")
        sub.set_defaults(run=handler)
    for action in _ACTIONS:
        sub = campaigns.add_parser(action)
        sub.add_argument("id")
        sub.set_defaults(run=Ctl.campaigns_action, action=action)
    sub = campaigns.add_parser("create")
    sub.add_argument("-f", "--file", required=True, help="YAML or JSON Campaign ('-': stdin)")
    sub.set_defaults(run=Ctl.campaigns_create)
    sub = campaigns.add_parser("edit")
    sub.add_argument("id")
    sub.add_argument("-f", "--file", required=True, help="the fields to change")
    sub.set_defaults(run=Ctl.campaigns_edit)

    lists = groups.add_parser("lists").add_subparsers(dest="command", required=True)
    sub = lists.add_parser("create")
    sub.add_argument("name")
    sub.set_defaults(run=Ctl.lists_create)
    lists.add_parser("list").set_defaults(run=Ctl.lists_list)
    sub = lists.add_parser("import")
    sub.add_argument("list")
    sub.add_argument("file")
    sub.add_argument("--region", help="region of numbers without a country code")
    sub.set_defaults(run=Ctl.lists_import)

    dnc = groups.add_parser("dnc").add_subparsers(dest="command", required=True)
    sub = dnc.add_parser("create")
    sub.add_argument("name")
    sub.set_defaults(run=Ctl.dnc_create)
    for command, handler in (("add", Ctl.dnc_add), ("check", Ctl.dnc_check)):
        sub = dnc.add_parser(command)
        sub.add_argument("list")
        sub.add_argument("numbers", nargs="+")
        sub.set_defaults(run=handler)

    agents = groups.add_parser("agents").add_subparsers(dest="command", required=True)
    sub = agents.add_parser("list")
    sub.add_argument("queue")
    sub.set_defaults(run=Ctl.agents_list)
    for command in ("login", "ready", "not-ready", "logout"):
        sub = agents.add_parser(command)
        sub.add_argument("queue")
        sub.add_argument("agent")
        sub.set_defaults(run=Ctl.agents_act)
    sub = agents.add_parser("dispose")
    sub.add_argument("queue")
    sub.add_argument("agent")
    sub.add_argument("code")
    sub.add_argument("--callback-at", help="RFC 3339, for call_back")
    sub.set_defaults(run=Ctl.agents_dispose)
    for command in ("accept", "skip"):
        sub = agents.add_parser(command, help=f"{command} the preview offer the agent holds")
        sub.add_argument("queue")
        sub.add_argument("agent")
        sub.set_defaults(run=Ctl.agents_offer)
    sub = agents.add_parser("watch", help="the agent's calls and preview offers as they come")
    sub.add_argument("queue")
    sub.add_argument("agent")
    sub.add_argument("--after", help="resume after this event id ('0': from the oldest kept)")
    sub.add_argument("--count", type=int, default=0, help="end after this many events")
    sub.set_defaults(run=Ctl.agents_watch)

    trunks = groups.add_parser("trunks").add_subparsers(dest="command", required=True)
    trunks.add_parser("list").set_defaults(run=Ctl.trunks_list)
    sub = trunks.add_parser("register")
    sub.add_argument("id")
    sub.add_argument("--channels", type=int, required=True)
    sub.add_argument("--cps", type=float, default=0)
    sub.set_defaults(run=Ctl.trunks_register)
    sub = trunks.add_parser("scale")
    sub.add_argument("id")
    sub.add_argument("channels", type=int)
    sub.set_defaults(run=Ctl.trunks_scale)
    sub = trunks.add_parser("drain")
    sub.add_argument("id")
    sub.set_defaults(run=Ctl.trunks_drain)
    sub = trunks.add_parser("remove")
    sub.add_argument("id")
    sub.add_argument("--force", action="store_true")
    sub.set_defaults(run=Ctl.trunks_remove)
    return parser


def _report(console: Console, exc: grpc.RpcError) -> None:
    code = exc.code().name if exc.code() else "UNKNOWN"
    console.print(f"[red]error[/] {code}: {exc.details()}")
    status = rpc_status.from_call(exc)
    for detail in status.details if status else []:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            for v in bad.field_violations:
                console.print(f"  {v.field}: {v.description}")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    out = Console(stderr=False, soft_wrap=True)
    err = Console(stderr=True, soft_wrap=True)
    token = args.token if args.token is not None else _default_token()
    if not token:
        err.print("[red]no token[/]: pass --token or set DIALER_TOKEN")
        return 2
    with connect(args.address, token, args.ca_cert) as client:
        try:
            args.run(Ctl(client, out), args)
        except grpc.RpcError as exc:
            _report(err, exc)
            return 1
        except (OSError, ValueError, json_format.ParseError) as exc:
            err.print(f"[red]error[/] {exc}")
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
