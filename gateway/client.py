"""A client of the dialer.v1 API: one channel with the bearer token, and a stub per service.

from gateway.client import connect
dialer = connect("127.0.0.1:50051", token)
dialer.campaigns.ListCampaigns(campaign_service_pb2.ListCampaignsRequest())
"""

from __future__ import annotations

import collections
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc

from gateway.gen.dialer.v1 import (
    agent_service_pb2_grpc,
    campaign_service_pb2_grpc,
    contact_list_service_pb2_grpc,
    dnc_list_service_pb2_grpc,
    trunk_service_pb2_grpc,
)


class _Details(
    collections.namedtuple(
        "_Details",
        ("method", "timeout", "metadata", "credentials", "wait_for_ready", "compression"),
    ),
    grpc.ClientCallDetails,
):
    pass


class BearerToken(
    grpc.UnaryUnaryClientInterceptor,
    grpc.UnaryStreamClientInterceptor,
    grpc.StreamUnaryClientInterceptor,
    grpc.StreamStreamClientInterceptor,
):
    """Adds `authorization: Bearer <token>` to every call (TLS or not)."""

    def __init__(self, token: str) -> None:
        self.header = ("authorization", f"Bearer {token}")

    def _details(self, details: Any) -> _Details:
        metadata = [*(details.metadata or []), self.header]
        return _Details(
            details.method,
            details.timeout,
            metadata,
            details.credentials,
            getattr(details, "wait_for_ready", None),
            getattr(details, "compression", None),
        )

    def intercept_unary_unary(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation: Any, details: Any, request: Any) -> Any:
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)

    def intercept_stream_stream(self, continuation: Any, details: Any, requests: Any) -> Any:
        return continuation(self._details(details), requests)


@dataclass
class DialerClient:
    channel: grpc.Channel
    campaigns: campaign_service_pb2_grpc.CampaignServiceStub
    contact_lists: contact_list_service_pb2_grpc.ContactListServiceStub
    dnc_lists: dnc_list_service_pb2_grpc.DncListServiceStub
    agents: agent_service_pb2_grpc.AgentServiceStub
    trunks: trunk_service_pb2_grpc.TrunkServiceStub

    def close(self) -> None:
        self.channel.close()

    def __enter__(self) -> DialerClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def connect(address: str, token: str, ca_cert: Path | str | None = None) -> DialerClient:
    """A client over a plain channel, or TLS when `ca_cert` (PEM) is given."""
    if ca_cert is not None:
        credentials = grpc.ssl_channel_credentials(root_certificates=Path(ca_cert).read_bytes())
        raw = grpc.secure_channel(address, credentials)
    else:
        raw = grpc.insecure_channel(address)
    channel = grpc.intercept_channel(raw, BearerToken(token))
    return DialerClient(
        channel=raw,
        campaigns=campaign_service_pb2_grpc.CampaignServiceStub(channel),
        contact_lists=contact_list_service_pb2_grpc.ContactListServiceStub(channel),
        dnc_lists=dnc_list_service_pb2_grpc.DncListServiceStub(channel),
        agents=agent_service_pb2_grpc.AgentServiceStub(channel),
        trunks=trunk_service_pb2_grpc.TrunkServiceStub(channel),
    )
