"""Idempotent mutating calls (AIP-155): a retried request with the same request_id gets the
first call's response, and the action runs once.

The first call claims `requests:<method>:<request_id>` with SET NX (a pending marker holding
the request's fingerprint), acts, and replaces the marker with the serialized response for a
day. A concurrent duplicate waits briefly for the first to finish, then gets ABORTED (retry);
a failed call releases its claim, so a retry acts again. A request_id reused with a different
request is INVALID_ARGUMENT.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable
from typing import TypeVar

import msgpack
import redis
from google.protobuf.message import Message

from cluster.errors import InvalidArgument
from cluster.keys import TenantKeys
from gateway.errors import Aborted

DONE_TTL_S = 24 * 3600
PENDING_TTL_S = 300
"""A claim outlives any normal call; after a server crash the request_id is free again then."""
WAIT_FOR_PENDING_S = 5.0
_REQUEST_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")

M = TypeVar("M", bound=Message)


def fingerprint(request: Message) -> bytes:
    """SHA-256 of the request without its request_id (deterministic serialization)."""
    copy = type(request)()
    copy.CopyFrom(request)
    copy.ClearField("request_id")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).digest()


class Idempotency:
    def __init__(self, client: redis.Redis, keys: TenantKeys) -> None:
        self.r = client
        self.keys = keys

    def run(
        self,
        method: str,
        request: Message,
        response_type: type[M],
        action: Callable[[], M],
    ) -> M:
        request_id = str(getattr(request, "request_id", ""))
        if not request_id:
            return action()
        fp = fingerprint(request)
        done = self.claim(method, request_id, fp)
        if done is not None:
            return response_type.FromString(done)
        try:
            response = action()
        except BaseException:
            self.release(method, request_id)
            raise
        self.complete(method, request_id, fp, response.SerializeToString())
        return response

    def claim(self, method: str, request_id: str, fp: bytes) -> bytes | None:
        """None when this call may act (it holds the claim); else the first call's response."""
        if not _REQUEST_ID.match(request_id):
            raise InvalidArgument(
                [("request_id", "1..128 letters, digits or _.:- (a UUID is ideal)")]
            )
        key = self.keys.request(method, request_id)
        deadline = time.monotonic() + WAIT_FOR_PENDING_S
        while True:
            if self.r.set(key, msgpack.packb([fp, None]), nx=True, ex=PENDING_TTL_S):
                return None
            raw = self.r.get(key)
            if raw is None:
                continue  # released or expired between the two calls
            stored_fp, response = msgpack.unpackb(raw)
            if stored_fp != fp:
                raise InvalidArgument([("request_id", "already used for a different request")])
            if response is not None:
                return bytes(response)
            if time.monotonic() > deadline:
                raise Aborted(f"request {request_id} is still in progress; retry later")
            time.sleep(0.05)

    def complete(self, method: str, request_id: str, fp: bytes, response: bytes) -> None:
        self.r.set(
            self.keys.request(method, request_id), msgpack.packb([fp, response]), ex=DONE_TTL_S
        )

    def release(self, method: str, request_id: str) -> None:
        self.r.delete(self.keys.request(method, request_id))
