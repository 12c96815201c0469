"""`dialer-up`: brings the cluster up on this machine and keeps it up until interrupted.

With no REDIS_URL it starts an embedded Redis (data under DIALER_DATA_DIR); with no RAY_ADDRESS
it starts a local Ray. Then it starts the controller, which brings up a trunk actor for every
registered trunk and a dialer for every running campaign (and keeps doing so), and the gRPC
gateway (DIALER_GRPC_ADDRESS, default 127.0.0.1:50051). Without DIALER_AUTH_FILE or
DIALER_AUTH_TOKENS an admin token is generated and written to DIALER_DATA_DIR/admin.token.

SIGTERM or Ctrl-C stops the gateway first (no new calls; calls in flight get
DIALER_GRPC_GRACE_S), then Ray and Redis.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import threading
from typing import TYPE_CHECKING

from rich.console import Console

from cluster import logs
from cluster.config import Settings
from cluster.redis_server import EmbeddedRedis
from cluster.state import connect

if TYPE_CHECKING:
    from gateway.server import GatewayServer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="dialer-up", description=__doc__)
    parser.add_argument("--no-ray", action="store_true", help="start Redis only")
    parser.add_argument(
        "--check", action="store_true", help="start everything, report, and stop (a smoke test)"
    )
    args = parser.parse_args(argv)
    console = Console()
    settings = Settings.from_env()
    log_level, log_phones = logs.settings_from_env()
    logs.configure(log_level, log_phones)
    embedded: EmbeddedRedis | None = None
    gateway: GatewayServer | None = None
    if settings.redis_url:
        redis_url = settings.redis_url
    else:
        embedded = EmbeddedRedis(settings.data_dir / "redis").start()
        redis_url = embedded.url
    try:
        client = connect(redis_url)
        version = client.info("server")["redis_version"]
        console.print(f"[green]redis[/] {version} at {redis_url}")
        if not args.no_ray:
            import ray

            from actors.controller import start_controller
            from actors.runtime import RuntimeConfig

            ray.init(address=settings.ray_address, include_dashboard=False, log_to_driver=False)
            console.print(f"[green]ray[/] {ray.__version__}: {ray.cluster_resources()}")
            runtime = RuntimeConfig(
                redis_url=redis_url,
                prefix=settings.key_prefix,
                default_region=settings.default_region,
                log_level=log_level,
                log_phone_numbers=log_phones,
            )
            registry = ray.get(start_controller(runtime).reconcile.remote())
            console.print(f"[green]controller[/] up, {len(registry['actors'])} actors")
        console.print(f"key prefix [bold]{settings.key_prefix}[/], data in {settings.data_dir}")
        gateway = _start_gateway(console, settings, redis_url)
        if args.check:
            return 0
        console.print("cluster is up; Ctrl-C stops it")
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
        return 0
    finally:
        if gateway is not None:
            gateway.stop()
            console.print("gateway stopped")
        if not args.no_ray:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        if embedded is not None:
            embedded.stop()
        console.print("stopped")


def _start_gateway(console: Console, settings: Settings, redis_url: str) -> GatewayServer:
    from actors.runtime import RuntimeConfig
    from gateway.auth import Principal, Role, TokenTable, new_token
    from gateway.server import GatewayServer, ServerConfig

    tokens = TokenTable.from_env()
    if not len(tokens):
        token = new_token()
        tokens.add(token, Principal(Role.ADMIN, label="generated"))
        path = settings.data_dir / "admin.token"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(token + "\n")
        os.chmod(path, 0o600)
        console.print(f"[yellow]no DIALER_AUTH_FILE / DIALER_AUTH_TOKENS[/]: admin token in {path}")
    runtime = RuntimeConfig(
        redis_url=redis_url, prefix=settings.key_prefix, default_region=settings.default_region
    )
    server = GatewayServer(runtime, tokens, ServerConfig.from_env())
    port = server.start()
    scheme = "TLS" if server.tls else "plaintext"
    console.print(f"[green]gateway[/] on {server.config.address} (port {port}, {scheme})")
    if server.metrics is not None:
        console.print(f"[green]metrics[/] on http://{server.metrics.address}/metrics")
    return server


if __name__ == "__main__":
    raise SystemExit(main())
