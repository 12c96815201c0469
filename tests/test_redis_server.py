"""The embedded Redis: a real server, data kept across restarts, DNC-friendly settings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import redis

from cluster.redis_server import INTSET_MAX_ENTRIES, EmbeddedRedis
from cluster.up import main as up_main


def test_restart_keeps_data(tmp_path: Path) -> None:
    with EmbeddedRedis(tmp_path) as first:
        client = redis.Redis.from_url(first.url)
        client.set("campaign", "kept")
        info = client.info("server")
        assert tuple(int(x) for x in info["redis_version"].split(".")[:2]) >= (6, 2)
        assert client.config_get("set-max-intset-entries") == {
            "set-max-intset-entries": str(INTSET_MAX_ENTRIES)
        }
        client.close()
    with EmbeddedRedis(tmp_path) as second:
        assert redis.Redis.from_url(second.url).get("campaign") == b"kept"


def test_up_check_starts_redis_from_the_data_dir(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.setenv("DIALER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DIALER_METRICS_ADDRESS", "127.0.0.1:0")
    assert up_main(["--check", "--no-ray"]) == 0
    assert (tmp_path / "redis" / "redis.log").exists()


def test_make_up_brings_redis_ray_and_the_controller_up(tmp_path: Path) -> None:
    """The README's `make up`, as `dialer-up --check`: starts everything, reports, stops."""
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "RAY_ADDRESS")}
    env["DIALER_DATA_DIR"] = str(tmp_path)
    env["DIALER_METRICS_ADDRESS"] = "127.0.0.1:0"  # a free port: others may hold 9464
    done = subprocess.run(
        [sys.executable, "-m", "cluster.up", "--check"],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "controller" in done.stdout and "redis" in done.stdout
    assert "metrics" in done.stdout
    assert (tmp_path / "redis" / "appendonly.aof").exists()
