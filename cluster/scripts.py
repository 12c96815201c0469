"""Running one Lua script many times in a single round trip."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import redis
from redis.commands.core import Script
from redis.exceptions import NoScriptError

Call = tuple[Sequence[Any], Sequence[Any]]
"""(keys, args) of one run of a script."""


def run_pipelined(client: redis.Redis, script: Script, calls: Sequence[Call]) -> list[Any]:
    """Runs `script` once per (keys, args), each run atomic, in one pipelined round trip;
    replies in order, a run's error raised as redis-py would.

    redis-py's Pipeline asks the server `SCRIPT EXISTS` before every execute that holds a
    Script: a second blocking round trip per batch, on the dialer's and the trunk's event
    loops. Here the batch goes out as plain EVALSHA; runs the server answers NOSCRIPT (it
    restarted or was flushed: none of them ran) are sent again after the script is loaded."""
    pipe = client.pipeline(transaction=False)
    for keys, args in calls:
        pipe.evalsha(script.sha, len(keys), *keys, *args)
    replies = pipe.execute(raise_on_error=False)
    missing = [i for i, reply in enumerate(replies) if isinstance(reply, NoScriptError)]
    if missing:
        script.sha = client.script_load(script.script)
        pipe = client.pipeline(transaction=False)
        for i in missing:
            keys, args = calls[i]
            pipe.evalsha(script.sha, len(keys), *keys, *args)
        for i, reply in zip(missing, pipe.execute(raise_on_error=False), strict=True):
            replies[i] = reply
    for reply in replies:
        if isinstance(reply, redis.exceptions.ResponseError):
            raise reply
    return replies
