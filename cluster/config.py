"""Settings read from the environment, with embedded defaults for a single machine."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Settings:
    redis_url: str | None
    """REDIS_URL: an existing Redis (>= 6.2). None starts an embedded server under data_dir."""
    ray_address: str | None
    """RAY_ADDRESS: an existing Ray cluster. None starts a local Ray."""
    data_dir: Path
    """DIALER_DATA_DIR: where the embedded Redis keeps its append-only file. Default ./.data."""
    key_prefix: str
    """DIALER_KEY_PREFIX: first segment of every Redis key. Default "dialer"."""
    default_region: str
    """DIALER_DEFAULT_REGION: region for numbers written without a country code. Default US."""

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None) -> Settings:
        env = dict(os.environ) if env is None else env
        return cls(
            redis_url=env.get("REDIS_URL") or None,
            ray_address=env.get("RAY_ADDRESS") or None,
            data_dir=Path(env.get("DIALER_DATA_DIR") or ".data").resolve(),
            key_prefix=env.get("DIALER_KEY_PREFIX") or "dialer",
            default_region=env.get("DIALER_DEFAULT_REGION") or "US",
        )
