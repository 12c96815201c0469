"""The gRPC server: the dialer.v1 services behind one guard, plus health and reflection.

A thread-pool server: the handlers call redis-py and Ray, both blocking, so each call holds a
worker thread (streams too; size `max_workers` for the watchers you expect).

The guard wraps every dialer.v1 handler: it authenticates the bearer token, checks the
method's role, and turns any exception into a status (gateway/errors.py). Health checking and
reflection are served unguarded.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator
from concurrent import futures
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from actors.runtime import RuntimeConfig
from cluster.errors import DialerError
from cluster.state import DialerState
from gateway.auth import OPEN_PREFIXES, Principal, TokenTable, authorize
from gateway.engine import Engine
from gateway.errors import to_status
from gateway.gen.dialer.v1 import (
    agent_service_pb2,
    agent_service_pb2_grpc,
    campaign_service_pb2,
    campaign_service_pb2_grpc,
    contact_list_service_pb2,
    contact_list_service_pb2_grpc,
    dnc_list_service_pb2,
    dnc_list_service_pb2_grpc,
    trunk_service_pb2,
    trunk_service_pb2_grpc,
)
from gateway.idempotency import Idempotency
from gateway.metrics import DEFAULT_ADDRESS as DEFAULT_METRICS_ADDRESS
from gateway.metrics import GrpcMetrics, MetricsEndpoint, build_registry
from gateway.services.agents import AgentService
from gateway.services.base import CURRENT_PRINCIPAL, Gateway, Streams
from gateway.services.campaigns import CampaignService
from gateway.services.lists import ContactListService, DncListService
from gateway.services.trunks import TrunkService

log = logging.getLogger(__name__)

SERVICE_NAMES = tuple(
    module.DESCRIPTOR.services_by_name[name].full_name
    for module, name in (
        (campaign_service_pb2, "CampaignService"),
        (contact_list_service_pb2, "ContactListService"),
        (dnc_list_service_pb2, "DncListService"),
        (agent_service_pb2, "AgentService"),
        (trunk_service_pb2, "TrunkService"),
    )
)


@dataclass(frozen=True)
class ServerConfig:
    address: str = "127.0.0.1:50051"
    """DIALER_GRPC_ADDRESS: host:port to listen on (port 0 picks a free one)."""
    tls_cert: Path | None = None
    """DIALER_TLS_CERT: PEM certificate chain; with tls_key, the server speaks TLS only."""
    tls_key: Path | None = None
    """DIALER_TLS_KEY: PEM private key."""
    max_workers: int = 32
    """Concurrent calls (each open stream holds one)."""
    grace_s: float = 10.0
    """DIALER_GRPC_GRACE_S: how long calls in flight may finish at shutdown."""
    metrics_address: str | None = None
    """DIALER_METRICS_ADDRESS: host:port of the Prometheus endpoint (from the environment:
    127.0.0.1:9464 unless set; "off" serves none). None here: no endpoint."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> ServerConfig:
        env = dict(os.environ) if env is None else env
        cert, key = env.get("DIALER_TLS_CERT"), env.get("DIALER_TLS_KEY")
        if bool(cert) != bool(key):
            raise ValueError("set both DIALER_TLS_CERT and DIALER_TLS_KEY, or neither")
        return cls(
            address=env.get("DIALER_GRPC_ADDRESS") or cls.address,
            tls_cert=Path(cert) if cert else None,
            tls_key=Path(key) if key else None,
            max_workers=int(env.get("DIALER_GRPC_WORKERS") or cls.max_workers),
            grace_s=float(env.get("DIALER_GRPC_GRACE_S") or cls.grace_s),
            metrics_address=_metrics_address(env.get("DIALER_METRICS_ADDRESS")),
        )


def _metrics_address(value: str | None) -> str | None:
    if value is None or not value.strip():
        return DEFAULT_METRICS_ADDRESS
    return None if value.strip().lower() in ("off", "none", "0") else value.strip()


def _guard_behavior(
    kind: str,
    behavior: Callable[..., Any],
    principal: Principal | None,
    refusal: Exception | None,
    observe: Callable[[str, float], None],
) -> Callable[..., Any]:
    """The handler behavior, run as `principal`, with every exception made a status, and its
    status code and duration reported to `observe` once it is over."""
    if kind.endswith("_stream"):  # the response is a stream

        def streaming(request: Any, context: grpc.ServicerContext) -> Iterator[Any]:
            CURRENT_PRINCIPAL.set(principal)
            started, code = time.perf_counter(), "OK"
            try:
                try:
                    if refusal is not None:
                        raise refusal
                    yield from behavior(request, context)
                    return
                except GeneratorExit:  # the client went away
                    code = "CANCELLED"
                    raise
                except Exception as exc:
                    status = to_status(exc)
                    code = status.code.name
                context.abort_with_status(status)
            finally:
                observe(code, time.perf_counter() - started)

        return streaming

    def unary(request: Any, context: grpc.ServicerContext) -> Any:
        CURRENT_PRINCIPAL.set(principal)
        started, code = time.perf_counter(), "OK"
        try:
            try:
                if refusal is not None:
                    raise refusal
                return behavior(request, context)
            except Exception as exc:
                status = to_status(exc)
                code = status.code.name
            context.abort_with_status(status)
        finally:
            observe(code, time.perf_counter() - started)

    return unary


_KINDS = {
    "unary_unary": grpc.unary_unary_rpc_method_handler,
    "unary_stream": grpc.unary_stream_rpc_method_handler,
    "stream_unary": grpc.stream_unary_rpc_method_handler,
    "stream_stream": grpc.stream_stream_rpc_method_handler,
}


class Guard(grpc.ServerInterceptor):
    """Authentication, authorization, error mapping and request metrics for every dialer.v1
    call (unknown methods are not counted: their names come from clients, unbounded)."""

    def __init__(self, tokens: TokenTable, metrics: GrpcMetrics | None = None) -> None:
        self.tokens = tokens
        self.metrics = metrics

    def _observer(self, method: str) -> Callable[[str, float], None]:
        metrics = self.metrics
        if metrics is None:
            return lambda code, seconds: None
        return lambda code, seconds: metrics.observe(method, code, seconds)

    def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], grpc.RpcMethodHandler | None],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler | None:
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or method.startswith(OPEN_PREFIXES):
            return handler
        metadata = dict(handler_call_details.invocation_metadata)
        principal: Principal | None = None
        refusal: Exception | None = None
        try:
            principal = authorize(self.tokens, method, metadata)
        except DialerError as exc:
            refusal = exc
        for kind, make in _KINDS.items():
            behavior = getattr(handler, kind)
            if behavior is not None:
                return make(
                    _guard_behavior(kind, behavior, principal, refusal, self._observer(method)),
                    request_deserializer=handler.request_deserializer,
                    response_serializer=handler.response_serializer,
                )
        return handler


class GatewayServer:
    """The running front door. start() binds and serves; stop() drains it."""

    def __init__(
        self,
        runtime: RuntimeConfig,
        tokens: TokenTable,
        config: ServerConfig | None = None,
        *,
        state: DialerState | None = None,
        streams: Streams | None = None,
    ) -> None:
        if not len(tokens):
            raise ValueError("no bearer tokens configured: the gateway never runs open")
        self.config = config or ServerConfig()
        state = state or runtime.state()
        self.gateway = Gateway(
            state=state,
            engine=Engine(runtime),
            idem=Idempotency(state.r, state.keys),
            streams=streams or Streams(),
        )
        self.health = health.HealthServicer()
        self.metrics_registry, grpc_metrics = build_registry(state)
        self.metrics: MetricsEndpoint | None = None
        if self.config.metrics_address:
            self.metrics = MetricsEndpoint(self.metrics_registry, self.config.metrics_address)
        self.server = grpc.server(
            futures.ThreadPoolExecutor(
                max_workers=self.config.max_workers, thread_name_prefix="grpc"
            ),
            interceptors=[Guard(tokens, grpc_metrics)],
        )
        gw = self.gateway
        campaign_service_pb2_grpc.add_CampaignServiceServicer_to_server(
            CampaignService(gw), self.server
        )
        contact_list_service_pb2_grpc.add_ContactListServiceServicer_to_server(
            ContactListService(gw), self.server
        )
        dnc_list_service_pb2_grpc.add_DncListServiceServicer_to_server(
            DncListService(gw), self.server
        )
        agent_service_pb2_grpc.add_AgentServiceServicer_to_server(AgentService(gw), self.server)
        trunk_service_pb2_grpc.add_TrunkServiceServicer_to_server(TrunkService(gw), self.server)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        reflection.enable_server_reflection(
            (*SERVICE_NAMES, health.SERVICE_NAME, reflection.SERVICE_NAME), self.server
        )
        self.port = 0

    def start(self) -> int:
        """Binds and starts serving; returns the port."""
        cfg = self.config
        if cfg.tls_cert and cfg.tls_key:
            credentials = grpc.ssl_server_credentials(
                [(cfg.tls_key.read_bytes(), cfg.tls_cert.read_bytes())]
            )
            self.port = self.server.add_secure_port(cfg.address, credentials)
        else:
            self.port = self.server.add_insecure_port(cfg.address)
        if not self.port:
            raise RuntimeError(f"could not listen on {cfg.address}")
        self.server.start()
        for name in ("", *SERVICE_NAMES):
            self.health.set(name, health_pb2.HealthCheckResponse.SERVING)
        log.info("gateway listening on %s (port %d)", cfg.address, self.port)
        if self.metrics is not None:
            port = self.metrics.start()
            log.info("metrics on %s (port %d)", self.metrics.address, port)
        return self.port

    @property
    def tls(self) -> bool:
        return self.config.tls_cert is not None

    def stop(self, grace_s: float | None = None) -> None:
        """Graceful: health says NOT_SERVING, new calls are refused, streams end, and calls
        in flight get `grace_s` to finish. Every write they make is atomic (a campaign by
        compare-and-set, an import by committing its segment at the end), so a call cut at the
        deadline leaves nothing half-written."""
        self.health.enter_graceful_shutdown()
        self.gateway.stopping.set()
        grace = self.config.grace_s if grace_s is None else grace_s
        self.server.stop(grace).wait()
        if self.metrics is not None:
            self.metrics.stop()
