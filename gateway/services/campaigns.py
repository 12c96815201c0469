"""CampaignService."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import grpc

from cluster.abandon import AbandonBudget, AbandonLedger
from cluster.lifecycle import Action
from cluster.models import Campaign, CampaignStatus
from gateway import convert
from gateway.gen.dialer.v1 import campaign_service_pb2 as pb
from gateway.gen.dialer.v1 import campaign_service_pb2_grpc as pb_grpc
from gateway.paging import page
from gateway.services.base import Gateway

_ENDED = frozenset({CampaignStatus.COMPLETED, CampaignStatus.STOPPED})


class CampaignService(pb_grpc.CampaignServiceServicer):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.store = gw.state.campaigns

    def _id(self, name: str) -> str:
        return convert.parse_name(name, convert.CAMPAIGNS)

    def CreateCampaign(
        self, request: pb.CreateCampaignRequest, context: grpc.ServicerContext
    ) -> pb.CreateCampaignResponse:
        def create() -> pb.CreateCampaignResponse:
            with convert.request_paths("campaign", convert.campaign_paths(request.campaign)):
                campaign = self.store.create(convert.campaign_spec(request.campaign))
            return pb.CreateCampaignResponse(campaign=convert.campaign_to_proto(campaign))

        return self.gw.idem.run("CreateCampaign", request, pb.CreateCampaignResponse, create)

    def GetCampaign(
        self, request: pb.GetCampaignRequest, context: grpc.ServicerContext
    ) -> pb.GetCampaignResponse:
        campaign = self.store.get(self._id(request.name))
        return pb.GetCampaignResponse(campaign=convert.campaign_to_proto(campaign))

    def ListCampaigns(
        self, request: pb.ListCampaignsRequest, context: grpc.ServicerContext
    ) -> pb.ListCampaignsResponse:
        status = convert.status_from_proto(request.status)
        items, token = page(
            self.store.all(status), lambda c: c.id, request.page_size, request.page_token
        )
        return pb.ListCampaignsResponse(
            campaigns=[convert.campaign_to_proto(c) for c in items], next_page_token=token
        )

    def UpdateCampaign(
        self, request: pb.UpdateCampaignRequest, context: grpc.ServicerContext
    ) -> pb.UpdateCampaignResponse:
        def update() -> pb.UpdateCampaignResponse:
            campaign_id = convert.parse_name(
                request.campaign.name, convert.CAMPAIGNS, "campaign.name"
            )
            mask = list(request.update_mask.paths)
            convert.check_campaign_mask(mask)
            with convert.request_paths("campaign", convert.campaign_paths(request.campaign)):
                changes = convert.campaign_changes(request.campaign, mask)
                campaign = self.store.update(campaign_id, changes)
            self.gw.engine.campaign_changed(campaign_id)
            return pb.UpdateCampaignResponse(campaign=convert.campaign_to_proto(campaign))

        return self.gw.idem.run("UpdateCampaign", request, pb.UpdateCampaignResponse, update)

    def DeleteCampaign(
        self, request: pb.DeleteCampaignRequest, context: grpc.ServicerContext
    ) -> pb.DeleteCampaignResponse:
        def delete() -> pb.DeleteCampaignResponse:
            campaign_id = self._id(request.name)
            self.store.delete(campaign_id)
            self.gw.engine.campaign_changed(campaign_id)
            return pb.DeleteCampaignResponse()

        return self.gw.idem.run("DeleteCampaign", request, pb.DeleteCampaignResponse, delete)

    def CloneCampaign(
        self, request: pb.CloneCampaignRequest, context: grpc.ServicerContext
    ) -> pb.CloneCampaignResponse:
        def clone() -> pb.CloneCampaignResponse:
            campaign = self.store.clone(self._id(request.name))
            return pb.CloneCampaignResponse(campaign=convert.campaign_to_proto(campaign))

        return self.gw.idem.run("CloneCampaign", request, pb.CloneCampaignResponse, clone)

    def _act(self, method: str, request: Any, action: Action, response_type: Any) -> Any:
        def act() -> Any:
            campaign_id = self._id(request.name)
            campaign = self.store.act(campaign_id, action)
            self.gw.engine.campaign_changed(campaign_id)
            return response_type(campaign=convert.campaign_to_proto(campaign))

        return self.gw.idem.run(method, request, response_type, act)

    def RunCampaign(
        self, request: pb.RunCampaignRequest, context: grpc.ServicerContext
    ) -> pb.RunCampaignResponse:
        return self._act("RunCampaign", request, Action.RUN, pb.RunCampaignResponse)

    def PauseCampaign(
        self, request: pb.PauseCampaignRequest, context: grpc.ServicerContext
    ) -> pb.PauseCampaignResponse:
        return self._act("PauseCampaign", request, Action.PAUSE, pb.PauseCampaignResponse)

    def ResumeCampaign(
        self, request: pb.ResumeCampaignRequest, context: grpc.ServicerContext
    ) -> pb.ResumeCampaignResponse:
        return self._act("ResumeCampaign", request, Action.RESUME, pb.ResumeCampaignResponse)

    def StopCampaign(
        self, request: pb.StopCampaignRequest, context: grpc.ServicerContext
    ) -> pb.StopCampaignResponse:
        return self._act("StopCampaign", request, Action.STOP, pb.StopCampaignResponse)

    def RerunCampaign(
        self, request: pb.RerunCampaignRequest, context: grpc.ServicerContext
    ) -> pb.RerunCampaignResponse:
        return self._act("RerunCampaign", request, Action.RERUN, pb.RerunCampaignResponse)

    def _snapshot(self, campaign_id: str) -> tuple[pb.Campaign, pb.CampaignProgress | None, Any]:
        campaign = self.store.get(campaign_id)
        run = self.store.run_instance(campaign)
        progress = run.leads.progress() if run is not None else None
        abandon = self._abandon_window(campaign) if progress is not None else None
        message = (
            convert.progress_to_proto(
                progress, campaign.run_instance, abandon, campaign.compliance_regime
            )
            if progress
            else None
        )
        key = (campaign.status, campaign.run_instance, progress, abandon)
        return convert.campaign_to_proto(campaign), message, key

    def _abandon_window(self, campaign: Campaign) -> AbandonBudget | None:
        """The compliance window's abandon rate (DialerState.abandon_budget, read with the
        campaign record in hand); None for agentless campaigns, which never abandon."""
        if not campaign.dialing_mode.uses_agents:
            return None
        state = self.gw.state
        ledger = AbandonLedger.for_campaign(state.r, state.keys.campaign(campaign.id), campaign)
        return ledger.budget(campaign, state.clock.now_ms())

    def GetCampaignProgress(
        self, request: pb.GetCampaignProgressRequest, context: grpc.ServicerContext
    ) -> pb.GetCampaignProgressResponse:
        _, progress, _ = self._snapshot(self._id(request.name))
        return pb.GetCampaignProgressResponse(progress=progress)

    def WatchCampaign(
        self, request: pb.WatchCampaignRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchCampaignResponse]:
        campaign_id = self._id(request.name)
        streams = self.gw.streams
        last_key: Any = None
        last_sent = 0.0
        while context.is_active() and not self.gw.stopping.is_set():
            campaign, progress, key = self._snapshot(campaign_id)
            now = time.monotonic()
            if key != last_key or now - last_sent >= streams.heartbeat_s:
                response = pb.WatchCampaignResponse(campaign=campaign, progress=progress)
                response.observe_time.FromDatetime(self.gw.state.clock.now())
                yield response
                last_key, last_sent = key, now
            if key[0] in _ENDED:
                return
            self.gw.stopping.wait(streams.poll_s)
