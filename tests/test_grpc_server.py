"""Server lifecycle: TLS when given a certificate, graceful shutdown, configuration."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from pathlib import Path

import grpc
import pytest

from gateway.auth import Role, TokenTable
from gateway.gen.dialer.v1 import campaign_service_pb2 as cpb
from gateway.server import ServerConfig
from tests.grpc_helpers import plain_runtime, rpc_error, serve
from tests.test_grpc_api import campaign, create, new_list


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs openssl to make a cert")
def test_tls_when_a_certificate_is_given(redis_url: str, tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    config = ServerConfig(address="localhost:0", tls_cert=cert, tls_key=key)
    with serve(plain_runtime(redis_url), config) as served:
        secure = served.client("viewer", ca_cert=cert)
        assert secure.campaigns.ListCampaigns(cpb.ListCampaignsRequest()).campaigns == []
        plain = served.client("viewer")  # no TLS: the handshake fails
        failed = rpc_error(plain.campaigns.ListCampaigns, cpb.ListCampaignsRequest(), timeout=2)
        assert failed.code() is grpc.StatusCode.UNAVAILABLE


def test_graceful_shutdown_ends_streams_and_refuses_new_calls(redis_url: str) -> None:
    with serve(plain_runtime(redis_url)) as served:
        admin = served.client("admin")
        watched = create(admin, campaign([new_list(admin)]))
        updates: list[cpb.WatchCampaignResponse] = []
        stream = admin.campaigns.WatchCampaign(cpb.WatchCampaignRequest(name=watched.name))
        errors: list[grpc.RpcError] = []

        def watch() -> None:
            try:
                updates.extend(stream)
            except grpc.RpcError as exc:
                errors.append(exc)

        watcher = threading.Thread(target=watch)
        watcher.start()
        deadline = time.monotonic() + 5
        while not updates and time.monotonic() < deadline:
            time.sleep(0.02)
        started = time.monotonic()
        served.server.stop(5.0)
        watcher.join(timeout=5)
        assert not watcher.is_alive() and time.monotonic() - started < 3  # ended, not cut
        assert updates and not errors
        refused = rpc_error(admin.campaigns.ListCampaigns, cpb.ListCampaignsRequest(), timeout=2)
        assert refused.code() is grpc.StatusCode.UNAVAILABLE


def test_server_configuration_from_the_environment(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="both"):
        ServerConfig.from_env({"DIALER_TLS_CERT": "x"})
    config = ServerConfig.from_env({"DIALER_GRPC_ADDRESS": "0.0.0.0:6000"})
    assert (config.address, config.tls_cert) == ("0.0.0.0:6000", None)
    auth = tmp_path / "auth.yaml"
    auth.write_text("tokens:\n  - {token: desk-token-ann, role: agent, agent_id: ann}\n")
    table = TokenTable.from_env(
        {"DIALER_AUTH_FILE": str(auth), "DIALER_AUTH_TOKENS": "admin-token-1:admin"}
    )
    ann, admin = table.lookup("desk-token-ann"), table.lookup("admin-token-1")
    assert ann is not None and (ann.role, ann.agent_id) == (Role.AGENT, "ann")
    assert admin is not None and admin.role is Role.ADMIN
    assert ann.may_act_as_agent("ann") and not ann.may_act_as_agent("bob")
    with pytest.raises(ValueError, match="agent_id"):
        TokenTable.parse_env("some-token-1:agent")
    with pytest.raises(ValueError, match="unknown role"):
        TokenTable.parse_env("some-token-1:root")
