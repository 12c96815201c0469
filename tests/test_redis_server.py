"""The embedded Redis: a real server, data kept across restarts, DNC-friendly settings."""

from __future__ import annotations

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
    assert up_main(["--check", "--no-ray"]) == 0
    assert (tmp_path / "redis" / "redis.log").exists()
