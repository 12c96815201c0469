"""TrunkService: the registry in Redis, then the controller reconciles the trunk actors."""

from __future__ import annotations

import grpc

from cluster.errors import FailedPrecondition
from gateway import convert
from gateway.gen.dialer.v1 import trunk_service_pb2 as pb
from gateway.gen.dialer.v1 import trunk_service_pb2_grpc as pb_grpc
from gateway.services.base import Gateway


class TrunkService(pb_grpc.TrunkServiceServicer):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.trunks = gw.state.trunks

    def _id(self, name: str) -> str:
        return convert.parse_name(name, convert.TRUNKS)

    def _proto(self, trunk_id: str) -> pb.Trunk:
        config = self.trunks.get(trunk_id)
        return convert.trunk_to_proto(config, self.gw.engine.trunk_live_calls(trunk_id))

    def RegisterTrunk(
        self, request: pb.RegisterTrunkRequest, context: grpc.ServicerContext
    ) -> pb.RegisterTrunkResponse:
        def register() -> pb.RegisterTrunkResponse:
            with convert.request_paths("trunk", convert.trunk_paths):
                config = self.trunks.add(convert.trunk_spec(request.trunk))
            self.gw.engine.trunk_changed(config.id)
            return pb.RegisterTrunkResponse(trunk=self._proto(config.id))

        return self.gw.idem.run("RegisterTrunk", request, pb.RegisterTrunkResponse, register)

    def ListTrunks(
        self, request: pb.ListTrunksRequest, context: grpc.ServicerContext
    ) -> pb.ListTrunksResponse:
        return pb.ListTrunksResponse(
            trunks=[
                convert.trunk_to_proto(t, self.gw.engine.trunk_live_calls(t.id))
                for t in self.trunks.all()
            ]
        )

    def ScaleTrunk(
        self, request: pb.ScaleTrunkRequest, context: grpc.ServicerContext
    ) -> pb.ScaleTrunkResponse:
        def scale() -> pb.ScaleTrunkResponse:
            trunk_id = self._id(request.name)
            with convert.request_paths():
                self.trunks.update(trunk_id, {"channels": request.channels})
            self.gw.engine.trunk_changed(trunk_id)
            return pb.ScaleTrunkResponse(trunk=self._proto(trunk_id))

        return self.gw.idem.run("ScaleTrunk", request, pb.ScaleTrunkResponse, scale)

    def DrainTrunk(
        self, request: pb.DrainTrunkRequest, context: grpc.ServicerContext
    ) -> pb.DrainTrunkResponse:
        def drain() -> pb.DrainTrunkResponse:
            trunk_id = self._id(request.name)
            self.trunks.update(trunk_id, {"draining": True})
            self.gw.engine.trunk_changed(trunk_id)
            return pb.DrainTrunkResponse(trunk=self._proto(trunk_id))

        return self.gw.idem.run("DrainTrunk", request, pb.DrainTrunkResponse, drain)

    def RemoveTrunk(
        self, request: pb.RemoveTrunkRequest, context: grpc.ServicerContext
    ) -> pb.RemoveTrunkResponse:
        def remove() -> pb.RemoveTrunkResponse:
            trunk_id = self._id(request.name)
            config = self.trunks.get(trunk_id)
            if not request.force:
                if not config.draining:
                    raise FailedPrecondition(f"trunk {trunk_id} is not draining: drain it first")
                live = self.gw.engine.trunk_live_calls(trunk_id)
                if live:
                    raise FailedPrecondition(f"trunk {trunk_id} still has {live} live calls")
            self.trunks.remove(trunk_id)
            self.gw.engine.trunk_changed(trunk_id)
            return pb.RemoveTrunkResponse()

        return self.gw.idem.run("RemoveTrunk", request, pb.RemoveTrunkResponse, remove)
