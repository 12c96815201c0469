"""A gateway server on a free loopback port and clients for each role, for the gRPC tests."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.rpc import error_details_pb2
from grpc_status import rpc_status

from actors.runtime import RuntimeConfig
from gateway.auth import TokenTable
from gateway.client import DialerClient, connect
from gateway.server import GatewayServer, ServerConfig
from gateway.services.base import Streams

TOKENS = {
    "admin": "admin-token-0001",
    "supervisor": "supervisor-token-0001",
    "viewer": "viewer-token-0001",
    "ann": "agent-ann-token-0001",
    "bob": "agent-bob-token-0001",
}
AUTH = ",".join(
    [
        f"{TOKENS['admin']}:admin",
        f"{TOKENS['supervisor']}:supervisor",
        f"{TOKENS['viewer']}:viewer",
        f"{TOKENS['ann']}:agent:ann",
        f"{TOKENS['bob']}:agent:bob",
    ]
)
FAST_STREAMS = Streams(poll_s=0.05, heartbeat_s=0.5, block_ms=100)


@dataclass
class Served:
    server: GatewayServer
    address: str
    clients: list[DialerClient] = field(default_factory=list)

    def client(self, who: str = "admin", token: str | None = None, **extra: Any) -> DialerClient:
        client = connect(self.address, token if token is not None else TOKENS[who], **extra)
        self.clients.append(client)
        return client

    @property
    def state(self) -> Any:
        return self.server.gateway.state


@contextlib.contextmanager
def serve(cfg: RuntimeConfig, config: ServerConfig | None = None, **extra: Any) -> Iterator[Served]:
    server = GatewayServer(
        cfg,
        TokenTable.parse_env(AUTH),
        config or ServerConfig(address="127.0.0.1:0", max_workers=16),
        streams=FAST_STREAMS,
        **extra,
    )
    port = server.start()
    served = Served(server, f"localhost:{port}" if server.tls else f"127.0.0.1:{port}")
    try:
        yield served
    finally:
        for client in served.clients:
            client.close()
        server.stop(1.0)


def plain_runtime(redis_url: str) -> RuntimeConfig:
    return RuntimeConfig(redis_url=redis_url, prefix=f"grpc-{uuid.uuid4().hex[:8]}")


def rpc_error(call: Any, *args: Any, **kwargs: Any) -> grpc.RpcError:
    """The RpcError a call raises (fails the test if it succeeds)."""
    try:
        call(*args, **kwargs)
    except grpc.RpcError as exc:
        return exc
    raise AssertionError("the call succeeded")


def violations(exc: grpc.RpcError) -> dict[str, str]:
    """field -> description of the BadRequest in an error's rich status."""
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None, "no rich status"
    out = {}
    for detail in status.details:
        if detail.Is(error_details_pb2.BadRequest.DESCRIPTOR):
            bad = error_details_pb2.BadRequest()
            detail.Unpack(bad)
            out.update({v.field: v.description for v in bad.field_violations})
    return out


def error_reason(exc: grpc.RpcError) -> str:
    status = rpc_status.from_call(exc)  # type: ignore[arg-type]
    assert status is not None
    for detail in status.details:
        if detail.Is(error_details_pb2.ErrorInfo.DESCRIPTOR):
            info = error_details_pb2.ErrorInfo()
            detail.Unpack(info)
            return str(info.reason)
    return ""
