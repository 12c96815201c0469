"""cluster/scripts.py: a script run many times in one round trip."""

from __future__ import annotations

import pytest
import redis

from cluster.scripts import run_pipelined

COUNT_LUA = "return redis.call('INCRBY', KEYS[1], ARGV[1])"


def test_runs_each_call_once_in_order_even_after_the_server_lost_the_script(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    script = redis_client.register_script(COUNT_LUA)
    key = f"{key_prefix}:count"
    assert run_pipelined(redis_client, script, [([key], [1]), ([key], [10])]) == [1, 11]
    redis_client.script_flush()  # as after a restart: every EVALSHA answers NOSCRIPT
    assert run_pipelined(redis_client, script, [([key], [100]), ([key], [1000])]) == [111, 1111]
    assert run_pipelined(redis_client, script, []) == []


def test_a_failing_run_raises_after_the_others_ran(
    redis_client: redis.Redis, key_prefix: str
) -> None:
    script = redis_client.register_script(COUNT_LUA)
    key = f"{key_prefix}:count"
    with pytest.raises(redis.exceptions.ResponseError):
        run_pipelined(redis_client, script, [([key], [1]), ([key], ["not a number"]), ([key], [2])])
    assert int(redis_client.get(key) or 0) == 3
