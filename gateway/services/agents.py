"""AgentService: agents act through their queue's AgentPoolActor; assignments are read from
each agent's Redis stream (written by the pool), so a gateway restart loses none."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import grpc
import msgpack

from cluster.agents import AgentStore
from cluster.codec import text
from cluster.errors import NotFound
from gateway import convert
from gateway.gen.dialer.v1 import agent_service_pb2 as pb
from gateway.gen.dialer.v1 import agent_service_pb2_grpc as pb_grpc
from gateway.services.base import Gateway


class AgentService(pb_grpc.AgentServiceServicer):
    def __init__(self, gw: Gateway) -> None:
        self.gw = gw

    def _agent(self, name: str) -> tuple[str, str]:
        queue_id, agent_id = convert.parse_agent_name(name)
        self.gw.require_agent(agent_id)
        return queue_id, agent_id

    def _pool(self, queue_id: str, method: str, *args: Any) -> Any:
        return self.gw.engine.call_pool(queue_id, method, *args)

    def LoginAgent(
        self, request: pb.LoginAgentRequest, context: grpc.ServicerContext
    ) -> pb.LoginAgentResponse:
        def login() -> pb.LoginAgentResponse:
            queue_id, agent_id = self._agent(request.name)
            record = self._pool(queue_id, "login", agent_id)
            return pb.LoginAgentResponse(agent=convert.agent_to_proto(queue_id, record))

        return self.gw.idem.run("LoginAgent", request, pb.LoginAgentResponse, login)

    def SetAgentState(
        self, request: pb.SetAgentStateRequest, context: grpc.ServicerContext
    ) -> pb.SetAgentStateResponse:
        def set_state() -> pb.SetAgentStateResponse:
            queue_id, agent_id = self._agent(request.name)
            available = convert.wanted_availability(request.state)
            record = self._pool(queue_id, "set_available", agent_id, available)
            return pb.SetAgentStateResponse(agent=convert.agent_to_proto(queue_id, record))

        return self.gw.idem.run("SetAgentState", request, pb.SetAgentStateResponse, set_state)

    def LogoutAgent(
        self, request: pb.LogoutAgentRequest, context: grpc.ServicerContext
    ) -> pb.LogoutAgentResponse:
        def logout() -> pb.LogoutAgentResponse:
            queue_id, agent_id = self._agent(request.name)
            record = self._pool(queue_id, "logout", agent_id)
            return pb.LogoutAgentResponse(agent=convert.agent_to_proto(queue_id, record))

        return self.gw.idem.run("LogoutAgent", request, pb.LogoutAgentResponse, logout)

    def SubmitDisposition(
        self, request: pb.SubmitDispositionRequest, context: grpc.ServicerContext
    ) -> pb.SubmitDispositionResponse:
        def dispose() -> pb.SubmitDispositionResponse:
            queue_id, agent_id = self._agent(request.name)
            self._pool(queue_id, "dispose", agent_id, request.code, convert.callback_ms(request))
            agent = self._load(queue_id, agent_id)
            return pb.SubmitDispositionResponse(agent=convert.agent_to_proto(queue_id, agent))

        return self.gw.idem.run("SubmitDisposition", request, pb.SubmitDispositionResponse, dispose)

    def AcceptPreviewOffer(
        self, request: pb.AcceptPreviewOfferRequest, context: grpc.ServicerContext
    ) -> pb.AcceptPreviewOfferResponse:
        def accept() -> pb.AcceptPreviewOfferResponse:
            queue_id, agent_id = self._agent(request.name)
            record = self._pool(queue_id, "accept_offer", agent_id)
            return pb.AcceptPreviewOfferResponse(agent=convert.agent_to_proto(queue_id, record))

        return self.gw.idem.run(
            "AcceptPreviewOffer", request, pb.AcceptPreviewOfferResponse, accept
        )

    def SkipPreviewOffer(
        self, request: pb.SkipPreviewOfferRequest, context: grpc.ServicerContext
    ) -> pb.SkipPreviewOfferResponse:
        def skip() -> pb.SkipPreviewOfferResponse:
            queue_id, agent_id = self._agent(request.name)
            record = self._pool(queue_id, "skip_offer", agent_id)
            return pb.SkipPreviewOfferResponse(agent=convert.agent_to_proto(queue_id, record))

        return self.gw.idem.run("SkipPreviewOffer", request, pb.SkipPreviewOfferResponse, skip)

    def _store(self, queue_id: str) -> AgentStore:
        return AgentStore(self.gw.state.r, self.gw.state.keys.queue_agents(queue_id))

    def _load(self, queue_id: str, agent_id: str) -> Any:
        for agent in self._store(queue_id).load():
            if agent.id == agent_id:
                return agent
        raise NotFound("agent", agent_id)

    def ListAgents(
        self, request: pb.ListAgentsRequest, context: grpc.ServicerContext
    ) -> pb.ListAgentsResponse:
        queue_id = convert.parse_queue_name(request.parent)
        agents = sorted(self._store(queue_id).load(), key=lambda a: a.id)
        return pb.ListAgentsResponse(agents=[convert.agent_to_proto(queue_id, a) for a in agents])

    def WatchAssignments(
        self, request: pb.WatchAssignmentsRequest, context: grpc.ServicerContext
    ) -> Iterator[pb.WatchAssignmentsResponse]:
        queue_id, agent_id = self._agent(request.name)
        r = self.gw.state.r
        key = self.gw.state.keys.agent_assignments(queue_id, agent_id)
        last = request.after_event_id
        if not last:
            newest: Any = r.xrevrange(key, count=1)
            last = text(newest[0][0]) if newest else "0-0"
        while context.is_active() and not self.gw.stopping.is_set():
            batches: Any = r.xread({key: last}, count=100, block=self.gw.streams.block_ms)
            for _, entries in batches or []:
                for raw_id, fields in entries:
                    last = text(raw_id)
                    record = msgpack.unpackb(fields[b"event"])
                    yield convert.assignment_to_proto(last, record)
