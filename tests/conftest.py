"""One real Redis per test session (embedded, or REDIS_URL); tests are isolated by key prefix."""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from cluster.batching import batched
from cluster.clock import FakeClock
from cluster.redis_server import EmbeddedRedis
from cluster.state import DialerState, connect

# The engine tests' shared invariant checks report like test asserts do.
pytest.register_assert_rewrite("tests.engine_helpers")


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    if os.environ.get("REDIS_URL"):
        yield os.environ["REDIS_URL"]
        return
    server = EmbeddedRedis(Path(tmp_path_factory.mktemp("redis")), persist=False).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture(scope="session")
def redis_client(redis_url: str) -> Iterator[redis.Redis]:
    client = connect(redis_url)
    yield client
    client.close()


@pytest.fixture
def key_prefix(redis_client: redis.Redis) -> Iterator[str]:
    prefix = f"test-{uuid.uuid4().hex[:10]}"
    yield prefix
    for batch in batched(redis_client.scan_iter(match=f"{prefix}:*", count=1000), 500):
        redis_client.unlink(*batch)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def state(redis_client: redis.Redis, key_prefix: str, clock: FakeClock) -> DialerState:
    return DialerState(redis_client, prefix=key_prefix, clock=clock)


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[None]:
    """One local Ray for the whole session (Ray is slow to start); RAY_ADDRESS to use another."""
    import ray

    ray.init(
        address=os.environ.get("RAY_ADDRESS") or None,
        include_dashboard=False,
        log_to_driver=bool(os.environ.get("DIALER_TEST_RAY_LOGS")),
        configure_logging=False,
    )
    try:
        yield
    finally:
        ray.shutdown()


@pytest.fixture(scope="session")
def promtool() -> str:
    """Path of promtool, fetched into .venv/tools on first use (scripts/promtool.sh).
    DIALER_NO_PROMTOOL=1 skips the tests that need it (CI never sets it)."""
    if os.environ.get("DIALER_NO_PROMTOOL"):
        pytest.skip("DIALER_NO_PROMTOOL is set")
    script = Path(__file__).resolve().parent.parent / "scripts" / "promtool.sh"
    found = subprocess.run([str(script)], capture_output=True, text=True)
    assert found.returncode == 0, f"scripts/promtool.sh failed: {found.stderr}"
    return found.stdout.strip().splitlines()[-1]
